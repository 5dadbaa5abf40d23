// The envelope recipients of one message, as every edge entry point takes them (issue 19, item 4).
import { normaliseAddress } from './keyed-hash.js';

/**
 * Distinct envelope recipients one message is processed for. RFC 5321 §4.5.3.1.8: a server must
 * take at least 100 recipients per message (and may answer `452` beyond); the edge processes a
 * message once per recipient, so this bounds the work one message can ask for.
 */
export const MAX_RECIPIENTS_PER_MESSAGE = 100;

/**
 * The recipients, de-duplicated after the normalisation the forwarding-address match uses
 * (`normaliseAddress`: case, angle brackets, `mailto:`, whitespace, a trailing dot), so five
 * spellings of one address are one recipient; the first spelling is kept. Blank values are dropped.
 */
export function distinctRecipients(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const value of values) {
    if (value.trim() === '') continue;
    const key = normaliseAddress(value);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(value);
  }
  return out;
}
