import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  CsvChunkReader,
  CsvError,
  type CsvRow,
  formatCsvExportField,
  formatCsvField,
  parseCsv,
  readCsvExportCell,
} from '../../src/core/csv.js';

describe('parseCsv', () => {
  const row = (line: number, ...fields: string[]): CsvRow => ({ line, fields });

  test.each<[string, string, CsvRow[]]>([
    [
      'reads a header and rows with CRLF line breaks',
      'type,id,emails\r\ncontact,c1,a@x.com\r\n',
      [row(1, 'type', 'id', 'emails'), row(2, 'contact', 'c1', 'a@x.com')],
    ],
    [
      'accepts LF and lone CR line breaks and a missing final line break',
      'a,b\nc,d\re,f',
      [row(1, 'a', 'b'), row(2, 'c', 'd'), row(3, 'e', 'f')],
    ],
    [
      'quoted fields keep commas, doubled quotes and line breaks',
      '"Smith, John","say ""hi""","two\r\nlines"\nnext,row,here',
      [row(1, 'Smith, John', 'say "hi"', 'two\r\nlines'), row(3, 'next', 'row', 'here')],
    ],
    [
      'empty fields, empty quoted fields and a trailing comma are empty strings',
      'a,,""\n,\nx,',
      [row(1, 'a', '', ''), row(2, '', ''), row(3, 'x', '')],
    ],
    [
      'blank lines are skipped but still counted for line numbers',
      'h\r\n\r\nrow\n\n\nlast\n',
      [row(1, 'h'), row(3, 'row'), row(6, 'last')],
    ],
    ['a leading byte-order mark is dropped', '\uFEFFtype,id\n', [row(1, 'type', 'id')]],
    ['a quote inside an unquoted field is kept literally', 'O"Brien,x', [row(1, 'O"Brien', 'x')]],
  ])('%s', (_name, csv, rows) => {
    expect(parseCsv(csv)).toEqual(rows);
  });

  test('an unterminated quote is an error naming the line where the field starts', () => {
    expect(() => parseCsv('a,b\nc,"never\nclosed')).toThrow(
      new CsvError(2, 'a quoted field is not closed (missing ")'),
    );
  });

  test('text after a closing quote is an error naming the line', () => {
    const err = (() => {
      try {
        parseCsv('a\n"x"y,z');
      } catch (e) {
        return e as CsvError;
      }
    })();
    expect(err).toBeInstanceOf(CsvError);
    expect(err?.line).toBe(2);
    expect(err?.message).toMatch(/^line 2: unexpected text after a closing quote/);
  });

  test('a field over 1 MB is an error naming its line, quoted or not', () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    expect(() => parseCsv(`h\nok\n${big}`)).toThrow(/^line 3: field is larger than 1048576 bytes$/);
    expect(() => parseCsv(`h\n"${big}"`)).toThrow(/^line 2: field is larger than 1048576 bytes$/);
  });

  test('the size limit counts UTF-8 bytes, not characters', () => {
    const euros = '€'.repeat(400); // 1200 bytes in UTF-8
    expect(() => parseCsv(euros, { maxFieldBytes: 1000 })).toThrow(
      /^line 1: field is larger than 1000 bytes$/,
    );
    expect(parseCsv('€'.repeat(333), { maxFieldBytes: 1000 })).toHaveLength(1);
  });

  test('formatting then parsing any table gives the same table back', () => {
    const cell = fc.string({
      unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', 'é', '😀'),
      maxLength: 8,
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        (table) => {
          // Rows whose only field would be empty are blank lines; keep at least one non-empty field.
          const rows = table.map((r) => (r.every((f) => f === '') ? ['x', ...r.slice(1)] : r));
          const text = rows.map((r) => r.map(formatCsvField).join(',')).join('\r\n');
          expect(parseCsv(text).map((r) => r.fields)).toEqual(rows);
        },
      ),
    );
  });
});

describe('CsvChunkReader (the CLI streams a file through it)', () => {
  const readChunked = (text: string, cuts: number[]) => {
    const reader = new CsvChunkReader();
    const rows: CsvRow[] = [];
    let at = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      rows.push(...reader.push(text.slice(at, Math.max(at, cut))));
      at = Math.max(at, cut);
    }
    rows.push(...reader.push(text.slice(at)));
    rows.push(...reader.end());
    return rows;
  };

  test('reads the rows and line numbers of the whole text, wherever the chunks are cut', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'é'), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\r\n', '\n', '\r'),
        fc.boolean(),
        fc.array(fc.nat(80), { maxLength: 8 }),
        (table, eol, bom, cuts) => {
          const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
          const text = (bom ? '\ufeff' : '') + table.map((r) => r.map(quote).join(',')).join(eol) + eol;
          expect(readChunked(text, cuts)).toEqual(parseCsv(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a row without a final line break is read at the end; a trailing comma keeps its empty field', () => {
    expect(readChunked('type,id\ncontact,c1,', [3, 9, 15])).toEqual([
      { line: 1, fields: ['type', 'id'] },
      { line: 2, fields: ['contact', 'c1', ''] },
    ]);
  });

  test('an unterminated quote is an error naming the line, even cut into one-character chunks', () => {
    const text = 'type,id\ncontact,"open\n';
    expect(() =>
      readChunked(
        text,
        Array.from(text, (_, i) => i),
      ),
    ).toThrow('line 2: a quoted field is not closed (missing ")');
  });
});

describe('CSV exports (OWASP CSV injection: a spreadsheet must not run a cell as a formula)', () => {
  test.each([
    ['=HYPERLINK("http://evil.example","x")', `"'=HYPERLINK(""http://evil.example"",""x"")"`],
    ['+1+cmd|/C calc!A0', "'+1+cmd|/C calc!A0"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['\r=1', `"'\r=1"`],
    ["'=1", "''=1"],
    ["'", "''"],
  ])('%j is written with a leading apostrophe: %s', (value, cell) => {
    expect(formatCsvExportField(value)).toBe(cell);
  });

  test.each(['ann@contoso.example', "o'brien@contoso.example", 'a=b', 'eu', ''])(
    '%j is written as it is',
    (value) => {
      expect(formatCsvExportField(value)).toBe(formatCsvField(value));
    },
  );

  test('an exported cell reads back as the value it was (the export → import round trip)', () => {
    const cell = fc.string({
      unit: fc.constantFrom('=', '+', '-', '@', '\t', '\r', "'", 'a', ',', '"', '\n', ' '),
      maxLength: 6,
    });
    fc.assert(
      fc.property(fc.array(cell, { minLength: 2, maxLength: 4 }), (row) => {
        const fields = row.every((f) => f === '') ? ['x', ...row.slice(1)] : row;
        const text = fields.map(formatCsvExportField).join(',');
        const cells = parseCsv(text)[0]?.fields ?? [];
        // What a spreadsheet sees in each cell starts with nothing it would evaluate.
        expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
        expect(parseCsv(text)[0]?.fields.map(readCsvExportCell)).toEqual(fields);
      }),
      { numRuns: 500 },
    );
  });

  test('a typed apostrophe before a letter is kept as it is on import', () => {
    expect(readCsvExportCell("'abc")).toBe("'abc");
    expect(readCsvExportCell("'=1")).toBe('=1');
  });
});
