// Shared pieces of the query modules: D1 binds at most 100 parameters per statement, so list
// lookups and multi-row INSERTs go in chunks; statements of one write go in one `batch()`.
import type { BatchItem } from 'drizzle-orm/batch';
import { utf8Length } from '../../core/utf8.js';
import type { Db } from '../client.js';

export type Statement = BatchItem<'sqlite'>;

/** Keys per `IN (…)` list, leaving room for the statement's other parameters. */
export const IN_LIST_CHUNK = 90;

/** `xs` in consecutive pieces of at most `size`. */
export function chunk<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/**
 * Rows as JSON arrays of at most `bytes` UTF-8 bytes each (a row longer than that alone), for
 * statements that take many rows as one bound value (`json_each(?)`) instead of 100 parameters.
 */
export function jsonChunks(rows: readonly unknown[], bytes: number): string[] {
  const out: string[] = [];
  let part: string[] = [];
  // `size` is exact in `exact` mode, else an upper bound: a character is at most 3 UTF-8 bytes (a
  // surrogate pair 4 for 2). Bytes are counted only once the bound does not fit, so the chunks are
  // the ones exact counting gives (issue 21: counting every row of every batch cost ~1 ms a batch).
  let size = 2;
  let exact = false;
  for (const row of rows) {
    const text = JSON.stringify(row);
    let length = 3 * text.length;
    if (exact || size + length + 1 > bytes) {
      if (!exact) size = part.reduce((n, p) => n + utf8Length(p) + 1, 2);
      exact = true;
      length = utf8Length(text);
    }
    if (part.length && size + length + 1 > bytes) {
      out.push(`[${part.join(',')}]`);
      part = [];
      size = 2;
      exact = false;
    }
    part.push(text);
    size += length + 1;
  }
  if (part.length) out.push(`[${part.join(',')}]`);
  return out;
}

/** Runs `query` on each chunk of `keys` (one after the other) and concatenates the rows. */
export async function queryInChunks<K, R>(
  keys: readonly K[],
  query: (part: K[]) => Promise<R[]>,
  size = IN_LIST_CHUNK,
): Promise<R[]> {
  const out: R[] = [];
  for (const part of chunk(keys, size)) out.push(...(await query(part)));
  return out;
}

/**
 * Runs statements in one D1 `batch()` (one round trip, one transaction) and returns each
 * statement's result in order; nothing is sent for an empty list.
 */
export async function runBatch(db: Db, statements: Statement[]): Promise<unknown[]> {
  const [first, ...rest] = statements;
  if (!first) return [];
  return (await db.batch([first, ...rest])) as unknown[];
}
