// Time-ordered ids (RFC 9562 §5.7, UUIDv7) for rows written on every ingest: activities, copies
// (counted_ids), receipts (dispositions), batches. A random v4 key puts each insert on a random
// leaf of its primary-key B-tree, so a batch dirties about one page per row once the index
// outgrows the cache; keys that rise with time all land on the rightmost leaves.
//
// Not for secrets: 74 random bits remain, but the first 48 say when the id was made. Tokens,
// signatures and link keys stay with their own generators.

/** RFC 9562 §5.7: unix_ts_ms is 48 bits. */
const MAX_UNIX_MS = 2 ** 48 - 1;
/** rand_a (12 bits) and rand_b (62 bits) are drawn from 10 bytes, the version and variant bits overwritten. */
const RANDOM_BYTES = 10;

/**
 * A UUIDv7 for `now` (Unix ms): the timestamp big-endian in the first 48 bits, version 7, variant
 * `10`, the rest random. Lowercase hex of fixed width, so comparing two ids as text compares their
 * timestamps first: an id made in a later millisecond sorts after. Order within one millisecond
 * is random (RFC 9562 §6.2 monotonicity is not needed: only locality of inserts is wanted).
 * `random` (10 bytes) is for tests; by default it comes from the platform's CSPRNG.
 */
export function timeOrderedId(
  now: number,
  random: Uint8Array = crypto.getRandomValues(new Uint8Array(RANDOM_BYTES)),
): string {
  const ms = Math.floor(now);
  if (!(ms >= 0 && ms <= MAX_UNIX_MS))
    throw new RangeError(`timeOrderedId: ${now} is not a 48-bit Unix ms time`);
  if (random.length !== RANDOM_BYTES)
    throw new RangeError(`timeOrderedId: needs ${RANDOM_BYTES} random bytes`);
  const hex = ms.toString(16).padStart(12, '0');
  let rest = '';
  for (let i = 0; i < RANDOM_BYTES; i++) {
    let b = random[i] as number;
    if (i === 0) b = 0x70 | (b & 0x0f); // version 7 in the high nibble of octet 6
    if (i === 2) b = 0x80 | (b & 0x3f); // variant 10 in the top bits of octet 8
    rest += b.toString(16).padStart(2, '0');
  }
  return `${hex.slice(0, 8)}-${hex.slice(8)}-${rest.slice(0, 4)}-${rest.slice(4, 8)}-${rest.slice(8)}`;
}
