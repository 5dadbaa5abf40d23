// Header-first reading of a message: everything the classifier needs, at the cost of the header
// block (plus, for a forward-as-attachment, a byte scan for the MIME boundary and the wrapped
// message's header block) and a sparse sample of the body. The body is never decoded here;
// the edge runs the full MIME parse only for CRM-bound mail (design §2, steps 2 and 5).
// This file assembles the parts: facts.ts (the result type), headers.ts (header blocks),
// forward-as-attachment.ts + mime-boundary.ts (the wrapped messages), forwarding.ts (forwarding
// mailbox candidates), mail-date.ts (Date), fingerprint.ts (the loop fingerprint).
import type { MessageFacts } from './facts.js';
import { fingerprintOf } from './fingerprint.js';
import { forwardedMessages } from './forward-as-attachment.js';
import { deliveryEvidence, forwardingCandidates } from './forwarding.js';
import {
  addressList,
  DEFAULT_MAX_HEADER_BYTES,
  decodeEncodedWords,
  type HeaderBlock,
  MAX_MESSAGE_HEADER_BYTES,
  parseAddressList,
  parseContentType,
  parseMessageIds,
  readHeaderBlock,
} from './headers.js';
import { normaliseAddress, normaliseMessageId } from './keyed-hash.js';
import { parseMailDate } from './mail-date.js';
import { boundaryProblem, type WrappedMessage } from './mime-boundary.js';

export type { ForwardingCandidate, ForwardingVia, MessageFacts } from './facts.js';
export { parseMailDate };

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
    deliveredBy: env.from ? [{ address: env.from, via: 'envelope-from' }] : [],
    forwardedAsAttachment: false,
    envelope: env,
    fingerprint,
    problems: [],
    malformed: reason,
    headerBytes: 0,
    bodyBytes: size,
  };
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
  // A forward-as-attachment is its outer From's only when the customer's servers say that mailbox
  // sent this copy (docs/decisions.md, "Who forwarded"): anyone can write a colleague's From.
  const delivered = deliveryEvidence(outer, normaliseEnvelope(envelope).from);
  const forwarder = isForwardingMailbox
    ? delivered.find((e) => isForwardingMailbox(e.address))?.address
    : undefined;
  const {
    wrapped,
    problems: mimeProblems,
    malformed,
  } = forwardedMessages(
    raw,
    outer,
    outerType,
    maxHeaderBytes,
    MAX_MESSAGE_HEADER_BYTES - outer.bodyOffset,
    forwarder === undefined ? undefined : (address) => address === forwarder,
  );
  if (malformed) return [malformedFacts(raw, envelope, malformed)];
  problems.push(...mimeProblems);
  if (wrapped.length === 0) return [factsOf(raw, envelope, outer, outer, outerType, problems, delivered)];
  return wrapped.map((w, n) =>
    factsOf(raw, envelope, outer, w.block, outerType, problems, delivered, { ...w, index: n }),
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
  deliveredBy: MessageFacts['deliveredBy'],
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
  const forwarding = forwardingCandidates(outer, forwardedAsAttachment ? h : undefined, env.to);

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
    deliveredBy,
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
  // A wrapped message's own boundary is read by the full parse if it is tracked: the same rule.
  const boundary = part ? boundaryProblem(contentType) : undefined;
  if (boundary) facts.malformed = boundary;
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
