import { describe, expect, test } from 'vitest';
import {
  buildMembershipFilter,
  buildTaggedMembershipFilter,
  filterHas,
  filterKeyCount,
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
  });

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
