// MIME boundary scanning over raw bytes (RFC 2046 §5.1.1): delimiter lines, and the header blocks
// of the message/rfc822 parts of a multipart body, without decoding any part.
import { decodeBase64 } from './base64.js';
import { parseContentType, readHeaderBlock, type HeaderBlock } from './headers.js';

const encoder = new TextEncoder();
/** Most MIME parts examined while looking for the wrapped message of a forward-as-attachment. */
const MAX_PARTS = 64;
const PART_HEADER_LIMIT = 64 * 1024;

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0] as number;
  const last = haystack.length - needle.length;
  let i = haystack.indexOf(first, from);
  while (i >= 0 && i <= last) {
    let k = 1;
    while (k < needle.length && haystack[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
    i = haystack.indexOf(first, i + 1);
  }
  return -1;
}

/**
 * Next MIME delimiter line (`--boundary` at the start of a line, RFC 2046 §5.1.1) at or after
 * `from`. Returns the offset just past the delimiter line, whether it is the close delimiter,
 * or undefined.
 */
export function nextDelimiter(
  raw: Uint8Array,
  from: number,
  dash: Uint8Array,
): { at: number; after: number; close: boolean } | undefined {
  let at = from;
  while (at < raw.length) {
    const i = indexOfBytes(raw, dash, at);
    if (i < 0) return undefined;
    at = i + 1;
    if (i > from && raw[i - 1] !== 10) continue;
    let j = i + dash.length;
    const close = raw[j] === 45 && raw[j + 1] === 45;
    if (close) j += 2;
    // The boundary must not continue (`--abc` is not `--abcd`): only whitespace may follow.
    while (j < raw.length && (raw[j] === 32 || raw[j] === 9)) j++;
    if (j < raw.length && raw[j] !== 13 && raw[j] !== 10) continue;
    if (raw[j] === 13) j++;
    if (raw[j] === 10) j++;
    return { at: i, after: j, close };
  }
  return undefined;
}

export interface WrappedMessage {
  block: HeaderBlock;
  /** Byte range of the part's body (the wrapped message, possibly base64) in the raw message. */
  start: number;
  end: number;
}

export interface WrappedMessages {
  messages: WrappedMessage[];
  boundaryFound: boolean;
  problem?: string;
}

/** Most wrapped messages taken from one forward (Outlook lets users select many). */
const MAX_WRAPPED = 50;

/** Finds every message/rfc822 part of a multipart body and reads its header block only. */
export function findWrappedMessages(
  raw: Uint8Array,
  bodyOffset: number,
  boundary: string,
  maxHeaderBytes: number,
): WrappedMessages {
  const dash = encoder.encode(`--${boundary}`);
  let delimiter = nextDelimiter(raw, bodyOffset, dash);
  if (!delimiter) return { messages: [], boundaryFound: false };
  const messages: WrappedMessage[] = [];
  for (let part = 0; part < MAX_PARTS && delimiter && !delimiter.close; part++) {
    const partHeaders = readHeaderBlock(raw, { offset: delimiter.after, maxHeaderBytes: PART_HEADER_LIMIT });
    if (!partHeaders.ok)
      return { messages, boundaryFound: true, problem: 'MIME part header block too large' };
    const block = partHeaders.block;
    const next = nextDelimiter(raw, block.bodyOffset, dash);
    const type = parseContentType(block.get('content-type')).type;
    if ((type === 'message/rfc822' || type === 'message/global') && messages.length < MAX_WRAPPED) {
      const start = block.bodyOffset;
      // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      let end = next ? next.at : raw.length;
      if (end > start && raw[end - 1] === 10) end--;
      if (end > start && raw[end - 1] === 13) end--;
      const encoding = (block.get('content-transfer-encoding') ?? '').trim().toLowerCase();
      if (encoding === 'base64') {
        // RFC 2046 §5.2.1 forbids it, but some clients base64 the attachment anyway: decode
        // only as much as a header block can span.
        const window = raw.subarray(start, Math.min(end, start + Math.ceil(maxHeaderBytes * 1.4) + 8192));
        const inner = readHeaderBlock(decodeBase64(window), { maxHeaderBytes });
        if (!inner.ok) return { messages, boundaryFound: true, problem: `wrapped message: ${inner.problem}` };
        if (inner.block.fields.length > 0) messages.push({ block: inner.block, start, end });
      } else {
        const inner = readHeaderBlock(raw, { offset: start, maxHeaderBytes });
        if (!inner.ok) return { messages, boundaryFound: true, problem: `wrapped message: ${inner.problem}` };
        if (inner.block.fields.length > 0) messages.push({ block: inner.block, start, end });
      }
    }
    delimiter = next;
  }
  return { messages, boundaryFound: true };
}
