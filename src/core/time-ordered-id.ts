// Time-ordered ids (RFC 9562 §5.7, UUIDv7) for rows written on every ingest: activities, copies
// (counted_ids), receipts (dispositions), batches. A random v4 key puts each insert on a random
// leaf of its primary-key B-tree, so a batch dirties about one page per row once the index
// outgrows the cache; keys that rise with time all land on the rightmost leaves.
//
// Not for secrets: 74 random bits remain, but the first 48 say when the id was made. Tokens,
// signatures and link keys stay with their own generators.

import { HEX_BYTE } from './keyed-hash.js';

/** RFC 9562 §5.7: unix_ts_ms is 48 bits. */
const MAX_UNIX_MS = 2 ** 48 - 1;
/** rand_a (12 bits) and rand_b (62 bits) are drawn from 10 bytes, the version and variant bits overwritten. */
const RANDOM_BYTES = 10;
/** Ids per draw from the CSPRNG: ingest makes two ids per item, hundreds per batch (issue 21). */
const POOL_IDS = 64;
let pool = new Uint8Array(0);
let poolAt = 0;

/** The next 10 unused bytes of a pool filled from the platform's CSPRNG (never handed out twice). */
function randomBytes(): Uint8Array {
  if (poolAt + RANDOM_BYTES > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(RANDOM_BYTES * POOL_IDS));
    poolAt = 0;
  }
  poolAt += RANDOM_BYTES;
  return pool.subarray(poolAt - RANDOM_BYTES, poolAt);
}

/**
 * A UUIDv7 for `now` (Unix ms): the timestamp big-endian in the first 48 bits, version 7, variant
 * `10`, the rest random. Lowercase hex of fixed width, so comparing two ids as text compares their
 * timestamps first: an id made in a later millisecond sorts after. Order within one millisecond
 * is random (RFC 9562 §6.2 monotonicity is not needed: only locality of inserts is wanted).
 * `random` (10 bytes) is for tests; by default it comes from the platform's CSPRNG.
 */
export function timeOrderedId(now: number, random: Uint8Array = randomBytes()): string {
  const ms = Math.floor(now);
  if (!(ms >= 0 && ms <= MAX_UNIX_MS))
    throw new RangeError(`timeOrderedId: ${now} is not a 48-bit Unix ms time`);
  if (random.length !== RANDOM_BYTES)
    throw new RangeError(`timeOrderedId: needs ${RANDOM_BYTES} random bytes`);
  const hex = ms.toString(16).padStart(12, '0');
  const r = (i: number) => HEX_BYTE[random[i] as number] as string;
  // Version 7 in the high nibble of octet 6, variant 10 in the top bits of octet 8.
  const version = HEX_BYTE[0x70 | ((random[0] as number) & 0x0f)] as string;
  const variant = HEX_BYTE[0x80 | ((random[2] as number) & 0x3f)] as string;
  return `${hex.slice(0, 8)}-${hex.slice(8)}-${version}${r(1)}-${variant}${r(3)}-${r(4)}${r(5)}${r(6)}${r(7)}${r(8)}${r(9)}`;
}
