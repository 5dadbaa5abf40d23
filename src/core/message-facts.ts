// Header-first reading of a message: everything the classifier needs, at the cost of the header
// block (plus, for a forward-as-attachment, a byte scan for the MIME boundary and the wrapped
// message's header block) and a sparse sample of the body. The body is never decoded here;
// the edge runs the full MIME parse only for CRM-bound mail (design §2, steps 2 and 5).
import { decodeBase64 } from './base64.js';
import {
  DEFAULT_MAX_HEADER_BYTES,
  decodeEncodedWords,
  type HeaderBlock,
  parseAddressList,
  parseContentType,
  parseMessageIds,
  readHeaderBlock,
} from './headers.js';
import { keyedHashBytes, normaliseAddress, normaliseMessageId } from './keyed-hash.js';
import type { MailAddress } from './types.js';

export type ForwardingVia =
  | 'forward-as-attachment'
  | 'x-forwarded-to'
  | 'x-forwarded-for'
  | 'delivered-to'
  | 'x-original-to'
  | 'resent-to'
  | 'resent-from'
  | 'x-ms-exchange-inbox-rules-loop'
  | 'envelope';

export interface ForwardingCandidate {
  address: string;
  via: ForwardingVia;
}

export interface MessageFacts {
  sizeBytes: number;
  /** Normalised Message-ID (no angle brackets, lower case). */
  messageId?: string;
  /** Decoded subject (of the wrapped message for a forward-as-attachment). */
  subject: string;
  from?: MailAddress;
  sender?: MailAddress;
  replyTo: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  /** Date header as epoch milliseconds. */
  date?: number;
  inReplyTo: string[];
  references: string[];
  threadIndex?: string;
  /** Lower-case media type of the (original) message. */
  contentType: string;
  /** `report-type` parameter of a multipart/report, lower case. */
  reportType?: string;
  /** Auto-Submitted keyword (RFC 3834 §5), lower case. */
  autoSubmitted?: string;
  autoResponseSuppress?: string;
  /** Precedence keyword, lower case. */
  precedence?: string;
  listId?: string;
  listUnsubscribe?: string;
  /** X-Loop values (outer and wrapped message), lower case. */
  xLoop: string[];
  /** Return-Path address; `''` for the null reverse-path `<>`. */
  returnPath?: string;
  /** X-Autoreply / X-Autorespond / X-Auto-Response header value, if present. */
  xAutoreply?: string;
  /** X-Failed-Recipients (Exim and others put it on bounces). */
  xFailedRecipients?: string;
  forwarding: ForwardingCandidate[];
  forwardedAsAttachment: boolean;
  /**
   * For a forward-as-attachment: which message/rfc822 part of the outer message this is (0-based
   * among the message parts), so the full parse can pick the same one.
   */
  wrappedIndex?: number;
  /** For a forward-as-attachment: the wrapped message's byte range `[start, end)` in the raw message. */
  wrappedRange?: [number, number];
  envelope: { from?: string; to?: string };
  /** Cheap content fingerprint: equal for identical messages, different when the content differs. */
  fingerprint: string;
  /** Non-fatal findings. */
  problems: string[];
  /** Set, with a human reason, only when the headers cannot be used. */
  malformed?: string;
  /** Size of the outer header block in bytes. */
  headerBytes: number;
  /** Size of the outer body in bytes. */
  bodyBytes: number;
}

const ZERO_KEY = '00000000000000000000000000000000';
const SAMPLE_EDGE = 4096;
const SAMPLE_STRIDE = 512;
/** Most MIME parts examined while looking for the wrapped message of a forward-as-attachment. */
const MAX_PARTS = 64;
const PART_HEADER_LIMIT = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Fingerprint over from + subject + body size + a sample of the body bytes (first and last 4 KiB,
 * every 512th byte). Trace headers are left out so that a message looping through servers keeps
 * its fingerprint while it collects Received lines.
 */
function fingerprintOf(from: string, subject: string, raw: Uint8Array, bodyOffset: number): string {
  const bodyLength = raw.length - bodyOffset;
  const head = encoder.encode(`${from}\n${subject}\n${bodyLength}\n`);
  const firstEnd = Math.min(raw.length, bodyOffset + SAMPLE_EDGE);
  const lastStart = Math.max(firstEnd, raw.length - SAMPLE_EDGE);
  const strided = Math.ceil(bodyLength / SAMPLE_STRIDE);
  const sample = new Uint8Array(head.length + (firstEnd - bodyOffset) + (raw.length - lastStart) + strided);
  let o = 0;
  sample.set(head, o);
  o += head.length;
  sample.set(raw.subarray(bodyOffset, firstEnd), o);
  o += firstEnd - bodyOffset;
  sample.set(raw.subarray(lastStart), o);
  o += raw.length - lastStart;
  for (let i = bodyOffset; i < raw.length; i += SAMPLE_STRIDE) sample[o++] = raw[i] as number;
  return keyedHashBytes(ZERO_KEY, sample.subarray(0, o));
}

function normaliseEnvelope(envelope: { from?: string; to?: string } | undefined): {
  from?: string;
  to?: string;
} {
  const out: { from?: string; to?: string } = {};
  if (envelope && typeof envelope.from === 'string') out.from = normaliseAddress(envelope.from);
  if (envelope && typeof envelope.to === 'string' && envelope.to.trim() !== '')
    out.to = normaliseAddress(envelope.to);
  return out;
}

function malformedFacts(
  raw: Uint8Array,
  envelope: { from?: string; to?: string },
  reason: string,
): MessageFacts {
  const size = raw instanceof Uint8Array ? raw.length : 0;
  let fingerprint = '0000000000000000';
  try {
    if (raw instanceof Uint8Array) fingerprint = fingerprintOf('', '', raw, 0);
  } catch {
    // keep the placeholder fingerprint
  }
  const env = normaliseEnvelope(envelope);
  return {
    sizeBytes: size,
    subject: '',
    replyTo: [],
    to: [],
    cc: [],
    bcc: [],
    inReplyTo: [],
    references: [],
    contentType: 'text/plain',
    xLoop: [],
    forwarding: env.to ? [{ address: env.to, via: 'envelope' }] : [],
    forwardedAsAttachment: false,
    envelope: env,
    fingerprint,
    problems: [],
    malformed: reason,
    headerBytes: 0,
    bodyBytes: size,
  };
}

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};
// RFC 5322 §4.3 obsolete zones.
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** Parses an RFC 5322 date-time (tolerating obsolete forms) to epoch milliseconds. */
export function parseMailDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m =
    /(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{2}:?\d{2}|[a-z]{1,5})?/i.exec(
      value,
    );
  if (!m) return undefined;
  const day = Number(m[1]);
  const month = MONTHS[(m[2] as string).toLowerCase()];
  let year = Number(m[3]);
  if ((m[3] as string).length <= 2) year += year < 50 ? 2000 : 1900;
  else if ((m[3] as string).length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  const zone = m[7];
  if (zone) {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z) offset = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
    else offset = ZONES[zone.toLowerCase()] ?? 0;
  }
  const t = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  return Number.isFinite(t) ? t : undefined;
}

/** Addresses in a trace header (`X-Forwarded-For: a@x b@y`, `Delivered-To: a@x`, angle forms). */
function traceAddresses(value: string): string[] {
  if (value.includes('<') || value.includes('"')) return parseAddressList(value).map((a) => a.address);
  return value
    .replace(/\([^()]*\)/g, ' ')
    .split(/[\s,;]+/)
    .map((t) => normaliseAddress(t))
    .filter((t) => /^[^@\s]+@[^@\s]+$/.test(t));
}

function addressList(block: HeaderBlock, name: string): MailAddress[] {
  const values = block.getAll(name);
  if (values.length === 0) return [];
  return parseAddressList(values.join(', '));
}

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
function nextDelimiter(
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

interface WrappedMessage {
  block: HeaderBlock;
  /** Byte range of the part's body (the wrapped message, possibly base64) in the raw message. */
  start: number;
  end: number;
}

interface WrappedMessages {
  messages: WrappedMessage[];
  boundaryFound: boolean;
  problem?: string;
}

/** Most wrapped messages taken from one forward (Outlook lets users select many). */
const MAX_WRAPPED = 50;

/** Finds every message/rfc822 part of a multipart body and reads its header block only. */
function findWrappedMessages(
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

function firstMessageId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ids = parseMessageIds(value);
  if (ids[0]) return ids[0];
  const bare = normaliseMessageId(value);
  return bare === '' ? undefined : bare;
}

function keyword(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const k = value
    .split(';')[0]
    ?.replace(/\([^()]*\)/g, '')
    .trim()
    .toLowerCase();
  return k === undefined || k === '' ? undefined : k;
}

export interface ReadFactsOptions {
  maxHeaderBytes?: number;
  /**
   * Whether an address is a mailbox that forwards to this forwarding address (a routed mailbox of
   * its deployment). A message from such a mailbox carrying message/rfc822 parts is a
   * forward-as-attachment whatever its subject (design §2, step 2): each wrapped message is then
   * its own message. Without it, no message is read as a forward-as-attachment.
   */
  isForwardingMailbox?: (address: string) => boolean;
}

/**
 * Reads the facts the classifier needs from a raw message: one entry per message it carries —
 * the message itself, or, for a forward-as-attachment by a forwarding mailbox, each wrapped
 * message in order. Never throws: unusable headers give facts with `malformed` set; an
 * unexpected failure gives `malformed` with its text.
 */
export function readForwardedMessages(
  raw: Uint8Array,
  envelope: { from?: string; to?: string },
  opts?: ReadFactsOptions,
): MessageFacts[] {
  try {
    return readFacts(
      raw,
      envelope,
      opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      opts?.isForwardingMailbox,
    );
  } catch (e) {
    return [
      malformedFacts(raw, envelope, `unreadable message (${e instanceof Error ? e.message : String(e)})`),
    ];
  }
}

/** The first message of `readForwardedMessages` (the message itself, or the first wrapped one). */
export function readMessageFacts(
  raw: Uint8Array,
  envelope: { from?: string; to?: string },
  opts?: ReadFactsOptions,
): MessageFacts {
  return readForwardedMessages(raw, envelope, opts)[0] as MessageFacts;
}

function readFacts(
  raw: Uint8Array,
  envelope: { from?: string; to?: string },
  maxHeaderBytes: number,
  isForwardingMailbox: ((address: string) => boolean) | undefined,
): MessageFacts[] {
  if (!(raw instanceof Uint8Array))
    return [malformedFacts(new Uint8Array(0), envelope, 'message is not bytes')];
  const read = readHeaderBlock(raw, { maxHeaderBytes });
  if (!read.ok) return [malformedFacts(raw, envelope, read.problem)];
  const outer = read.block;
  if (outer.fields.length === 0) {
    return [malformedFacts(raw, envelope, raw.length === 0 ? 'empty message' : 'no header fields')];
  }
  if (outer.invalidLines > outer.fields.length) {
    return [malformedFacts(raw, envelope, 'header block is not readable text (binary data?)')];
  }
  const problems = [...new Set(outer.problems)];
  if (raw.subarray(0, outer.headerBytes).includes(0)) problems.push('NUL bytes in the header block');

  const outerType = parseContentType(outer.get('content-type'));
  let wrapped: WrappedMessage[] = [];
  if (outerType.type.startsWith('multipart/')) {
    const boundary = outerType.params.boundary;
    if (!boundary) {
      problems.push('broken MIME boundary: multipart message without a boundary parameter');
    } else if (outerType.type === 'multipart/mixed') {
      const found = findWrappedMessages(raw, outer.bodyOffset, boundary, maxHeaderBytes);
      if (!found.boundaryFound) problems.push('broken MIME boundary: the boundary never occurs in the body');
      if (found.problem) problems.push(found.problem);
      const forwarder = parseAddressList(outer.get('from') ?? '')[0]?.address;
      if (found.messages.length > 0 && forwarder && isForwardingMailbox?.(forwarder))
        wrapped = found.messages;
    } else if (!nextDelimiter(raw, outer.bodyOffset, encoder.encode(`--${boundary}`))) {
      problems.push('broken MIME boundary: the boundary never occurs in the body');
    }
  }
  if (wrapped.length === 0) return [factsOf(raw, envelope, outer, outer, outerType, problems)];
  return wrapped.map((w, n) =>
    factsOf(raw, envelope, outer, w.block, outerType, problems, { ...w, index: n }),
  );
}

/** The facts of one message: the outer one, or a wrapped one (`part` set) of a forward-as-attachment. */
function factsOf(
  raw: Uint8Array,
  envelope: { from?: string; to?: string },
  outer: HeaderBlock,
  source: HeaderBlock,
  outerType: ReturnType<typeof parseContentType>,
  outerProblems: string[],
  part?: WrappedMessage & { index: number },
): MessageFacts {
  const problems = [...outerProblems];
  const forwardedAsAttachment = part !== undefined;
  const h = source;
  const contentType = forwardedAsAttachment ? parseContentType(h.get('content-type')) : outerType;
  const subject = decodeEncodedWords(h.get('subject') ?? '');
  const from = parseAddressList(h.get('from') ?? '')[0];
  const messageId = firstMessageId(h.get('message-id'));
  if (!messageId) problems.push('missing Message-ID');
  if (!from) problems.push('missing From');

  const env = normaliseEnvelope(envelope);
  const forwarding: ForwardingCandidate[] = [];
  const seen = new Set<string>();
  const addCandidate = (address: string, via: ForwardingVia): void => {
    if (address === '' || seen.has(address)) return;
    seen.add(address);
    forwarding.push({ address, via });
  };
  if (forwardedAsAttachment) {
    const forwarder = parseAddressList(outer.get('from') ?? '')[0];
    if (forwarder) addCandidate(forwarder.address, 'forward-as-attachment');
  }
  const traceSources = forwardedAsAttachment ? [outer, h] : [outer];
  const traceHeaders: Array<[string, ForwardingVia]> = [
    ['x-forwarded-to', 'x-forwarded-to'],
    ['x-forwarded-for', 'x-forwarded-for'],
    ['delivered-to', 'delivered-to'],
    ['x-original-to', 'x-original-to'],
    ['resent-to', 'resent-to'],
    ['resent-from', 'resent-from'],
    // Exchange / Microsoft 365 stamp the mailbox whose inbox rule redirected or forwarded the message.
    ['x-ms-exchange-inbox-rules-loop', 'x-ms-exchange-inbox-rules-loop'],
  ];
  for (const [name, via] of traceHeaders) {
    for (const block of traceSources)
      for (const v of block.getAll(name)) for (const a of traceAddresses(v)) addCandidate(a, via);
  }
  if (env.to) addCandidate(env.to, 'envelope');

  const xLoop = [
    ...new Set([...outer.getAll('x-loop'), ...(forwardedAsAttachment ? h.getAll('x-loop') : [])]),
  ]
    .map((v) => (v.includes('@') ? normaliseAddress(v) : v.trim().toLowerCase()))
    .filter((v) => v !== '');

  const returnPathRaw = h.get('return-path');
  const returnPath =
    returnPathRaw === undefined
      ? undefined
      : /^<?\s*>?$/.test(returnPathRaw.replace(/\([^()]*\)/g, '').trim())
        ? ''
        : normaliseAddress(returnPathRaw);

  const facts: MessageFacts = {
    sizeBytes: raw.length,
    subject,
    replyTo: addressList(h, 'reply-to'),
    to: addressList(h, 'to'),
    cc: addressList(h, 'cc'),
    bcc: addressList(h, 'bcc'),
    inReplyTo: parseMessageIds(h.getAll('in-reply-to').join(' ')),
    references: parseMessageIds(h.getAll('references').join(' ')),
    contentType: contentType.type,
    xLoop,
    forwarding,
    forwardedAsAttachment,
    envelope: env,
    // A wrapped message's fingerprint covers its own bytes: two messages forwarded together differ.
    fingerprint: part
      ? fingerprintOf(from?.address ?? '', subject, raw.subarray(part.start, part.end), 0)
      : fingerprintOf(from?.address ?? '', subject, raw, outer.bodyOffset),
    problems,
    headerBytes: outer.headerBytes,
    bodyBytes: raw.length - outer.bodyOffset,
  };
  if (messageId) facts.messageId = messageId;
  if (part) {
    facts.wrappedIndex = part.index;
    facts.wrappedRange = [part.start, part.end];
  }
  if (from) facts.from = from;
  const sender = parseAddressList(h.get('sender') ?? '')[0];
  if (sender) facts.sender = sender;
  const date = parseMailDate(h.get('date'));
  if (date !== undefined) facts.date = date;
  const threadIndex = h.get('thread-index')?.replace(/\s+/g, '');
  if (threadIndex) facts.threadIndex = threadIndex;
  const reportType = contentType.params['report-type']?.trim().toLowerCase();
  if (contentType.type === 'multipart/report' && reportType) facts.reportType = reportType;
  const autoSubmitted = keyword(h.get('auto-submitted'));
  if (autoSubmitted) facts.autoSubmitted = autoSubmitted;
  const suppress = h.get('x-auto-response-suppress');
  if (suppress !== undefined) facts.autoResponseSuppress = suppress;
  const precedence = keyword(h.get('precedence'));
  if (precedence) facts.precedence = precedence;
  const listId = h.get('list-id');
  if (listId !== undefined) facts.listId = listId;
  const listUnsubscribe = h.get('list-unsubscribe');
  if (listUnsubscribe !== undefined) facts.listUnsubscribe = listUnsubscribe;
  if (returnPath !== undefined) facts.returnPath = returnPath;
  const xAutoreply = h.get('x-autoreply') ?? h.get('x-autorespond') ?? h.get('x-auto-response');
  if (xAutoreply !== undefined) facts.xAutoreply = xAutoreply;
  const failed = h.get('x-failed-recipients');
  if (failed !== undefined) facts.xFailedRecipients = failed;
  return facts;
}
