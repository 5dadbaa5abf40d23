// crm-router records import: streams a CSV file through the core CSV reader and posts it in chunks.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { MAX_RECORDS_PER_REQUEST } from '../../src/central/contract/schemas.js';
import { CsvChunkReader, CsvError, type CsvRow, formatCsvField } from '../../src/core/csv.js';
import { errorCode } from '../errors.js';
import { CliError, type Command, first, need, type Settings, type Values } from './common.js';

export const recordsImport: Command = {
  usage: 'crm-router records import <file.csv> --deployment <id> [--chunk 5000] [--strict] [--dry-run]',
  about: `Imports CRM records from a CSV file with a header row naming the columns
type,id,name,emails,emailEnabled (addresses in emails separated by ";"). The file is streamed and
posted in chunks; a progress bar with rows/s goes to stderr, then a summary of created, updated and
rejected rows, each rejected row with its line number.
  --deployment <id>  the CRM deployment (required)
  --chunk <n>        rows per request (default 5000, at most 50000)
  --strict           validate the whole file first; write nothing if any row is invalid
  --dry-run          validate only
Invalid rows (bad address, unknown type, duplicate type + id anywhere in the file) are skipped and
listed. Exit status: 0 all rows imported, 2 some rows rejected, 1 error.`,
  options: {
    deployment: { type: 'string' },
    chunk: { type: 'string' },
    strict: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  run,
};

/**
 * Streams the RFC 4180 rows of a file through the core CSV reader (the one the API parses uploads
 * with), chunk by chunk: yields `{ line, fields }`, `line` being the physical line the row starts on.
 */
export async function* readCsvFile(
  path: string,
  onBytes: (bytes: number) => void = () => {},
  bufferSize = 1 << 20,
): AsyncGenerator<CsvRow> {
  const reader = new CsvChunkReader();
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: bufferSize });
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      onBytes(Buffer.byteLength(chunk));
      yield* reader.push(chunk);
    }
    yield* reader.end();
  } catch (err) {
    if (err instanceof CsvError) throw new CliError(err.message);
    throw err;
  }
}

function formatRate(rows: number, ms: number): string {
  return `${Math.round(rows / Math.max(ms / 1000, 0.001)).toLocaleString('en-US')} rows/s`;
}

export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

interface Rejected {
  line: number | null;
  field: string;
  message: string;
}

async function run(cfg: Settings, values: Values, positionals: string[]): Promise<void> {
  await importRecordsFile(cfg, values, positionals);
}

/** `records import`, also the first step of `records sync` (`sync`: stamp the rows with that sync). */
export async function importRecordsFile(
  cfg: Settings,
  values: Values,
  positionals: string[],
  opts: { sync?: string } = {},
) {
  const file = first(positionals, '<file.csv>');
  const deployment = need(values, 'deployment');
  const chunkSize = Number(values.chunk ?? 5000);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_RECORDS_PER_REQUEST)
    throw new CliError(`--chunk must be an integer from 1 to ${MAX_RECORDS_PER_REQUEST}`);
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
  const tty = process.stderr.isTTY;
  const started = Date.now();

  /** One pass over the file; `mode` is 'validate' (dry run) or 'write'. */
  const pass = async (mode: 'validate' | 'write') => {
    let bytesRead = 0;
    let header: string | undefined;
    let headerCols: string[] = [];
    const seen = new Map<string, number>();
    const totals = { created: 0, updated: 0, rejected: 0, rows: 0, requests: 0 };
    const rejected: Rejected[] = [];
    let batch: CsvRow[] = [];
    const passStarted = Date.now();
    let lastDraw = 0;
    let lastText = '';
    const draw = (force = false) => {
      const now = Date.now();
      if (!force && now - lastDraw < 100) return;
      lastDraw = now;
      const label = mode === 'validate' ? 'validating' : 'importing';
      const text = `${label} ${progressBar(bytesRead, size)} ${totals.rows.toLocaleString('en-US')} rows · ${formatRate(totals.rows, now - passStarted)}`;
      if (tty) process.stderr.write(`\r${text}\x1b[K`);
      // Without a terminal, one line per request (and none repeated).
      else if (force && text.replace(/ · .*/, '') !== lastText) process.stderr.write(`${text}\n`);
      lastText = text.replace(/ · .*/, '');
    };
    const flush = async () => {
      if (batch.length === 0) return;
      // Physical line of each row in the request body, so that the answer maps back to file lines.
      const lineMap = new Map<number, number>();
      let chunkLine = 2;
      const body = [header as string];
      for (const row of batch) {
        const text = row.fields.map(formatCsvField).join(',');
        lineMap.set(chunkLine, row.line);
        chunkLine += 1 + (text.match(/\r\n|\r|\n/g)?.length ?? 0);
        body.push(text);
      }
      const res = await cfg.api.records.importCsv(deployment, `${body.join('\r\n')}\r\n`, {
        dryRun: mode === 'validate',
        sync: opts.sync,
      });
      totals.requests++;
      totals.created += res.created;
      totals.updated += res.updated;
      totals.rejected += res.rejected;
      for (const e of res.errors) {
        const line = e.line === undefined ? null : (lineMap.get(e.line) ?? e.line);
        rejected.push({ line, field: e.field, message: e.message });
      }
      if (res.errors.length < res.rejected)
        rejected.push({
          line: null,
          field: '(more)',
          message: `${res.rejected - res.errors.length} more rejected rows not listed`,
        });
      batch = [];
      draw(true);
    };
    for await (const row of readCsvFile(file, (b) => {
      bytesRead += b;
    })) {
      if (!header) {
        header = row.fields.map(formatCsvField).join(',');
        headerCols = row.fields.map((f) => f.trim().toLowerCase());
        continue;
      }
      totals.rows++;
      // Duplicates across requests are caught here (the API catches those within one request).
      const type = (row.fields[headerCols.indexOf('type')] ?? '').trim().toLowerCase();
      const id = (row.fields[headerCols.indexOf('id')] ?? '').trim();
      const key = `${type}\0${id}`;
      const first = seen.get(key);
      if (type && id && first !== undefined) {
        totals.rejected++;
        rejected.push({ line: row.line, field: 'id', message: `duplicate of line ${first} (${type} ${id})` });
        continue;
      }
      if (type && id) seen.set(key, row.line);
      batch.push(row);
      if (batch.length >= chunkSize) await flush();
      draw();
    }
    if (!header) throw new CliError(`${file} is empty (a header row is required)`);
    await flush();
    draw(true);
    if (tty) process.stderr.write('\n');
    rejected.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
    return { totals, rejected };
  };

  if (values.strict && !values['dry-run']) {
    const check = await pass('validate');
    if (check.totals.rejected > 0) {
      printRejected(check.rejected);
      throw new CliError(
        `${check.totals.rejected} invalid row(s) in ${basename(file)}; nothing was written (--strict)`,
        2,
      );
    }
  }
  const result = await pass(values['dry-run'] ? 'validate' : 'write');
  const ms = Date.now() - started;
  const { totals, rejected } = result;
  if (values.json) {
    console.log(JSON.stringify({ ...totals, ms, rejectedRows: rejected }, null, 2));
  } else {
    const verb = values['dry-run'] ? 'validated (dry run, nothing written)' : 'imported';
    console.log(
      `${basename(file)}: ${totals.rows.toLocaleString('en-US')} rows ${verb} in ${(ms / 1000).toFixed(1)} s (${formatRate(totals.rows, ms)}, ${totals.requests} requests)`,
    );
    if (!values['dry-run'])
      console.log(`created ${totals.created}, updated ${totals.updated}, rejected ${totals.rejected}`);
    else console.log(`valid ${totals.rows - totals.rejected}, rejected ${totals.rejected}`);
    printRejected(rejected);
  }
  if (totals.rejected > 0) process.exitCode = 2;
  return totals;
}

function printRejected(rejected: Rejected[]) {
  if (rejected.length === 0) return;
  console.log('rejected rows:');
  for (const r of rejected)
    console.log(`  ${r.line === null ? '' : `line ${r.line}: `}${r.field}: ${r.message}`);
}
