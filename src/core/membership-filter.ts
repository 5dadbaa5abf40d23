// Approximate-membership filter: binary fuse filter with 8-bit fingerprints (Graf & Lemire,
// "Binary Fuse Filters: Fast and Smaller Than Xor Filters", 2022). No false negatives, false
// positive rate about 1/256 (0.39 %), about 9 bits per key at a million keys.
//
// A filter may also carry a 2-bit tag per key (solved in the same peeling pass, 2 more bits per
// cell). The routing snapshot uses one tagged filter for both "is a contact/account/lead" and
// "is an email-enabled record": the two sets overlap almost entirely, and storing them once keeps
// a million record addresses under 1.5 MB. A tagged filter's header names which tag bits a
// lookup requires (`withTagMask`), so the same cells answer both questions.
//
// Layout (little-endian):
//   0  'B' 'F' '8'           magic
//   3  u8 flags               bit 0: tagged; bits 4..5: tag mask used by lookups; bit 6: a lookup
//                             needs every bit of the mask (else any)
//   4  u32 seed high, u32 seed low
//   12 u32 segment length (power of two), u32 segment count, u32 array length, u32 key count
//   28 fingerprints[array length]
//      tags[ceil(array length / 4)]   (tagged filters only; 2 bits per cell)

import { filterDeltaTag } from './filter-delta.js';

const MAGIC0 = 0x42; // B
const MAGIC1 = 0x46; // F
const MAGIC2 = 0x38; // 8
export const FILTER_HEADER_BYTES = 28;
const MAX_SEGMENT_LENGTH = 1 << 18;
const MAX_ATTEMPTS = 64;

interface Geometry {
  tagged: boolean;
  tagMask: number;
  tagAll: boolean;
  seedHi: number;
  seedLo: number;
  segmentLength: number;
  segmentLengthMask: number;
  segmentCount: number;
  segmentCountLength: number;
  arrayLength: number;
  keyCount: number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// The mixed hash of a key is a seeded four-round Feistel permutation of its 64 bits: distinct keys
// always give distinct mixed hashes, so duplicates are exactly the equal keys.
let mixHi = 0;
let mixLo = 0;
function mix(hi: number, lo: number, seedHi: number, seedLo: number): void {
  let l = hi >>> 0;
  let r = lo >>> 0;
  let t = l ^ fmix32(r ^ seedLo);
  l = r;
  r = t >>> 0;
  t = l ^ fmix32(r ^ seedHi);
  l = r;
  r = t >>> 0;
  t = l ^ fmix32((r + 0x9e3779b9) ^ seedLo);
  l = r;
  r = t >>> 0;
  t = l ^ fmix32((r + 0x7f4a7c15) ^ seedHi);
  l = r;
  r = t >>> 0;
  mixHi = l;
  mixLo = r;
}

/** floor(a * b / 2^32) for uint32 a and b < 2^32, exact in doubles. */
function mulhi(a: number, b: number): number {
  const ah = a >>> 16;
  const al = a & 0xffff;
  return Math.floor((ah * b + Math.floor((al * b) / 65536)) / 65536);
}

function splitmix32(state: number): number {
  return fmix32((state + 0x9e3779b9) >>> 0);
}

function geometryFor(
  size: number,
  boost: number,
): Omit<Geometry, 'seedHi' | 'seedLo' | 'tagged' | 'tagMask' | 'tagAll'> {
  // Parameters of the reference implementation for arity 3.
  let segmentLength = size <= 1 ? 4 : 1 << Math.floor(Math.log(size) / Math.log(3.33) + 2.25);
  if (segmentLength > MAX_SEGMENT_LENGTH) segmentLength = MAX_SEGMENT_LENGTH;
  const sizeFactor = size <= 1 ? 0 : Math.max(1.125, 0.875 + (0.25 * Math.log(1000000)) / Math.log(size));
  const capacity = size <= 1 ? 0 : Math.round(size * sizeFactor * boost);
  const segmentCount = Math.max(1, Math.ceil(capacity / segmentLength) - 2);
  const arrayLength = size === 0 ? 0 : (segmentCount + 2) * segmentLength;
  return {
    segmentLength,
    segmentLengthMask: segmentLength - 1,
    segmentCount,
    segmentCountLength: segmentCount * segmentLength,
    arrayLength,
    keyCount: size,
  };
}

// Cell positions and fingerprint of the last `locate` call.
let p0 = 0;
let p1 = 0;
let p2 = 0;
function locate(g: Geometry, mh: number, ml: number): void {
  const h0 = mulhi(mh, g.segmentCountLength);
  p0 = h0;
  p1 = (h0 + g.segmentLength) ^ (((ml >>> 18) | (mh << 14)) & g.segmentLengthMask);
  p2 = (h0 + 2 * g.segmentLength) ^ (ml & g.segmentLengthMask);
}
function fingerprintOf(mh: number, ml: number): number {
  return (mh ^ (ml >>> 24)) & 0xff;
}

/** Sorts pairs (hi, lo) with their tags by (hi, lo): LSD radix sort on 16-bit digits. */
/**
 * Working arrays of filter construction, reusable across builds. A build allocates about 40 bytes
 * per key of scratch (mixed keys, sort buffers, peeling state, stack); central builds a 10 M-record
 * part as 32 shards in a row, and fresh scratch per shard left ~14 MB of garbage each that V8
 * collected late (141 MB of dead ArrayBuffers at the sampled peak of the build). One scratch for
 * the whole part keeps one set, sized to the largest shard, and is dropped with the build. Builds
 * are synchronous, so a scratch is never used by two at once. Results never live in the scratch.
 */
export class FilterScratch {
  private readonly words = new Map<string, Uint32Array>();
  private readonly bytes = new Map<string, Uint8Array>();

  /** `n` words of slot `slot` (zero-filled when `zero`). */
  u32(slot: string, n: number, zero = false): Uint32Array {
    let a = this.words.get(slot);
    if (!a || a.length < n) {
      a = new Uint32Array(n);
      this.words.set(slot, a);
    } else if (zero) a.fill(0, 0, n);
    return a.subarray(0, n);
  }

  u8(slot: string, n: number, zero = false): Uint8Array {
    let a = this.bytes.get(slot);
    if (!a || a.length < n) {
      a = new Uint8Array(n);
      this.bytes.set(slot, a);
    } else if (zero) a.fill(0, 0, n);
    return a.subarray(0, n);
  }

  /** Bytes held (for the builder's log line). */
  get heldBytes(): number {
    let n = 0;
    for (const a of this.words.values()) n += a.byteLength;
    for (const a of this.bytes.values()) n += a.byteLength;
    return n;
  }
}

/** No reuse: fresh (zeroed) arrays every time. */
const FRESH = {
  u32: (_slot: string, n: number) => new Uint32Array(n),
  u8: (_slot: string, n: number) => new Uint8Array(n),
} as const;
type Scratch = Pick<FilterScratch, 'u32' | 'u8'>;

function sortPairs(
  hi: Uint32Array,
  lo: Uint32Array,
  tags: Uint8Array | undefined,
  scratch: Scratch = FRESH,
): void {
  const n = hi.length;
  if (n < 2) return;
  let srcHi: Uint32Array<ArrayBufferLike> = hi;
  let srcLo: Uint32Array<ArrayBufferLike> = lo;
  let srcTag: Uint8Array<ArrayBufferLike> | undefined = tags;
  let dstHi: Uint32Array<ArrayBufferLike> = scratch.u32('sortHi', n);
  let dstLo: Uint32Array<ArrayBufferLike> = scratch.u32('sortLo', n);
  let dstTag: Uint8Array<ArrayBufferLike> | undefined = tags ? scratch.u8('sortTag', n) : undefined;
  const counts = scratch.u32('sortCounts', 65536);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? srcLo : srcHi;
    const shift = (pass & 1) * 16;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const d = ((word[i] as number) >>> shift) & 0xffff;
      counts[d] = (counts[d] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const d = ((word[i] as number) >>> shift) & 0xffff;
      const at = counts[d] as number;
      counts[d] = at + 1;
      dstHi[at] = srcHi[i] as number;
      dstLo[at] = srcLo[i] as number;
      if (dstTag && srcTag) dstTag[at] = srcTag[i] as number;
    }
    [srcHi, dstHi] = [dstHi, srcHi];
    [srcLo, dstLo] = [dstLo, srcLo];
    [srcTag, dstTag] = [dstTag, srcTag];
  }
  // Four passes: the sorted data is back in the caller's arrays.
}

function buildFilter(
  keys: ReadonlyArray<readonly [number, number]>,
  keyTags: ArrayLike<number> | undefined,
): Uint8Array {
  const hi = new Uint32Array(keys.length);
  const lo = new Uint32Array(keys.length);
  let tags: Uint8Array | undefined;
  if (keyTags) tags = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as readonly [number, number];
    hi[i] = key[0];
    lo[i] = key[1];
    if (tags) tags[i] = (keyTags?.[i] ?? 0) & 3;
  }
  return buildFilterTyped(hi, lo, tags);
}

/**
 * Builds a filter from keys held in typed arrays (`hi[i]`, `lo[i]`, optional 2-bit `tags[i]`):
 * about 50 bytes of working memory per key and no object per key. The inputs are not modified.
 */
function buildFilterTyped(
  keyHi: Uint32Array,
  keyLo: Uint32Array,
  keyTags: Uint8Array | undefined,
  scratch: Scratch = FRESH,
): Uint8Array {
  const tagged = keyTags !== undefined;
  let seedState = 0x726b2b9d;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    seedState = splitmix32(seedState);
    const seedHi = seedState;
    seedState = splitmix32(seedState);
    const seedLo = seedState;

    // Mix every key, sort by mixed hash (positions then grow monotonically: cache-friendly, and
    // the result no longer depends on the input order), drop duplicates (merging their tags).
    const total = keyHi.length;
    let hs: Uint32Array<ArrayBufferLike> = scratch.u32('hs', total);
    let ls: Uint32Array<ArrayBufferLike> = scratch.u32('ls', total);
    let ts: Uint8Array<ArrayBufferLike> | undefined = tagged ? scratch.u8('ts', total) : undefined;
    for (let i = 0; i < total; i++) {
      mix(keyHi[i] as number, keyLo[i] as number, seedHi, seedLo);
      hs[i] = mixHi;
      ls[i] = mixLo;
      if (ts) ts[i] = (keyTags?.[i] ?? 0) & 3;
    }
    sortPairs(hs, ls, ts, scratch);
    let size = 0;
    for (let i = 0; i < total; i++) {
      if (size > 0 && hs[size - 1] === hs[i] && ls[size - 1] === ls[i]) {
        if (ts) ts[size - 1] = (ts[size - 1] as number) | (ts[i] as number);
        continue;
      }
      hs[size] = hs[i] as number;
      ls[size] = ls[i] as number;
      if (ts) ts[size] = ts[i] as number;
      size++;
    }
    hs = hs.subarray(0, size);
    ls = ls.subarray(0, size);
    ts = ts?.subarray(0, size);

    // Past half the attempts, give the peeling more room; the header records the geometry.
    const boost = attempt < MAX_ATTEMPTS / 2 ? 1 : 1 + (attempt - MAX_ATTEMPTS / 2 + 1) * 0.05;
    const g: Geometry = {
      ...geometryFor(size, boost),
      seedHi,
      seedLo,
      tagged,
      tagMask: tagged ? 3 : 0,
      tagAll: false,
    };
    const bytes = tryPopulate(g, hs, ls, ts, scratch);
    if (bytes) return bytes;
  }
  throw new Error(`membership filter construction failed after ${MAX_ATTEMPTS} attempts`);
}

function writeHeader(out: Uint8Array, g: Geometry): void {
  const view = new DataView(out.buffer, out.byteOffset, FILTER_HEADER_BYTES);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = MAGIC2;
  out[3] = (g.tagged ? 1 : 0) | ((g.tagMask & 3) << 4);
  view.setUint32(4, g.seedHi, true);
  view.setUint32(8, g.seedLo, true);
  view.setUint32(12, g.segmentLength, true);
  view.setUint32(16, g.segmentCount, true);
  view.setUint32(20, g.arrayLength, true);
  view.setUint32(24, g.keyCount, true);
}

function tryPopulate(
  g: Geometry,
  hs: Uint32Array,
  ls: Uint32Array,
  ts: Uint8Array | undefined,
  scratch: Scratch = FRESH,
): Uint8Array | undefined {
  const size = hs.length;
  const capacity = g.arrayLength;
  const tagBytes = g.tagged ? Math.ceil(capacity / 4) : 0;
  const out = new Uint8Array(FILTER_HEADER_BYTES + capacity + tagBytes);
  writeHeader(out, g);
  if (size === 0) return out;

  // Per cell: number of keys (<< 2) with the XOR of the key's slot (0, 1, 2) in the low bits,
  // and the XOR of the mixed hashes of the keys (and of their tags) — the peeling state.
  const count = scratch.u8('count', capacity, true);
  const xh = scratch.u32('xh', capacity, true);
  const xl = scratch.u32('xl', capacity, true);
  const xt = ts ? scratch.u8('xt', capacity, true) : undefined;
  for (let i = 0; i < size; i++) {
    const mh = hs[i] as number;
    const ml = ls[i] as number;
    locate(g, mh, ml);
    const c0 = (count[p0] as number) + 4;
    const c1 = ((count[p1] as number) + 4) ^ 1;
    const c2 = ((count[p2] as number) + 4) ^ 2;
    // 63 keys in one cell would overflow the counter: treat as a failed attempt.
    if (c0 > 252 || c1 > 252 || c2 > 252) return undefined;
    count[p0] = c0;
    count[p1] = c1;
    count[p2] = c2;
    xh[p0] = (xh[p0] as number) ^ mh;
    xh[p1] = (xh[p1] as number) ^ mh;
    xh[p2] = (xh[p2] as number) ^ mh;
    xl[p0] = (xl[p0] as number) ^ ml;
    xl[p1] = (xl[p1] as number) ^ ml;
    xl[p2] = (xl[p2] as number) ^ ml;
    if (xt && ts) {
      const t = ts[i] as number;
      xt[p0] = (xt[p0] as number) ^ t;
      xt[p1] = (xt[p1] as number) ^ t;
      xt[p2] = (xt[p2] as number) ^ t;
    }
  }

  // Peel: repeatedly take a cell holding a single key, record (key, its slot), remove the key.
  const alone = scratch.u32('alone', capacity);
  let queued = 0;
  for (let i = 0; i < capacity; i++) {
    alone[queued] = i;
    queued += (count[i] as number) >> 2 === 1 ? 1 : 0;
  }
  const stackHi = scratch.u32('stackHi', size);
  const stackLo = scratch.u32('stackLo', size);
  const stackTag = ts ? scratch.u8('stackTag', size) : undefined;
  const stackSlot = scratch.u8('stackSlot', size);
  let stacked = 0;
  const pos = [0, 0, 0];
  while (queued > 0) {
    queued--;
    const index = alone[queued] as number;
    if ((count[index] as number) >> 2 !== 1) continue;
    const mh = xh[index] as number;
    const ml = xl[index] as number;
    locateInto(g, mh, ml, pos);
    const slot = (count[index] as number) & 3;
    stackHi[stacked] = mh;
    stackLo[stacked] = ml;
    stackSlot[stacked] = slot;
    const t = xt ? (xt[index] as number) : 0;
    if (stackTag) stackTag[stacked] = t;
    stacked++;
    for (let k = 1; k <= 2; k++) {
      const otherSlot = (slot + k) % 3;
      const other = pos[otherSlot] as number;
      if ((count[other] as number) >> 2 === 2) alone[queued++] = other;
      count[other] = ((count[other] as number) - 4) ^ otherSlot;
      xh[other] = (xh[other] as number) ^ mh;
      xl[other] = (xl[other] as number) ^ ml;
      if (xt) xt[other] = (xt[other] as number) ^ t;
    }
    count[index] = 0;
  }
  if (stacked !== size) return undefined;

  // Assign in reverse peeling order: each key's own cell is set last, so the XOR of its three
  // cells equals its fingerprint (and its tag).
  const fp = out.subarray(FILTER_HEADER_BYTES, FILTER_HEADER_BYTES + capacity);
  const tagCells = g.tagged ? out.subarray(FILTER_HEADER_BYTES + capacity) : undefined;
  for (let i = size - 1; i >= 0; i--) {
    const mh = stackHi[i] as number;
    const ml = stackLo[i] as number;
    locateInto(g, mh, ml, pos);
    const slot = stackSlot[i] as number;
    const own = pos[slot] as number;
    const o1 = pos[(slot + 1) % 3] as number;
    const o2 = pos[(slot + 2) % 3] as number;
    fp[own] = fingerprintOf(mh, ml) ^ (fp[o1] as number) ^ (fp[o2] as number);
    if (tagCells && stackTag) {
      const t = (stackTag[i] as number) ^ readTag(tagCells, o1) ^ readTag(tagCells, o2);
      const byte = own >> 2;
      const shift = (own & 3) * 2;
      tagCells[byte] = ((tagCells[byte] as number) & ~(3 << shift)) | ((t & 3) << shift);
    }
  }
  return out;
}

/** {@link locate}, with the three cells written into `pos`. */
function locateInto(g: Geometry, hi: number, lo: number, pos: number[]): void {
  locate(g, hi, lo);
  pos[0] = p0;
  pos[1] = p1;
  pos[2] = p2;
}

function readTag(tags: Uint8Array, cell: number): number {
  return ((tags[cell >> 2] as number) >> ((cell & 3) * 2)) & 3;
}

/**
 * Builds a filter over 64-bit keys (`[hi, lo]`, e.g. from keyedHash64). Handles 0 and 1 keys and
 * duplicates. Deterministic: the same key set (in any order) gives the same bytes.
 */
export function buildMembershipFilter(keys: Array<[number, number]>): Uint8Array {
  return buildFilter(keys, undefined);
}

/** {@link buildMembershipFilter} over keys in typed arrays (`hi[i]`, `lo[i]`). */
export function buildMembershipFilterTyped(hi: Uint32Array, lo: Uint32Array): Uint8Array {
  if (hi.length !== lo.length) throw new Error('hi and lo must have the same length');
  return buildFilterTyped(hi, lo, undefined);
}

/**
 * Builds a tagged filter: every key carries a 2-bit tag (bit 0 and bit 1 are two independent
 * sets; equal keys merge their tags). The result answers for tag mask 3 (either set); use
 * {@link withTagMask} for a view that answers for one set.
 */
export function buildTaggedMembershipFilter(
  keys: Array<[number, number]>,
  tags: ArrayLike<number>,
): Uint8Array {
  if (tags.length !== keys.length) throw new Error('one tag per key is required');
  return buildFilter(keys, tags);
}

/** {@link buildTaggedMembershipFilter} over keys and tags in typed arrays. */
export function buildTaggedMembershipFilterTyped(
  hi: Uint32Array,
  lo: Uint32Array,
  tags: Uint8Array,
  scratch?: FilterScratch,
): Uint8Array {
  if (hi.length !== lo.length || tags.length !== hi.length)
    throw new Error('hi, lo and tags must have the same length');
  return buildFilterTyped(hi, lo, tags, scratch);
}

/**
 * A copy of a tagged filter (plain or sharded) whose lookups require `(tag & mask) !== 0`, or with
 * `all`, `(tag & mask) === mask` (every bit of the mask set: the intersection of the sets).
 */
export function withTagMask(filter: Uint8Array, mask: 1 | 2 | 3, all = false): Uint8Array {
  const lazy = lazySources.get(filter);
  const tagged = lazy
    ? (filter[3] as number) & 1
    : isSharded(filter)
      ? readSharded(filter)?.tagged
      : readGeometry(filter)?.tagged;
  if (!tagged) throw new Error('withTagMask needs a tagged membership filter');
  const copy = filter.slice();
  copy[3] = tagMaskFlags(mask, all);
  if (lazy) lazySources.set(copy, lazy);
  const deltas = deltaSources.get(filter);
  if (deltas) deltaSources.set(copy, deltas);
  return copy;
}

/** The flags byte of a tagged filter view (see {@link withTagMask}). */
export function tagMaskFlags(mask: 1 | 2 | 3, all = false): number {
  return 1 | (mask << 4) | (all ? ALL_BIT : 0);
}

/** Flags bit 6: a lookup needs every bit of the tag mask, not any. */
const ALL_BIT = 0x40;

const geometryCache = new WeakMap<Uint8Array, Geometry>();

function readGeometry(filter: Uint8Array): Geometry | undefined {
  const cached = geometryCache.get(filter);
  if (cached) return cached;
  if (filter.length < FILTER_HEADER_BYTES) return undefined;
  if (filter[0] !== MAGIC0 || filter[1] !== MAGIC1 || filter[2] !== MAGIC2) return undefined;
  const flags = filter[3] as number;
  if ((flags & ~0x71) !== 0) return undefined;
  const view = new DataView(filter.buffer, filter.byteOffset, FILTER_HEADER_BYTES);
  const segmentLength = view.getUint32(12, true);
  const segmentCount = view.getUint32(16, true);
  const arrayLength = view.getUint32(20, true);
  const tagged = (flags & 1) === 1;
  const tagMask = tagged ? (flags >> 4) & 3 : 0;
  if (
    segmentLength === 0 ||
    (segmentLength & (segmentLength - 1)) !== 0 ||
    segmentLength > MAX_SEGMENT_LENGTH
  ) {
    return undefined;
  }
  if (arrayLength !== 0 && arrayLength !== (segmentCount + 2) * segmentLength) return undefined;
  const expected = FILTER_HEADER_BYTES + arrayLength + (tagged ? Math.ceil(arrayLength / 4) : 0);
  if (filter.length !== expected) return undefined;
  if (tagged && tagMask === 0) return undefined;
  if (!tagged && (flags & ALL_BIT) !== 0) return undefined;
  const g: Geometry = {
    tagged,
    tagMask,
    tagAll: (flags & ALL_BIT) !== 0,
    seedHi: view.getUint32(4, true),
    seedLo: view.getUint32(8, true),
    segmentLength,
    segmentLengthMask: segmentLength - 1,
    segmentCount,
    segmentCountLength: segmentCount * segmentLength,
    arrayLength,
    keyCount: view.getUint32(24, true),
  };
  geometryCache.set(filter, g);
  return g;
}

// Sharded filter: the key space split by the top `bits` bits of a key's high word, one plain
// filter per shard. Central builds and stores each shard on its own (bounded memory; a change
// rebuilds only the shards it touches) and concatenates them. Layout (little-endian):
//   0  'B' 'F' 'S'           magic
//   3  u8 flags               as a plain filter's; it overrides the flags of the shards
//   4  u32 shard bits (0..12), u32 key count (sum of the shards')
//   12 u32 offsets[2^bits + 1] from the start of the shard area
//      shards (plain filters, all tagged or all untagged)
const SHARDED_MAGIC2 = 0x53; // S
export const MAX_SHARD_BITS = 12;

interface Sharded {
  tagged: boolean;
  tagMask: number;
  tagAll: boolean;
  bits: number;
  keyCount: number;
  shards: Uint8Array[];
}

const shardedCache = new WeakMap<Uint8Array, Sharded>();

function isSharded(filter: Uint8Array): boolean {
  return filter.length >= 12 && filter[0] === MAGIC0 && filter[1] === MAGIC1 && filter[2] === SHARDED_MAGIC2;
}

/** Which shard of a filter with `bits` shard bits holds a key whose high word is `hi`. */
export function shardOf(hi: number, bits: number): number {
  return bits === 0 ? 0 : (hi >>> 0) >>> (32 - bits);
}

/** Concatenates `2^bits` plain filters (shard i holding the keys with `shardOf(hi, bits) === i`). */
export function assembleShardedFilter(shards: Uint8Array[], bits: number): Uint8Array {
  const w = new ShardedFilterWriter(
    bits,
    shards.map((s) => s.length),
  );
  const out = new Uint8Array(w.bytes);
  shards.forEach((s, i) => {
    w.write(out, 0, i, s);
  });
  w.finish(out, 0);
  return out;
}

/**
 * Writes a sharded filter into a caller's buffer one shard at a time, so that a builder holds one
 * shard and the result, never every shard at once: construct it with the shards' byte lengths,
 * allocate `bytes` (or more, at an offset), `write` each shard, then `finish`. The layout is the
 * one {@link assembleShardedFilter} produces.
 */
export class ShardedFilterWriter {
  readonly bytes: number;
  private readonly head: number;
  private readonly offsets: number[];
  private tagged: boolean | undefined;
  private keyCount = 0;
  private written = 0;
  constructor(
    readonly bits: number,
    private readonly sizes: number[],
  ) {
    if (!Number.isInteger(bits) || bits < 0 || bits > MAX_SHARD_BITS) throw new Error('bad shard bits');
    if (sizes.length !== 1 << bits) throw new Error(`expected ${1 << bits} shards, got ${sizes.length}`);
    this.head = 12 + 4 * (sizes.length + 1);
    this.offsets = [];
    let o = 0;
    for (const n of sizes) {
      this.offsets.push(o);
      o += n;
    }
    this.offsets.push(o);
    this.bytes = this.head + o;
  }
  /** Copies shard `i` (a plain filter of the announced length) to its place in `out` at `at`. */
  write(out: Uint8Array, at: number, i: number, shard: Uint8Array) {
    if (shard.length !== this.sizes[i]) throw new Error(`shard ${i} is not ${this.sizes[i]} bytes`);
    const g = readGeometry(shard);
    if (!g) throw new Error('a shard is not a valid membership filter');
    if (this.tagged !== undefined && g.tagged !== this.tagged)
      throw new Error('shards mix tagged and untagged filters');
    this.tagged = g.tagged;
    this.keyCount += g.keyCount;
    this.written++;
    out.set(shard, at + this.head + (this.offsets[i] as number));
  }
  /** Writes the header once every shard is in. */
  finish(out: Uint8Array, at: number) {
    if (this.written !== this.sizes.length) throw new Error('not every shard was written');
    const view = new DataView(out.buffer, out.byteOffset + at, this.head);
    out[at] = MAGIC0;
    out[at + 1] = MAGIC1;
    out[at + 2] = SHARDED_MAGIC2;
    out[at + 3] = this.tagged ? 1 | (3 << 4) : 0;
    view.setUint32(4, this.bits, true);
    view.setUint32(8, this.keyCount, true);
    this.offsets.forEach((o, i) => {
      view.setUint32(12 + 4 * i, o, true);
    });
  }
}

function readSharded(filter: Uint8Array): Sharded | undefined {
  const cached = shardedCache.get(filter);
  if (cached) return cached;
  if (!isSharded(filter)) return undefined;
  const view = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const flags = filter[3] as number;
  if ((flags & ~0x71) !== 0) return undefined;
  const bits = view.getUint32(4, true);
  if (bits > MAX_SHARD_BITS) return undefined;
  const n = 1 << bits;
  const head = 12 + 4 * (n + 1);
  if (filter.length < head) return undefined;
  const shards: Uint8Array[] = [];
  let keyCount = 0;
  let tagged: boolean | undefined;
  for (let i = 0; i < n; i++) {
    const start = view.getUint32(12 + 4 * i, true);
    const end = view.getUint32(16 + 4 * i, true);
    if (end < start || head + end > filter.length) return undefined;
    const shard = filter.subarray(head + start, head + end);
    const g = readGeometry(shard);
    if (!g || (tagged !== undefined && g.tagged !== tagged)) return undefined;
    tagged = g.tagged;
    keyCount += g.keyCount;
    shards.push(shard);
  }
  if (head + view.getUint32(12 + 4 * n, true) !== filter.length) return undefined;
  if (view.getUint32(12, true) !== 0) return undefined;
  if (keyCount !== view.getUint32(8, true)) return undefined;
  const isTagged = (flags & 1) === 1;
  if (isTagged !== tagged) return undefined;
  const tagMask = isTagged ? (flags >> 4) & 3 : 0;
  if (isTagged && tagMask === 0) return undefined;
  if (!isTagged && (flags & ALL_BIT) !== 0) return undefined;
  const s: Sharded = { tagged: isTagged, tagMask, tagAll: (flags & ALL_BIT) !== 0, bits, keyCount, shards };
  shardedCache.set(filter, s);
  return s;
}

/** Checks that `filter` is a well-formed membership filter; returns a problem description or undefined. */
export function validateMembershipFilter(filter: Uint8Array): string | undefined {
  if (lazySources.has(filter)) return undefined;
  if (isSharded(filter))
    return readSharded(filter) ? undefined : 'sharded membership filter is inconsistent or truncated';
  if (filter.length < FILTER_HEADER_BYTES) return `membership filter is truncated (${filter.length} bytes)`;
  if (filter[0] !== MAGIC0 || filter[1] !== MAGIC1 || filter[2] !== MAGIC2)
    return 'membership filter has a bad magic';
  if (!readGeometry(filter)) return 'membership filter header does not match its length or is inconsistent';
  return undefined;
}

/** Number of distinct keys the filter was built from. */
export function filterKeyCount(filter: Uint8Array): number {
  if (lazySources.has(filter)) return new DataView(filter.buffer, filter.byteOffset, 12).getUint32(8, true);
  if (isSharded(filter)) return readSharded(filter)?.keyCount ?? 0;
  return readGeometry(filter)?.keyCount ?? 0;
}

/**
 * Membership test: always true for a key the filter was built from; true for about 1 in 256 other
 * keys. A malformed filter answers false (validate filters where they are decoded).
 */
export function filterHas(filter: Uint8Array, key: [number, number]): boolean {
  const deltas = deltaSources.get(filter);
  if (deltas) {
    const i = shardOf(key[0], deltas.bits);
    const name = deltas.name(i);
    if (name) {
      const delta = deltas.delta(i);
      if (!delta) throw new ShardNotLoadedError(name);
      const t = filterDeltaTag(delta, key);
      if (t !== undefined) {
        const flags = filter[3] as number;
        if ((flags & 1) === 0) return t !== 0;
        const mask = (flags >> 4) & 3;
        return (flags & ALL_BIT) !== 0 ? (t & mask) === mask : (t & mask) !== 0;
      }
    }
  }
  const lazy = lazySources.get(filter);
  if (lazy) {
    const i = shardOf(key[0], lazy.bits);
    const shard = lazy.shard(i);
    if (!shard) throw new ShardNotLoadedError(lazy.name(i));
    const g = readGeometry(shard);
    if (!g) throw new Error(`membership filter shard ${lazy.name(i)} is malformed`);
    const flags = filter[3] as number;
    return lookup(shard, g, key, (flags >> 4) & 3, (flags & ALL_BIT) !== 0);
  }
  if (isSharded(filter)) {
    const s = readSharded(filter);
    if (!s) return false;
    const shard = s.shards[shardOf(key[0], s.bits)] as Uint8Array;
    const g = readGeometry(shard);
    return g ? lookup(shard, g, key, s.tagMask, s.tagAll) : false;
  }
  const g = readGeometry(filter);
  return g ? lookup(filter, g, key, g.tagMask, g.tagAll) : false;
}

function lookup(
  filter: Uint8Array,
  g: Geometry,
  key: [number, number],
  tagMask: number,
  all: boolean,
): boolean {
  if (g.arrayLength === 0) return false;
  mix(key[0], key[1], g.seedHi, g.seedLo);
  const mh = mixHi;
  const ml = mixLo;
  locate(g, mh, ml);
  const base = FILTER_HEADER_BYTES;
  const f = (filter[base + p0] as number) ^ (filter[base + p1] as number) ^ (filter[base + p2] as number);
  if (f !== fingerprintOf(mh, ml)) return false;
  if (!g.tagged) return true;
  const tags = filter.subarray(base + g.arrayLength);
  const t = readTag(tags, p0) ^ readTag(tags, p1) ^ readTag(tags, p2);
  return all ? (t & tagMask) === tagMask : (t & tagMask) !== 0;
}

/**
 * Keys per shard a sharded filter aims at. A shard is what a one-record change sends to each
 * region (issue 21: ≤ 64 KB per change at 10 M records): 2^15 keys make shards of ≤ 47 KB (10 M
 * records: 512 shards of ≈ 30 KB) and bound the memory of building one (~50 B/key). Smaller shards
 * cost space: 1.53 bytes per key at 31 k keys a shard against 1.43 at 500 k (docs/decisions.md).
 */
export const SHARD_TARGET_KEYS = 1 << 15;

/** Shard bits for a key count: the fewest shards of at most {@link SHARD_TARGET_KEYS} keys each. */
export function shardBitsFor(keyCount: number, target = SHARD_TARGET_KEYS): number {
  let bits = 0;
  while (bits < MAX_SHARD_BITS && keyCount > target * (1 << bits)) bits++;
  return bits;
}

/**
 * Keys and tags partitioned by shard (a counting sort on the shard bits, order kept within a
 * shard): shard i's keys are `hi/lo/tags.subarray(starts[i], starts[i + 1])`.
 */
export function partitionByShard(
  hi: Uint32Array,
  lo: Uint32Array,
  tags: Uint8Array,
  bits: number,
): { hi: Uint32Array; lo: Uint32Array; tags: Uint8Array; starts: Uint32Array } {
  const n = 1 << bits;
  const counts = new Uint32Array(n + 1);
  for (let i = 0; i < hi.length; i++) {
    const s = shardOf(hi[i] as number, bits) + 1;
    counts[s] = (counts[s] as number) + 1;
  }
  for (let s = 0; s < n; s++) counts[s + 1] = (counts[s + 1] as number) + (counts[s] as number);
  const at = counts.slice(0, n);
  const sh = new Uint32Array(hi.length);
  const sl = new Uint32Array(hi.length);
  const st = new Uint8Array(hi.length);
  for (let i = 0; i < hi.length; i++) {
    const s = shardOf(hi[i] as number, bits);
    const j = at[s] as number;
    at[s] = j + 1;
    sh[j] = hi[i] as number;
    sl[j] = lo[i] as number;
    st[j] = tags[i] as number;
  }
  return { hi: sh, lo: sl, tags: st, starts: counts };
}

/**
 * Builds a sharded tagged filter from typed arrays: the keys are partitioned by shard and each
 * shard built on its own. `bits` defaults to {@link shardBitsFor} of the key count.
 */
export function buildShardedTaggedFilter(
  hi: Uint32Array,
  lo: Uint32Array,
  tags: Uint8Array,
  bits = shardBitsFor(hi.length),
): Uint8Array {
  const p = partitionByShard(hi, lo, tags, bits);
  const shards: Uint8Array[] = [];
  for (let s = 0; s < 1 << bits; s++) {
    const a = p.starts[s] as number;
    const b = p.starts[s + 1] as number;
    shards.push(buildFilterTyped(p.hi.subarray(a, b), p.lo.subarray(a, b), p.tags.subarray(a, b)));
  }
  return assembleShardedFilter(shards, bits);
}

// Lazy sharded filter: a sharded filter whose shards are held elsewhere (the edge's bounded cache
// of content-addressed shards, docs/decisions.md "Snapshots by content hash"). The handle is a
// 12-byte header ('B' 'F' 'L', flags, u32 shard bits, u32 key count); its shards come from the
// source it was created with. A lookup whose shard is not held throws ShardNotLoadedError naming
// it: an absent shard must never answer "not a member" (no false negatives, design §2).
const LAZY_MAGIC2 = 0x4c; // L

/** Where a lazy sharded filter finds shard `i`, and the name (content hash) of shard `i`. */
export interface ShardSource {
  bits: number;
  shard(i: number): Uint8Array | undefined;
  name(i: number): string;
}

const lazySources = new WeakMap<Uint8Array, ShardSource>();

/** Thrown by {@link filterHas} when a lazy filter's shard is not held: load `shard`, then ask again. */
export class ShardNotLoadedError extends Error {
  constructor(readonly shard: string) {
    super(`membership filter shard ${shard} is not loaded`);
    this.name = 'ShardNotLoadedError';
  }
}

/** A lazy sharded filter over `source` with the flags byte of a plain or sharded filter. */
export function createLazyShardedFilter(source: ShardSource, flags: number, keyCount: number): Uint8Array {
  if (!Number.isInteger(source.bits) || source.bits < 0 || source.bits > MAX_SHARD_BITS)
    throw new Error('bad shard bits');
  if ((flags & ~0x71) !== 0) throw new Error('bad filter flags');
  const handle = new Uint8Array(12);
  handle[0] = MAGIC0;
  handle[1] = MAGIC1;
  handle[2] = LAZY_MAGIC2;
  handle[3] = flags;
  const view = new DataView(handle.buffer);
  view.setUint32(4, source.bits, true);
  view.setUint32(8, keyCount, true);
  lazySources.set(handle, source);
  return handle;
}

// Deltas over a filter (filter-delta.ts, docs/decisions.md "Snapshots by change"): shard i of a
// filter may carry a delta naming the keys changed since the shard was built; a lookup asks it
// first. Like a lazy filter's shards, a delta that is named but not held throws
// ShardNotLoadedError: an absent delta must never let the stale base answer.

/** Where the deltas over a filter's shards are: shard i's delta and its name ('' when it has none). */
export interface DeltaSource {
  /** The filter's shard bits (0 for a plain filter: one delta for the whole filter). */
  bits: number;
  delta(i: number): Uint8Array | undefined;
  name(i: number): string;
}

const deltaSources = new WeakMap<Uint8Array, DeltaSource>();

/**
 * Lays `source`'s deltas over `filter` (this filter object, and the views {@link withTagMask}
 * makes of it afterwards) and returns it. A source whose shards all lack a delta is not attached.
 */
export function withFilterDeltas(filter: Uint8Array, source: DeltaSource): Uint8Array {
  if (!Number.isInteger(source.bits) || source.bits < 0 || source.bits > MAX_SHARD_BITS)
    throw new Error('bad shard bits');
  for (let i = 0; i < 1 << source.bits; i++)
    if (source.name(i)) {
      deltaSources.set(filter, source);
      return filter;
    }
  return filter;
}

/** The deltas laid over `filter`, or undefined. */
export function filterDeltasOf(filter: Uint8Array): DeltaSource | undefined {
  return deltaSources.get(filter);
}

/** Whether `filter` is a lazy sharded filter (its shards live in a {@link ShardSource}). */
export function isLazyFilter(filter: Uint8Array): boolean {
  return lazySources.has(filter);
}

/**
 * The shards of a sharded filter (a plain filter is one shard at 0 bits), as views of its bytes,
 * with its flags byte and key count: what a content-addressed snapshot stores one by one.
 */
export function shardsOf(filter: Uint8Array): {
  bits: number;
  flags: number;
  keyCount: number;
  shards: Uint8Array[];
} {
  if (isSharded(filter)) {
    const s = readSharded(filter);
    if (!s) throw new Error('sharded membership filter is inconsistent or truncated');
    return { bits: s.bits, flags: filter[3] as number, keyCount: s.keyCount, shards: s.shards };
  }
  const g = readGeometry(filter);
  if (!g) throw new Error('membership filter is malformed');
  return { bits: 0, flags: filter[3] as number, keyCount: g.keyCount, shards: [filter] };
}
