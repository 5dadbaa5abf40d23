// A filter delta: the keys whose membership changed since a filter (or one shard of it) was built,
// each with the tag it has now (docs/decisions.md, "Snapshots by change"). A one-record change to
// a 10 M-record CRM then costs each region the bytes of the change (9 bytes a key, plus the
// manifest), not a rebuilt 30 KB shard: a lookup asks the delta first and the base filter only
// for a key the delta does not name. Deltas are exact (whole 64-bit keyed hashes, no
// fingerprints), so a key added since the base is always found: no false negatives (design §2).
//
// Layout (little-endian):
//   0  'B' 'F' 'X'          magic
//   3  u8 format (1)
//   4  u32 count
//   8  hi[count] u32, lo[count] u32, tags[count] u8
// Keys strictly increasing by (hi, lo), unsigned. Tag 0: no longer a member. An untagged filter's
// delta uses tag 1 for "a member".

const MAGIC = [0x42, 0x46, 0x58];
const FORMAT = 1;
const HEADER = 8;
/** Bytes a key costs in a delta (two u32 words and a tag byte). */
export const DELTA_ENTRY_BYTES = 9;

/** Keys and tags as parallel arrays, sorted by (hi, lo) unsigned, each key once. */
export interface DeltaEntries {
  hi: Uint32Array;
  lo: Uint32Array;
  tags: Uint8Array;
}

function compareKeys(ah: number, al: number, bh: number, bl: number): number {
  return ah !== bh ? (ah >>> 0) - (bh >>> 0) : (al >>> 0) - (bl >>> 0);
}

/** Encodes sorted, distinct entries (throws on unsorted or repeated keys: a caller's bug). */
export function encodeFilterDelta(e: DeltaEntries): Uint8Array {
  const n = e.hi.length;
  if (e.lo.length !== n || e.tags.length !== n) throw new Error('hi, lo and tags must have the same length');
  const out = new Uint8Array(HEADER + n * DELTA_ENTRY_BYTES);
  out.set(MAGIC, 0);
  out[3] = FORMAT;
  const view = new DataView(out.buffer);
  view.setUint32(4, n, true);
  for (let i = 0; i < n; i++) {
    if (
      i > 0 &&
      compareKeys(e.hi[i - 1] as number, e.lo[i - 1] as number, e.hi[i] as number, e.lo[i] as number) >= 0
    )
      throw new Error('filter delta keys must be strictly increasing');
    view.setUint32(HEADER + 4 * i, e.hi[i] as number, true);
    view.setUint32(HEADER + 4 * n + 4 * i, e.lo[i] as number, true);
    out[HEADER + 8 * n + i] = e.tags[i] as number;
  }
  return out;
}

const decoded = new WeakMap<Uint8Array, DeltaEntries>();

/** Why `bytes` are not a well-formed delta, or undefined when they are. */
export function validateFilterDelta(bytes: Uint8Array): string | undefined {
  if (bytes.length < HEADER) return 'shorter than its header';
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) return 'bad magic';
  if (bytes[3] !== FORMAT) return `unsupported format ${bytes[3]}`;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(4, true);
  if (bytes.length !== HEADER + n * DELTA_ENTRY_BYTES) return 'length does not match its key count';
  const e = entriesOf(bytes, n);
  for (let i = 1; i < n; i++)
    if (compareKeys(e.hi[i - 1] as number, e.lo[i - 1] as number, e.hi[i] as number, e.lo[i] as number) >= 0)
      return 'keys are not strictly increasing';
  for (let i = 0; i < n; i++) if ((e.tags[i] as number) > 3) return 'tag out of range';
  return undefined;
}

function entriesOf(bytes: Uint8Array, n: number): DeltaEntries {
  const cached = decoded.get(bytes);
  if (cached) return cached;
  // Copied out once: a part's bytes are not 4-byte aligned in general.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = view.getUint32(HEADER + 4 * i, true);
    lo[i] = view.getUint32(HEADER + 4 * n + 4 * i, true);
  }
  const e = { hi, lo, tags: bytes.subarray(HEADER + 8 * n, HEADER + 9 * n) };
  decoded.set(bytes, e);
  return e;
}

/** The entries of a delta (decoded once per delta; throws on a malformed one). */
export function filterDeltaEntries(bytes: Uint8Array): DeltaEntries {
  const problem = validateFilterDelta(bytes);
  if (problem) throw new Error(`filter delta is malformed: ${problem}`);
  return entriesOf(bytes, (bytes.length - HEADER) / DELTA_ENTRY_BYTES);
}

/** The tag the delta gives `key` (0: removed), or undefined when the delta does not name it. */
export function filterDeltaTag(bytes: Uint8Array, key: [number, number]): number | undefined {
  const e = entriesOf(bytes, (bytes.length - HEADER) / DELTA_ENTRY_BYTES);
  const h = key[0] >>> 0;
  const l = key[1] >>> 0;
  let a = 0;
  let b = e.hi.length - 1;
  while (a <= b) {
    const m = (a + b) >>> 1;
    const c = compareKeys(e.hi[m] as number, e.lo[m] as number, h, l);
    if (c === 0) return e.tags[m] as number;
    if (c < 0) a = m + 1;
    else b = m - 1;
  }
  return undefined;
}

/**
 * Sorts keys by (hi, lo) and merges repeated keys by OR-ing their tags (an address held by several
 * records), dropping tag-0 keys: the member set a filter is built from, in delta order.
 */
export function sortedMembers(
  hi: ArrayLike<number>,
  lo: ArrayLike<number>,
  tags: ArrayLike<number>,
): DeltaEntries {
  const order = Array.from({ length: hi.length }, (_, i) => i).sort((x, y) =>
    compareKeys(hi[x] as number, lo[x] as number, hi[y] as number, lo[y] as number),
  );
  const oh: number[] = [];
  const ol: number[] = [];
  const ot: number[] = [];
  for (const i of order) {
    const t = tags[i] as number;
    if (!t) continue;
    const k = oh.length - 1;
    if (k >= 0 && oh[k] === (hi[i] as number) >>> 0 && ol[k] === (lo[i] as number) >>> 0)
      ot[k] = (ot[k] as number) | t;
    else {
      oh.push((hi[i] as number) >>> 0);
      ol.push((lo[i] as number) >>> 0);
      ot.push(t);
    }
  }
  return { hi: Uint32Array.from(oh), lo: Uint32Array.from(ol), tags: Uint8Array.from(ot) };
}

/**
 * What turns member set `base` into member set `now` (both sorted and distinct, as
 * {@link sortedMembers} gives them): every key added or whose tag changed, with its tag now, and
 * every key removed, with tag 0. A lookup that asks this delta first and `base`'s filter second
 * answers for `now`.
 */
export function diffMembers(base: DeltaEntries, now: DeltaEntries): DeltaEntries {
  const oh: number[] = [];
  const ol: number[] = [];
  const ot: number[] = [];
  let i = 0;
  let j = 0;
  while (i < base.hi.length || j < now.hi.length) {
    const c =
      i >= base.hi.length
        ? 1
        : j >= now.hi.length
          ? -1
          : compareKeys(base.hi[i] as number, base.lo[i] as number, now.hi[j] as number, now.lo[j] as number);
    if (c < 0) {
      oh.push(base.hi[i] as number);
      ol.push(base.lo[i] as number);
      ot.push(0);
      i++;
    } else if (c > 0) {
      oh.push(now.hi[j] as number);
      ol.push(now.lo[j] as number);
      ot.push(now.tags[j] as number);
      j++;
    } else {
      if (base.tags[i] !== now.tags[j]) {
        oh.push(now.hi[j] as number);
        ol.push(now.lo[j] as number);
        ot.push(now.tags[j] as number);
      }
      i++;
      j++;
    }
  }
  return { hi: Uint32Array.from(oh), lo: Uint32Array.from(ol), tags: Uint8Array.from(ot) };
}

/**
 * Whether a shard whose delta has `entries` keys should be rebuilt as a new base instead. Each
 * change to a shard ships its whole delta again, so a delta of k keys has cost about
 * 9·k²/2 bytes by the time it holds k; rebasing costs the shard's bytes once. Rebasing when the
 * two meet (k ≈ √(2·shardBytes/9), 82 keys for a 30 KB shard) keeps the bytes a change costs
 * within a small factor of the least possible (docs/decisions.md).
 */
export function shouldRebase(entries: number, baseBytes: number): boolean {
  return (DELTA_ENTRY_BYTES * entries * entries) / 2 > Math.max(baseBytes, 64 * DELTA_ENTRY_BYTES);
}

/** What to do with a changed shard: rebuild it as a new base, or ship `delta` over the old base (undefined: back to the base exactly). */
export type ShardPlan = { rebase: true } | { rebase: false; delta: Uint8Array | undefined };

/**
 * The one rule for a changed shard, used by central's publisher and the bench's day model: the
 * delta from the shard's base members to its members now, unless {@link shouldRebase} says a new
 * base costs less.
 */
export function planShard(base: DeltaEntries, now: DeltaEntries, baseBytes: number): ShardPlan {
  return planDelta(diffMembers(base, now), baseBytes);
}

/** {@link planShard} for a delta already in hand (the keys whose tag differs from the base's). */
export function planDelta(delta: DeltaEntries, baseBytes: number): ShardPlan {
  if (delta.hi.length === 0) return { rebase: false, delta: undefined };
  if (shouldRebase(delta.hi.length, baseBytes)) return { rebase: true };
  return { rebase: false, delta: encodeFilterDelta(delta) };
}
