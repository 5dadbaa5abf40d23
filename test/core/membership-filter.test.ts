import { describe, expect, test } from 'vitest';
import {
  assembleShardedFilter,
  buildMembershipFilter,
  buildShardedTaggedFilter,
  buildTaggedMembershipFilter,
  buildTaggedMembershipFilterTyped,
  FilterScratch,
  filterHas,
  filterKeyCount,
  SHARD_TARGET_KEYS,
  ShardedFilterWriter,
  shardBitsFor,
  shardOf,
  validateMembershipFilter,
  withTagMask,
} from '../../src/core/membership-filter.js';

/** Deterministic 32-bit generator (mulberry32) so failures reproduce. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomKeys(n: number, seed: number): Array<[number, number]> {
  const next = generator(seed);
  return Array.from({ length: n }, () => [next(), next()] as [number, number]);
}

function falsePositiveRate(filter: Uint8Array, trials: number, seed: number): number {
  const next = generator(seed);
  let hits = 0;
  for (let i = 0; i < trials; i++) if (filterHas(filter, [next(), next()])) hits++;
  return hits / trials;
}

describe('membership filter', () => {
  test('an empty filter answers no to everything', () => {
    const f = buildMembershipFilter([]);
    expect(filterKeyCount(f)).toBe(0);
    expect(filterHas(f, [1, 2])).toBe(false);
    expect(falsePositiveRate(f, 10_000, 1)).toBe(0);
  });

  test.each([1, 2, 3, 7, 100, 1000])('a filter of %i keys has no false negatives', (n) => {
    const keys = randomKeys(n, n);
    const f = buildMembershipFilter(keys);
    expect(validateMembershipFilter(f)).toBeUndefined();
    expect(keys.every((k) => filterHas(f, k))).toBe(true);
  });

  test('duplicate keys are counted once and still found', () => {
    const keys = randomKeys(500, 3);
    const f = buildMembershipFilter([...keys, ...keys, ...keys.slice(0, 10)]);
    expect(filterKeyCount(f)).toBe(500);
    expect(keys.every((k) => filterHas(f, k))).toBe(true);
    const same = buildMembershipFilter([
      [5, 5],
      [5, 5],
    ]);
    expect(filterHas(same, [5, 5])).toBe(true);
  });

  test('the same key set gives the same bytes, whatever the order', () => {
    const keys = randomKeys(2000, 4);
    const a = buildMembershipFilter(keys);
    const b = buildMembershipFilter([...keys].reverse());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  test('100k keys: no false negatives, at most 1.25 bytes per key, false-positive rate at most 0.5 %', () => {
    const keys = randomKeys(100_000, 5);
    const f = buildMembershipFilter(keys);
    expect(keys.every((k) => filterHas(f, k))).toBe(true);
    expect(f.length / keys.length).toBeLessThanOrEqual(1.25);
    const fpr = falsePositiveRate(f, 400_000, 6);
    expect(fpr).toBeLessThanOrEqual(0.005);
    expect(fpr).toBeGreaterThan(0);
  });

  test('1M keys fit in 1.25 bytes per key', () => {
    const keys = randomKeys(1_000_000, 7);
    const f = buildMembershipFilter(keys);
    expect(f.length / keys.length).toBeLessThanOrEqual(1.25);
    const next = generator(8);
    for (let i = 0; i < 10_000; i++) {
      const k = keys[next() % keys.length] as [number, number];
      expect(filterHas(f, k)).toBe(true);
    }
  }, 120_000); // a size check, not a timed test: generous for a loaded machine

  test('a tagged filter answers per tag bit, with shared cells', () => {
    const keys = randomKeys(3000, 9);
    const tags = keys.map((_, i) => (i % 3) + 1);
    const f = buildTaggedMembershipFilter(keys, tags);
    const first = withTagMask(f, 1);
    const second = withTagMask(f, 2);
    keys.forEach((k, i) => {
      const t = tags[i] as number;
      expect(filterHas(first, k)).toBe((t & 1) !== 0);
      expect(filterHas(second, k)).toBe((t & 2) !== 0);
      expect(filterHas(f, k)).toBe(true);
    });
    expect(falsePositiveRate(first, 100_000, 10)).toBeLessThanOrEqual(0.005);
  });

  test('a damaged filter is reported by validation and answers no rather than throwing', () => {
    const f = buildMembershipFilter(randomKeys(100, 11));
    expect(validateMembershipFilter(f.subarray(0, 10))).toMatch(/truncated/);
    expect(validateMembershipFilter(f.subarray(0, f.length - 1))).toMatch(/length/);
    const bad = f.slice();
    bad[0] = 0;
    expect(validateMembershipFilter(bad)).toMatch(/magic/);
    expect(filterHas(bad, [1, 1])).toBe(false);
  });
});

describe('filter scratch reuse', () => {
  test('builds through one scratch give the very bytes of fresh builds, big then small then big', () => {
    const scratch = new FilterScratch();
    for (const [n, seed] of [
      [40_000, 1],
      [3_000, 2],
      [0, 3],
      [1, 4],
      [25_000, 5],
      [40_001, 6],
    ] as const) {
      const keys = randomKeys(n, seed);
      const hi = Uint32Array.from(keys, (k) => k[0]);
      const lo = Uint32Array.from(keys, (k) => k[1]);
      const tags = Uint8Array.from(keys, (_k, i) => 1 + (i % 3));
      const fresh = buildTaggedMembershipFilterTyped(hi, lo, tags);
      const reused = buildTaggedMembershipFilterTyped(hi, lo, tags, scratch);
      expect(Buffer.from(reused).equals(Buffer.from(fresh))).toBe(true);
      // And it still answers for every key (no stale state from the larger build before it).
      for (let i = 0; i < n; i += 97) expect(filterHas(reused, keys[i] as [number, number])).toBe(true);
    }
    // One set, sized to the largest build (≈ 40 bytes a key), not one per build.
    expect(scratch.heldBytes).toBeLessThan(40_001 * 48 + 65536 * 4);
    expect(scratch.heldBytes).toBeGreaterThan(40_001 * 20);
  });

  test('the keys handed in are left as they were', () => {
    const keys = randomKeys(5_000, 9);
    const hi = Uint32Array.from(keys, (k) => k[0]);
    const lo = Uint32Array.from(keys, (k) => k[1]);
    const tags = new Uint8Array(5_000).fill(1);
    const before = [hi.slice(), lo.slice()];
    buildTaggedMembershipFilterTyped(hi, lo, tags, new FilterScratch());
    expect(hi).toEqual(before[0]);
    expect(lo).toEqual(before[1]);
  });
});

describe('sharded membership filter', () => {
  const split = (keys: Array<[number, number]>) => ({
    hi: Uint32Array.from(keys, (k) => k[0]),
    lo: Uint32Array.from(keys, (k) => k[1]),
  });

  test('shard bits grow with the key count and stay within the maximum', () => {
    expect(shardBitsFor(0)).toBe(0);
    expect(shardBitsFor(SHARD_TARGET_KEYS)).toBe(0);
    expect(shardBitsFor(SHARD_TARGET_KEYS + 1)).toBe(1);
    expect(shardBitsFor(10_000_000)).toBe(9);
    expect(shardBitsFor(1e12)).toBe(12);
  });

  test.each([0, 1, 3])('%i shard bits: no false negatives, tags per view, FP rate ≤ 0.5 %%', (bits) => {
    const keys = randomKeys(20_000, 40 + bits);
    const { hi, lo } = split(keys);
    const tags = Uint8Array.from(keys, (_, i) => (i % 3) + 1);
    const f = buildShardedTaggedFilter(hi, lo, tags, bits);
    expect(validateMembershipFilter(f)).toBeUndefined();
    expect(filterKeyCount(f)).toBe(20_000);
    const one = withTagMask(f, 1);
    const two = withTagMask(f, 2);
    const both = withTagMask(f, 3, true);
    keys.forEach((k, i) => {
      const t = (i % 3) + 1;
      if (t & 1) expect(filterHas(one, k)).toBe(true);
      if (t & 2) expect(filterHas(two, k)).toBe(true);
      if (t === 3) expect(filterHas(both, k)).toBe(true);
    });
    // Tag 1 keys are never in the "both bits" view (the tag check is exact for a stored key).
    expect(keys.filter((_, i) => i % 3 === 0).some((k) => filterHas(both, k))).toBe(false);
    expect(falsePositiveRate(f, 50_000, 9)).toBeLessThanOrEqual(0.005);
  });

  test('assembling shards built separately equals building at once', () => {
    const keys = randomKeys(5000, 77);
    const { hi, lo } = split(keys);
    const tags = new Uint8Array(keys.length).fill(3);
    const whole = buildShardedTaggedFilter(hi, lo, tags, 2);
    const shards = [0, 1, 2, 3].map((s) => {
      const mine = keys.filter((k) => shardOf(k[0], 2) === s);
      return buildTaggedMembershipFilter(mine, new Array(mine.length).fill(3));
    });
    expect(assembleShardedFilter(shards, 2)).toEqual(whole);
  });

  test('a sharded filter written shard by shard into a larger buffer equals the one assembled at once', () => {
    const keys = randomKeys(5000, 78);
    const shards = [0, 1, 2, 3].map((s) => {
      const mine = keys.filter((k) => shardOf(k[0], 2) === s);
      return buildTaggedMembershipFilter(mine, new Array(mine.length).fill(3));
    });
    const w = new ShardedFilterWriter(
      2,
      shards.map((x) => x.length),
    );
    const out = new Uint8Array(7 + w.bytes + 5).fill(0xee);
    // Out of order, as a builder reading shards back from R2 might.
    for (const i of [2, 0, 3, 1]) w.write(out, 7, i, shards[i] as Uint8Array);
    w.finish(out, 7);
    expect(out.subarray(7, 7 + w.bytes)).toEqual(assembleShardedFilter(shards, 2));
    expect([...out.subarray(0, 7), ...out.subarray(7 + w.bytes)].every((b) => b === 0xee)).toBe(true);
    for (const k of keys) expect(filterHas(out.subarray(7, 7 + w.bytes), k)).toBe(true);
    // A missing shard or a shard of the wrong length is refused, not written as a broken filter.
    const partial = new ShardedFilterWriter(
      2,
      shards.map((x) => x.length),
    );
    partial.write(new Uint8Array(partial.bytes), 0, 0, shards[0] as Uint8Array);
    expect(() => partial.finish(new Uint8Array(partial.bytes), 0)).toThrow(/every shard/);
    const short = (shards[1] as Uint8Array).subarray(1);
    expect(() => partial.write(new Uint8Array(partial.bytes), 0, 1, short)).toThrow(/bytes/);
  });

  test('a truncated or altered sharded filter is refused', () => {
    const keys = randomKeys(1000, 5);
    const { hi, lo } = split(keys);
    const f = buildShardedTaggedFilter(hi, lo, new Uint8Array(1000).fill(1), 2);
    expect(validateMembershipFilter(f.subarray(0, f.length - 1))).toMatch(/sharded/);
    const bad = f.slice();
    bad[12] = 9;
    expect(validateMembershipFilter(bad)).toMatch(/sharded/);
  });
});
