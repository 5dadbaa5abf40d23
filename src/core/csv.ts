// RFC 4180 CSV reading: comma-separated fields, `"`-quoted fields that may hold commas, line
// breaks and doubled quotes (`""`), from a whole text or chunk by chunk. Pure and synchronous; no
// platform imports.
import { utf8Length } from './utf8.js';

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
  const state: ScanState = { pos: text.charCodeAt(0) === 0xfeff ? 1 : 0, line: 1 };
  yield* scanRows(text, state, true, options.maxFieldBytes ?? MAX_CSV_FIELD_BYTES);
}

/**
 * Incremental reading of one CSV text that arrives in chunks (a file streamed from disk): `push`
 * returns the rows each chunk completes, `end` the rest. The rows, their line numbers and the
 * errors are those {@link readCsvRows} gives for the whole text, wherever the chunks are cut: a row
 * that is not complete yet (it may go on in the next chunk) is kept and read again with it.
 */
export class CsvChunkReader {
  private pending = '';
  private line = 1;
  private started = false;
  private readonly maxBytes: number;

  constructor(options: CsvOptions = {}) {
    this.maxBytes = options.maxFieldBytes ?? MAX_CSV_FIELD_BYTES;
  }

  /** The rows completed by `chunk`. */
  push(chunk: string): CsvRow[] {
    return this.read(chunk, false);
  }

  /** The rows left when the text has ended; a quoted field still open is a {@link CsvError}. */
  end(): CsvRow[] {
    return this.read('', true);
  }

  private read(chunk: string, final: boolean): CsvRow[] {
    let text = this.pending + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const state: ScanState = { pos: 0, line: this.line };
    const rows = [...scanRows(text, state, final, this.maxBytes)];
    this.pending = text.slice(state.pos);
    this.line = state.line;
    return rows;
  }
}

interface ScanState {
  /** Where the next row starts; after an incomplete scan, where the unfinished row starts. */
  pos: number;
  /** The physical line at `pos`. */
  line: number;
}

/** Thrown inside {@link scanRows} when the text ends inside a row that may go on (not `final`). */
const INCOMPLETE = Symbol('incomplete');

/**
 * Yields the rows of `text` from `state.pos`, advancing `state` past each. When not `final`, stops
 * before a row the text may not hold whole (its end could change with more text).
 */
function* scanRows(text: string, state: ScanState, final: boolean, maxBytes: number): Generator<CsvRow> {
  // A field of more than maxBytes UTF-16 units is certainly too big; below maxBytes / 3 it cannot be.
  const sure = Math.floor(maxBytes / 3);
  const n = text.length;
  let i = state.pos;
  let line = state.line;

  const check = (field: string, startLine: number) => {
    if (field.length > sure && (field.length > maxBytes || utf8Length(field, 0, field.length) > maxBytes))
      throw new CsvError(startLine, `field is larger than ${maxBytes} bytes`);
  };
  /** The text ends where more text could change what came before. */
  const open = (at: number) => !final && at >= n;

  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    let atLineEnd = false;
    // An empty line is no row.
    const first = text.charCodeAt(i);
    if (first === LF || first === CR) {
      if (first === CR && open(i + 1)) return;
      i += first === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      state.pos = i;
      state.line = line;
      continue;
    }
    try {
      while (!atLineEnd) {
        const fieldLine = line;
        let field: string;
        if (text.charCodeAt(i) === QUOTE) {
          const parts: string[] = [];
          let from = i + 1;
          let j = from;
          let size = 0;
          for (;;) {
            if (j >= n) {
              if (!final) throw INCOMPLETE;
              throw new CsvError(fieldLine, 'a quoted field is not closed (missing ")');
            }
            const c = text.charCodeAt(j);
            if (c === QUOTE) {
              if (open(j + 1)) throw INCOMPLETE;
              if (text.charCodeAt(j + 1) === QUOTE) {
                parts.push(text.slice(from, j + 1));
                j += 2;
                from = j;
                continue;
              }
              break;
            }
            if (c === LF) line++;
            else if (c === CR) {
              if (open(j + 1)) throw INCOMPLETE;
              if (text.charCodeAt(j + 1) !== LF) line++;
            }
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
        if (i >= n) {
          if (!final) throw INCOMPLETE;
          break;
        }
        const sep = text.charCodeAt(i);
        if (sep === COMMA) {
          i++;
          // A trailing comma at the end of the text still ends with an (empty) last field.
          if (i >= n) {
            if (!final) throw INCOMPLETE;
            fields.push('');
            break;
          }
          continue;
        }
        if (sep === CR && open(i + 1)) throw INCOMPLETE;
        i += sep === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
        line++;
        atLineEnd = true;
      }
    } catch (err) {
      if (err === INCOMPLETE) return;
      throw err;
    }
    state.pos = i;
    state.line = line;
    yield { line: rowLine, fields };
  }
  state.pos = i;
  state.line = line;
}

/** Quotes a value for a CSV field when it needs it (RFC 4180 §2.6–2.7). */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * What a spreadsheet evaluates at the start of a cell (OWASP "CSV Injection"): a formula (`=`, `+`,
 * `-`, `@`) and the tab and CR that some applications skip before one.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A field of a CSV file the product writes for people to open (`routes export`): quoted like
 * {@link formatCsvField}, and a value that a spreadsheet would evaluate as a formula starts with
 * `'` (OWASP's advice), as does a value that starts with `'` itself, so that
 * {@link readCsvExportCell} gives every value back exactly.
 */
export function formatCsvExportField(value: string): string {
  return formatCsvField(FORMULA_START.test(value) || value.startsWith("'") ? `'${value}` : value);
}

/**
 * A cell of a CSV file that may come from an export, as the value it stands for: a leading `'`
 * before a formula character or another `'` is the export's guard and is dropped; any other
 * apostrophe (`'abc`, `o'brien`) is the value's own.
 */
export function readCsvExportCell(cell: string): string {
  return cell.startsWith("'") && (FORMULA_START.test(cell.slice(1)) || cell[1] === "'")
    ? cell.slice(1)
    : cell;
}
