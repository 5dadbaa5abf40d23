// The forwarding-mailbox candidates of a message (design §4), in the order they are tried: the
// forwarder of a forward-as-attachment first, then the trace headers, then the envelope.
import type { ForwardingCandidate, ForwardingVia } from './facts.js';
import { type HeaderBlock, parseAddressList } from './headers.js';
import { normaliseAddress } from './keyed-hash.js';

export const TRACE_HEADERS: Array<[string, ForwardingVia]> = [
  ['x-forwarded-to', 'x-forwarded-to'],
  ['x-forwarded-for', 'x-forwarded-for'],
  ['delivered-to', 'delivered-to'],
  ['x-original-to', 'x-original-to'],
  ['resent-to', 'resent-to'],
  ['resent-from', 'resent-from'],
  // Exchange / Microsoft 365 stamp the mailbox whose inbox rule redirected or forwarded the message.
  ['x-ms-exchange-inbox-rules-loop', 'x-ms-exchange-inbox-rules-loop'],
];

/**
 * Fields the delivering MTA prepends (RFC 9228 `Delivered-To`; Postfix's `X-Original-To`): the
 * topmost one is the customer's server's, any below it may be the sender's own.
 */
const DELIVERY_HEADERS: Array<[string, ForwardingVia]> = [
  ['delivered-to', 'delivered-to'],
  ['x-original-to', 'x-original-to'],
];

/**
 * What the customer's own MTAs wrote about who forwarded this copy, strongest first: the first
 * address of the topmost `Delivered-To` and of the topmost `X-Original-To` of the outer header
 * block, then the (normalised) envelope sender — the forwarding mailbox itself when its server
 * forwards or submits as the mailbox (Exchange forwarding, Sieve redirect from the recipient, a
 * forward-as-attachment sent by the user). An SRS-rewritten sender names no mailbox and is no
 * evidence.
 */
export function deliveryEvidence(
  outer: HeaderBlock,
  envelopeFrom: string | undefined,
): ForwardingCandidate[] {
  const evidence: ForwardingCandidate[] = [];
  for (const [name, via] of DELIVERY_HEADERS) {
    const top = outer.get(name);
    const address = top === undefined ? undefined : traceAddresses(top)[0];
    if (address) evidence.push({ address, via });
  }
  if (envelopeFrom) evidence.push({ address: envelopeFrom, via: 'envelope-from' });
  return evidence;
}

/** Addresses in a trace header (`X-Forwarded-For: a@x b@y`, `Delivered-To: a@x`, angle forms). */
export function traceAddresses(value: string): string[] {
  if (value.includes('<') || value.includes('"')) return parseAddressList(value).map((a) => a.address);
  return value
    .replace(/\([^()]*\)/g, ' ')
    .split(/[\s,;]+/)
    .map((t) => normaliseAddress(t))
    .filter((t) => /^[^@\s]+@[^@\s]+$/.test(t));
}

/**
 * The candidates of a message whose header block is `outer`; `wrapped` is the wrapped message of a
 * forward-as-attachment (its forwarder, the outer `From`, comes first), `envelopeTo` the normalised
 * envelope recipient (last).
 */
export function forwardingCandidates(
  outer: HeaderBlock,
  wrapped: HeaderBlock | undefined,
  envelopeTo: string | undefined,
): ForwardingCandidate[] {
  const forwarding: ForwardingCandidate[] = [];
  const seen = new Set<string>();
  const addCandidate = (address: string, via: ForwardingVia): void => {
    if (address === '' || seen.has(address)) return;
    seen.add(address);
    forwarding.push({ address, via });
  };
  if (wrapped) {
    const forwarder = parseAddressList(outer.get('from') ?? '')[0];
    if (forwarder) addCandidate(forwarder.address, 'forward-as-attachment');
  }
  const traceSources = wrapped ? [outer, wrapped] : [outer];
  for (const [name, via] of TRACE_HEADERS) {
    for (const block of traceSources)
      for (const v of block.getAll(name)) for (const a of traceAddresses(v)) addCandidate(a, via);
  }
  if (envelopeTo) addCandidate(envelopeTo, 'envelope');
  return forwarding;
}
