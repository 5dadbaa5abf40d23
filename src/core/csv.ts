// RFC 4180 CSV reading: comma-separated fields, `"`-quoted fields that may hold commas, line
// breaks and doubled quotes (`""`). Pure and synchronous; no platform imports.

/** Largest field accepted, in UTF-8 bytes: a bigger one is a broken file, not a CRM value. */
export const MAX_CSV_FIELD_BYTES = 1024 * 1024;

export interface CsvRow {
  /** 1-based physical line on which the row starts (the header is line 1). */
  line: number;
  fields: string[];
}

/** A malformed file; `line` is the physical line on which the offending field starts. */
export class CsvError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

export interface CsvOptions {
  /** Largest field in UTF-8 bytes (default {@link MAX_CSV_FIELD_BYTES}). */
  maxFieldBytes?: number;
}

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

/** UTF-8 length of `s[from, to)` without encoding it. */
function utf8Length(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Reads every row of a CSV text. Line breaks may be CRLF (RFC 4180 §2.1), LF or a lone CR; a
 * leading UTF-8 byte-order mark is dropped; empty lines are skipped (they still count for line
 * numbers). A quote inside an unquoted field is kept as a literal character (what spreadsheets
 * export for `O"Brien`), but text after a closing quote, an unterminated quote or a field over
 * the size limit is a {@link CsvError} naming the line.
 */
export function parseCsv(text: string, options: CsvOptions = {}): CsvRow[] {
  const rows: CsvRow[] = [];
  for (const row of readCsvRows(text, options)) rows.push(row);
  return rows;
}

/** The rows of a CSV text, one at a time (see {@link parseCsv}). */
export function* readCsvRows(text: string, options: CsvOptions = {}): Generator<CsvRow> {
  const maxBytes = options.maxFieldBytes ?? MAX_CSV_FIELD_BYTES;
  // A field of more than maxBytes UTF-16 units is certainly too big; below maxBytes / 3 it cannot be.
  const sure = Math.floor(maxBytes / 3);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;

  const check = (field: string, startLine: number) => {
    if (field.length > sure && (field.length > maxBytes || utf8Length(field, 0, field.length) > maxBytes))
      throw new CsvError(startLine, `field is larger than ${maxBytes} bytes`);
  };

  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    let atLineEnd = false;
    // An empty line is no row.
    const first = text.charCodeAt(i);
    if (first === LF || first === CR) {
      i += first === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }
    while (!atLineEnd) {
      const fieldLine = line;
      let field: string;
      if (text.charCodeAt(i) === QUOTE) {
        const parts: string[] = [];
        let from = i + 1;
        let j = from;
        let size = 0;
        for (;;) {
          if (j >= n) throw new CsvError(fieldLine, 'a quoted field is not closed (missing ")');
          const c = text.charCodeAt(j);
          if (c === QUOTE) {
            if (text.charCodeAt(j + 1) === QUOTE) {
              parts.push(text.slice(from, j + 1));
              j += 2;
              from = j;
              continue;
            }
            break;
          }
          if (c === LF) line++;
          else if (c === CR && text.charCodeAt(j + 1) !== LF) line++;
          j++;
          size++;
          if (size > maxBytes) throw new CsvError(fieldLine, `field is larger than ${maxBytes} bytes`);
        }
        parts.push(text.slice(from, j));
        field = parts.length === 1 ? (parts[0] as string) : parts.join('');
        i = j + 1;
        const next = text.charCodeAt(i);
        if (i < n && next !== COMMA && next !== CR && next !== LF)
          throw new CsvError(
            fieldLine,
            'unexpected text after a closing quote (quotes inside a field are written "")',
          );
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
        }
        if (j - i > maxBytes) throw new CsvError(fieldLine, `field is larger than ${maxBytes} bytes`);
        field = text.slice(i, j);
        i = j;
      }
      check(field, fieldLine);
      fields.push(field);
      if (i >= n) break;
      const sep = text.charCodeAt(i);
      if (sep === COMMA) {
        i++;
        // A trailing comma at the end of the text still ends with an (empty) last field.
        if (i >= n) {
          fields.push('');
          break;
        }
        continue;
      }
      i += sep === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      atLineEnd = true;
    }
    yield { line: rowLine, fields };
  }
}

/** Quotes a value for a CSV field when it needs it (RFC 4180 §2.6–2.7). */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
