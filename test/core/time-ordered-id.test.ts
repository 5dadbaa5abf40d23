// Time-ordered ids (time-ordered-id.ts): RFC 9562 §5.7 UUIDv7 layout, and text order = time order
// across milliseconds, which is what keeps ingest's primary-key inserts on the B-trees' last pages.
import { describe, expect, test } from 'vitest';
import { timeOrderedId } from '../../src/core/time-ordered-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  test('lays out RFC 9562 §5.7: 48-bit ms timestamp, version 7, variant 10, random rest', () => {
    // RFC 9562 Appendix A.6: 2022-02-22T19:22:22Z = 0x017F22E279B0 ms.
    const ms = 0x017f22e279b0;
    const random = Uint8Array.from([0xcc, 0xc3, 0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f]);
    expect(timeOrderedId(ms, random)).toBe('017f22e2-79b0-7cc3-98c4-dc0c0c07398f');
    // Whatever the random bytes, the version and variant bits are set and the rest kept.
    expect(timeOrderedId(ms, new Uint8Array(10).fill(0xff))).toBe('017f22e2-79b0-7fff-bfff-ffffffffffff');
    expect(timeOrderedId(ms, new Uint8Array(10))).toBe('017f22e2-79b0-7000-8000-000000000000');
    expect(timeOrderedId(0, new Uint8Array(10))).toBe('00000000-0000-7000-8000-000000000000');
  });

  test('ids from the platform CSPRNG have the v7 form and differ', () => {
    const now = Date.UTC(2026, 11, 7);
    const ids = Array.from({ length: 1000 }, () => timeOrderedId(now));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id.replace('-', '').slice(0, 12)).toBe(now.toString(16).padStart(12, '0'));
  });

  test('an id made in a later millisecond sorts after, as text', () => {
    // Hex digits widen and roll over at these times; the random part is maximal before, minimal after.
    const times = [
      0,
      1,
      15,
      16,
      255,
      256,
      0xfff_ffff,
      0x1000_0000,
      Date.UTC(2026, 11, 7),
      2 ** 48 - 2,
      2 ** 48 - 1,
    ];
    for (let i = 1; i < times.length; i++) {
      const before = timeOrderedId(times[i - 1] as number, new Uint8Array(10).fill(0xff));
      const after = timeOrderedId(times[i] as number, new Uint8Array(10));
      expect(before < after, `${before} < ${after}`).toBe(true);
    }
    const made = Array.from({ length: 200 }, (_, i) => timeOrderedId(1_765_000_000_000 + i * 7));
    expect([...made].sort()).toEqual(made);
  });

  test('a time outside 48-bit Unix ms or a wrong random length is refused', () => {
    expect(() => timeOrderedId(-1)).toThrow(RangeError);
    expect(() => timeOrderedId(2 ** 48)).toThrow(RangeError);
    expect(() => timeOrderedId(Number.NaN)).toThrow(RangeError);
    expect(() => timeOrderedId(0, new Uint8Array(16))).toThrow(RangeError);
  });
});
