import { describe, expect, test } from 'vitest';
import { readStreamLimited } from '../../src/core/stream-limit.js';

function streamOf(chunks: number[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      const n = chunks[i++];
      if (n === undefined) controller.close();
      else controller.enqueue(new Uint8Array(n).fill(i));
    },
  });
}

describe('readStreamLimited', () => {
  test('reads every chunk in order, whatever the size hint', async () => {
    for (const hint of [0, 3, 10, 1000]) {
      const bytes = await readStreamLimited(streamOf([3, 4, 3]), 10_000, hint);
      expect(bytes && [...bytes]).toEqual([1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
    }
  });

  test('refuses a stream longer than the limit', async () => {
    expect(await readStreamLimited(streamOf([60, 60]), 100)).toBeUndefined();
  });

  test('accepts a stream of exactly the limit', async () => {
    expect((await readStreamLimited(streamOf([50, 50]), 100))?.byteLength).toBe(100);
  });

  test('refuses at once when the declared size is over the limit', async () => {
    let pulled = 0;
    const stream = new ReadableStream({ pull: () => void pulled++ }, { highWaterMark: 0 });
    expect(await readStreamLimited(stream, 100, 101)).toBeUndefined();
    expect(pulled).toBe(0);
  });
});
