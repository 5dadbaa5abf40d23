import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { readCsvRows } from '../../scripts/cli.mjs';
import { parseCsv } from '../../src/core/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-csv-'));

async function readAll(text: string, bufferSize: number) {
  const file = join(dir, 'rows.csv');
  writeFileSync(file, text);
  const rows: { line: number; fields: string[] }[] = [];
  for await (const row of readCsvRows(file, () => {}, bufferSize)) rows.push(row);
  return rows;
}

describe('the CLI streaming CSV reader', () => {
  test('reads what the API parser reads, wherever the read buffer cuts the text', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'é'), maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\r\n', '\n'),
        fc.integer({ min: 1, max: 16 }),
        async (table, eol, bufferSize) => {
          const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
          const text = table.map((r) => r.map(quote).join(',')).join(eol) + eol;
          expect(await readAll(text, bufferSize)).toEqual(parseCsv(text));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('an unterminated quote is an error naming the line', async () => {
    await expect(readAll('type,id\ncontact,"open\n', 4)).rejects.toThrow(
      'line 2: a quoted field is not closed (missing ")',
    );
  });
});
