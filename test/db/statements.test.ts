// The shared pieces of the query modules: chunking under D1's 100-parameter limit and one batch.
import { env } from 'cloudflare:test';
import { describe, expect } from 'vitest';
import { utf8Length } from '../../src/core/utf8.js';
import * as Statements from '../../src/db/queries/statements.js';
import { regions } from '../../src/db/schema.js';
import { dbTest as test } from './fixtures.js';

describe('statements', () => {
  test('D1 here refuses a statement with more than 100 bound parameters (why queries chunk)', async () => {
    const values = Array.from({ length: 101 }, (_, i) => i);
    const list = values.map((_, i) => `?${i + 1}`).join(',');
    await expect(
      env.DB.prepare(`select 1 where 1 in (${list})`)
        .bind(...values)
        .all(),
    ).rejects.toThrow();
  });

  test('jsonChunks keeps order, counts UTF-8 bytes (D1 caps a bound value in bytes) and sends an oversized row alone', () => {
    const wide = 'é'.repeat(300); // 600 bytes, 300 UTF-16 units
    const parts = Statements.jsonChunks(
      [
        [1, wide],
        [2, wide],
        [3, 'x'.repeat(2000)],
        [4, 'y'],
      ],
      1000,
    );
    expect(parts.map((p) => JSON.parse(p).map((r: unknown[]) => r[0]))).toEqual([[1], [2], [3], [4]]);
    for (const p of parts.filter((p) => !p.includes('xxx')))
      expect(new TextEncoder().encode(p).byteLength).toBeLessThanOrEqual(1000);
    expect(Statements.jsonChunks([], 1000)).toEqual([]);
  });

  test('jsonChunks cuts where counting every byte of every row cuts, whatever the mix of characters', () => {
    // The reference: each row's bytes counted with TextEncoder, a new chunk when the next row does not fit.
    const reference = (rows: unknown[], bytes: number) => {
      const out: string[][] = [];
      let part: string[] = [];
      let size = 2;
      for (const row of rows) {
        const text = JSON.stringify(row);
        const length = new TextEncoder().encode(text).byteLength;
        if (part.length && size + length + 1 > bytes) {
          out.push(part);
          part = [];
          size = 2;
        }
        part.push(text);
        size += length + 1;
      }
      if (part.length) out.push(part);
      return out.map((p) => `[${p.join(',')}]`);
    };
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ['a', 'xyz', 'é', '€', '😀', '"', '\\', '\ud800'];
    for (let run = 0; run < 300; run++) {
      const rows = Array.from({ length: next(40) }, (_, i) => [
        i,
        Array.from({ length: next(60) }, () => pieces[next(pieces.length)]).join(''),
      ]);
      const bytes = 20 + next(600);
      expect(Statements.jsonChunks(rows, bytes), `run ${run}, ${bytes} bytes`).toEqual(
        reference(rows, bytes),
      );
    }
  });

  test('utf8Length is the byte length TextEncoder gives: 1 to 4 bytes a character, lone surrogates as U+FFFD', () => {
    const encoder = new TextEncoder();
    const fixed = [
      '',
      'abc',
      'é',
      '€',
      '😀',
      'a😀b',
      '\ud800',
      '\ud800x',
      'x\udc00',
      '\udc00\ud800',
      '𝄞 ąč €',
    ];
    // Random UTF-16 units over the whole range: every branch, surrogates paired and not.
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const random = Array.from({ length: 500 }, () =>
      String.fromCharCode(...Array.from({ length: 24 }, () => next() % 0x10000)),
    );
    for (const text of [...fixed, ...random])
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).byteLength);
  });

  test('chunk keeps order and covers every element; queryInChunks runs one query per chunk', async () => {
    expect(Statements.chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(Statements.chunk([], 3)).toEqual([]);
    const seen: number[][] = [];
    const rows = await Statements.queryInChunks(
      Array.from({ length: 2 * Statements.IN_LIST_CHUNK + 1 }, (_, i) => i),
      async (part) => {
        seen.push(part);
        return part.map((x) => x * 2);
      },
    );
    expect(seen.map((p) => p.length)).toEqual([Statements.IN_LIST_CHUNK, Statements.IN_LIST_CHUNK, 1]);
    expect(rows).toEqual(Array.from({ length: 2 * Statements.IN_LIST_CHUNK + 1 }, (_, i) => i * 2));
  });

  test('runBatch returns each result in order, sends nothing for no statements, and is one transaction', async ({
    db,
  }) => {
    expect(await Statements.runBatch(db, [])).toEqual([]);
    const out = await Statements.runBatch(db, [
      db.insert(regions).values({ id: 'apac', name: 'APAC' }).returning({ id: regions.id }),
      db.select({ id: regions.id }).from(regions).orderBy(regions.id),
    ]);
    expect(out).toEqual([[{ id: 'apac' }], [{ id: 'apac' }, { id: 'eu' }, { id: 'us' }]]);
    // A failing statement rolls back the whole batch: the first insert is not kept.
    await expect(
      Statements.runBatch(db, [
        db.insert(regions).values({ id: 'sa', name: 'SA' }),
        db.insert(regions).values({ id: 'us', name: 'duplicate' }),
      ]),
    ).rejects.toThrow();
    const ids = (await db.select({ id: regions.id }).from(regions).all()).map((r) => r.id).sort();
    expect(ids).toEqual(['apac', 'eu', 'us']);
  });
});
