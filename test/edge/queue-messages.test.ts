import { describe, expect, test } from 'vitest';
import { jsonBytes, packBySize } from '../../src/edge/queue-messages.js';

describe('packBySize, the one size-packing rule of the delivery path', () => {
  const sizes = (groups: { bytes: number; items: number }[][]) =>
    groups.map((g) => g.map((v) => `${v.bytes}/${v.items}`).join(' '));

  test('keeps every group within every limit, in order, and closes a group at the first value that does not fit', () => {
    const values = [
      { bytes: 40, items: 1 },
      { bytes: 50, items: 1 },
      { bytes: 20, items: 1 },
      { bytes: 10, items: 3 },
      { bytes: 10, items: 1 },
    ];
    const groups = packBySize(values, { bytes: 100, items: 4 }, (v) => v);
    expect(sizes(groups)).toEqual(['40/1 50/1', '20/1 10/3', '10/1']);
    expect(groups.flat()).toEqual(values);
  });

  test('a value over a limit on its own gets a group of its own, never dropped', () => {
    const groups = packBySize(
      [
        { bytes: 5, items: 1 },
        { bytes: 500, items: 1 },
        { bytes: 5, items: 1 },
      ],
      { bytes: 100, items: 10 },
      (v) => v,
    );
    expect(sizes(groups)).toEqual(['5/1', '500/1', '5/1']);
  });

  test('nothing in, no groups out; sizes are UTF-8 bytes of the JSON', () => {
    expect(packBySize([], { bytes: 1 }, () => ({ bytes: 1 }))).toEqual([]);
    expect(jsonBytes('日本')).toBe(8);
  });
});
