// MIME boundary scanning over raw bytes (RFC 2046 §5.1.1): delimiter lines, and the header blocks
// of the message/rfc822 parts of a multipart body, without decoding any part.
import { decodeBase64 } from './base64.js';
import { type HeaderBlock, parseContentType, readHeaderBlock } from './headers.js';

const encoder = new TextEncoder();
/** Most MIME parts examined while looking for the wrapped message of a forward-as-attachment. */
const MAX_PARTS = 64;
const PART_HEADER_LIMIT = 64 * 1024;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters; a longer one is not MIME (`malformed`). */
export const MAX_BOUNDARY_LENGTH = 70;
/**
 * Base64 text read per step while looking for the end of a base64-encoded wrapped message's
 * header block: the window grows by doubling, so a small header costs a small decode.
 */
const BASE64_FIRST_WINDOW = 16 * 1024;

/** Why a Content-Type's boundary makes the message unreadable as MIME, or undefined. */
export function boundaryProblem(contentType: {
  type: string;
  params: Record<string, string>;
}): string | undefined {
  const boundary = contentType.params.boundary;
  if (!contentType.type.startsWith('multipart/') || boundary === undefined) return undefined;
  if (boundary.length > MAX_BOUNDARY_LENGTH)
    return `MIME boundary of ${boundary.length} characters (RFC 2046 allows ${MAX_BOUNDARY_LENGTH})`;
  return undefined;
}

/**
 * Next MIME delimiter line (`--boundary` at the start of a line, RFC 2046 §5.1.1) at or after
 * `from` (itself a line start). Returns the offset just past the delimiter line, whether it is the
 * close delimiter, or undefined. Only line starts are compared, so the scan reads each byte a
 * bounded number of times whatever the boundary and the body (a search for every occurrence of
 * `--boundary` made a body of dashes cost body × boundary length).
 */
export function nextDelimiter(
  raw: Uint8Array,
  from: number,
  dash: Uint8Array,
): { at: number; after: number; close: boolean } | undefined {
  const n = raw.length;
  const m = dash.length;
  let i = from;
  while (i < n) {
    // Here `i` is a line start.
    let k = 0;
    while (k < m && i + k < n && raw[i + k] === dash[k]) k++;
    if (k === m) {
      let j = i + m;
      const close = raw[j] === 45 && raw[j + 1] === 45;
      if (close) j += 2;
      // The boundary must not continue (`--abc` is not `--abcd`): only whitespace may follow.
      while (j < n && (raw[j] === 32 || raw[j] === 9)) j++;
      if (j >= n || raw[j] === 13 || raw[j] === 10) {
        if (raw[j] === 13) j++;
        if (raw[j] === 10) j++;
        return { at: i, after: j, close };
      }
      i = j;
    } else {
      i += k;
    }
    // On to the next line start: short lines by a plain loop (a native search per line costs more
    // than a short line's bytes), the rest of a long line by the native search.
    const near = Math.min(n, i + 256);
    while (i < near && raw[i] !== 10) i++;
    if (i === near && i < n) {
      const nl = raw.indexOf(10, i);
      i = nl < 0 ? n : nl;
    }
    i++;
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
  /** Header bytes read here (part headers and wrapped header blocks), charged to the message's budget. */
  headerBytesRead: number;
  /** The message's header budget ran out before the wrapped messages were read. */
  overBudget?: true;
}

/** Most wrapped messages taken from one forward (Outlook lets users select many). */
const MAX_WRAPPED = 50;

/**
 * Finds every message/rfc822 part of a multipart body and reads its header block only. Every
 * header byte read (the parts' and the wrapped messages') comes out of `headerBudget`, the bytes
 * left of the message's one header budget: running out is `overBudget`, not more reading.
 */
export function findWrappedMessages(
  raw: Uint8Array,
  bodyOffset: number,
  boundary: string,
  maxHeaderBytes: number,
  headerBudget: number,
): WrappedMessages {
  const dash = encoder.encode(`--${boundary}`);
  let delimiter = nextDelimiter(raw, bodyOffset, dash);
  if (!delimiter) return { messages: [], boundaryFound: false, headerBytesRead: 0 };
  const messages: WrappedMessage[] = [];
  let read = 0;
  const overBudget = (): WrappedMessages => ({
    messages,
    boundaryFound: true,
    headerBytesRead: read,
    overBudget: true,
  });
  for (let part = 0; part < MAX_PARTS && delimiter && !delimiter.close; part++) {
    const partLimit = Math.min(PART_HEADER_LIMIT, headerBudget - read);
    const partHeaders = readHeaderBlock(raw, { offset: delimiter.after, maxHeaderBytes: partLimit });
    if (!partHeaders.ok) {
      if (partLimit < PART_HEADER_LIMIT) return overBudget();
      return {
        messages,
        boundaryFound: true,
        headerBytesRead: read,
        problem: 'MIME part header block too large',
      };
    }
    const block = partHeaders.block;
    read += block.bodyOffset - delimiter.after;
    const next = nextDelimiter(raw, block.bodyOffset, dash);
    const type = parseContentType(block.get('content-type')).type;
    if ((type === 'message/rfc822' || type === 'message/global') && messages.length < MAX_WRAPPED) {
      const start = block.bodyOffset;
      // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      let end = next ? next.at : raw.length;
      if (end > start && raw[end - 1] === 10) end--;
      if (end > start && raw[end - 1] === 13) end--;
      const limit = Math.min(maxHeaderBytes, headerBudget - read);
      const encoding = (block.get('content-transfer-encoding') ?? '').trim().toLowerCase();
      const inner =
        encoding === 'base64'
          ? readBase64HeaderBlock(raw.subarray(start, end), limit)
          : readHeaderBlock(raw, { offset: start, maxHeaderBytes: limit });
      if (!inner.ok) {
        if (limit < maxHeaderBytes) return overBudget();
        return {
          messages,
          boundaryFound: true,
          headerBytesRead: read,
          problem: `wrapped message: ${inner.problem}`,
        };
      }
      read += encoding === 'base64' ? inner.block.bodyOffset : inner.block.bodyOffset - start;
      if (inner.block.fields.length > 0) messages.push({ block: inner.block, start, end });
    }
    delimiter = next;
  }
  return { messages, boundaryFound: true, headerBytesRead: read };
}

/** Whether `bytes` hold an empty line (LF LF or LF CR LF): the end of a header block. */
function hasEmptyLine(bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10 || (bytes[i + 1] === 13 && bytes[i + 2] === 10)) return true;
  }
  return false;
}

/**
 * The header block of a base64-encoded wrapped message. RFC 2046 §5.2.1 forbids the encoding, but
 * some clients use it: only as much is decoded as the header block needs, in doubling windows
 * (twice the final window's decoding at most), and the block is read once.
 */
function readBase64HeaderBlock(
  encoded: Uint8Array,
  maxHeaderBytes: number,
): ReturnType<typeof readHeaderBlock> {
  // Base64 is 4/3 of its bytes, plus a line break every 76 characters (RFC 2045 §6.8): 1.4× covers both.
  const cap = Math.min(encoded.length, Math.ceil(maxHeaderBytes * 1.4) + 8192);
  let window = Math.min(cap, BASE64_FIRST_WINDOW);
  let decoded = decodeBase64(encoded.subarray(0, window));
  while (window < cap && !hasEmptyLine(decoded)) {
    window = Math.min(cap, window * 2);
    decoded = decodeBase64(encoded.subarray(0, window));
  }
  return readHeaderBlock(decoded, { maxHeaderBytes });
}
