// crm-router: the admin CLI for the central API (records import, routes, sending and promoting
// mail, stats, tokens, rule scripts). Run by the `crm-router` launcher (scripts/crm-router) with tsx.
import { createReadStream, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CsvChunkReader, CsvError, type CsvRow, formatCsvField } from '../src/core/csv.js';
import { FILTER_MODES, type FilterMode } from '../src/core/types.js';
import { DEFAULT_PORTS, errorCode, errorMessage, isRegion, LOCAL_ADMIN_TOKEN } from './network.js';

const DEFAULT_CENTRAL = `http://127.0.0.1:${DEFAULT_PORTS.central}`;
const DEFAULT_TOKEN = LOCAL_ADMIN_TOKEN;
const EDGE_PORTS = { us: DEFAULT_PORTS.us, eu: DEFAULT_PORTS.eu, apac: DEFAULT_PORTS.apac };
const FILTERS: readonly string[] = FILTER_MODES;
const ROUTE_HEADER = 'address,region,deployment,userId,filter';

/** The reason a fetch failed (Node wraps it: `TypeError: fetch failed` with the socket error as cause). */
const networkReason = errorCode;

/** An error whose message is printed as is, then the process exits with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

type Values = Record<string, string | boolean | undefined>;
interface Settings {
  central: string;
  token: string;
}
interface Command {
  usage: string;
  about: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run: (cfg: Settings, values: Values, positionals: string[]) => Promise<unknown>;
}

const GLOBAL_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  central: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const GLOBAL_HELP = `Global options:
  --central <url>   central API (default $CRM_CENTRAL_URL or ${DEFAULT_CENTRAL})
  --token <token>   API token (default $CRM_TOKEN or ${DEFAULT_TOKEN})
  --json            print the API's JSON answer instead of a summary
  -h, --help        help for a command`;

const COMMANDS: Record<string, Command> = {
  'records import': {
    usage: 'crm-router records import <file.csv> --deployment <id> [--chunk 5000] [--strict] [--dry-run]',
    about: `Imports CRM records from a CSV file with a header row naming the columns
type,id,name,emails,emailEnabled (addresses in emails separated by ";"). The file is streamed and
posted in chunks; a progress bar with rows/s goes to stderr, then a summary of created, updated and
rejected rows, each rejected row with its line number.
  --deployment <id>  the CRM deployment (required)
  --chunk <n>        rows per request (default 5000, at most 200000)
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
    run: recordsImport,
  },
  'records sync': {
    usage: 'crm-router records sync <file.csv> --deployment <id> [--chunk 5000] [--force]',
    about: `Full sync from a CRM export: imports the file like "records import" (with progress), then
removes every record of the deployment that the file did not carry. If any row is rejected the
sync is left open and nothing is removed (--force removes anyway). An interrupted sync removes
nothing.`,
    options: { deployment: { type: 'string' }, chunk: { type: 'string' }, force: { type: 'boolean' } },
    run: recordsSync,
  },
  'records delete': {
    usage: 'crm-router records delete <type> <id> --deployment <id> [--deactivate] | --file <keys.csv>',
    about: `Deletes (or with --deactivate, deactivates) a record, or every record named in a CSV file
with the columns type,id.`,
    options: { deployment: { type: 'string' }, deactivate: { type: 'boolean' }, file: { type: 'string' } },
    run: recordsDelete,
  },
  'routes import': {
    usage: 'crm-router routes import <routes.csv> [--chunk 5000] [--dry-run]',
    about: `Routes many mailboxes from a CSV file with the header ${ROUTE_HEADER} (filter optional),
with the rules of "routes add". Every row is validated first; one bad row writes nothing.
Moving a department to another region: export, change the region column, import.`,
    options: { chunk: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    run: routesImport,
  },
  'routes export': {
    usage: 'crm-router routes export [--region <id>] [--deployment <id>] > routes.csv',
    about: `Writes every mailbox route as CSV (${ROUTE_HEADER}) to stdout.`,
    options: { region: { type: 'string' }, deployment: { type: 'string' } },
    run: routesExport,
  },
  'routes add': {
    usage:
      'crm-router routes add <address> --region <id> --deployment <id> --user <userId> [--filter email-enabled]',
    about: `Routes a mailbox to a region's edge for a deployment (or changes its route).
  --filter   ${FILTERS.join(' | ')} (default email-enabled)`,
    options: {
      region: { type: 'string' },
      deployment: { type: 'string' },
      user: { type: 'string' },
      filter: { type: 'string' },
    },
    run: routesAdd,
  },
  'routes move': {
    usage: 'crm-router routes move <address> --region <id>',
    about: 'Moves a routed mailbox to another region, keeping its deployment, user and filter.',
    options: { region: { type: 'string' } },
    run: routesMove,
  },
  'routes list': {
    usage: 'crm-router routes list [--region <id>] [--deployment <id>] [--search <text>]',
    about: 'Lists mailbox routes.',
    options: { region: { type: 'string' }, deployment: { type: 'string' }, search: { type: 'string' } },
    run: routesList,
  },
  send: {
    usage: 'crm-router send <file.eml> --region <us|eu|apac> [--from <addr>] [--to <addr>] [--edge <url>]',
    about: `Sends a raw message to a local edge as Email Routing would (POST /cdn-cgi/handler/email).
  --region   the edge to send to; ports ${Object.entries(EDGE_PORTS)
    .map(([r, p]) => `${r} ${p}`)
    .join(', ')} (or $EDGE_<REGION>_PORT)
  --from     envelope sender (default: the message's From address)
  --to       envelope recipient (default crm@<region>.edge.localhost)
  --edge     the edge's base URL, overriding --region's port`,
    options: {
      region: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      edge: { type: 'string' },
    },
    run: send,
  },
  promote: {
    usage: 'crm-router promote <file.eml> --deployment <id> --mailbox <address>',
    about: 'Tracks a message by hand ("Track in CRM") for a routed mailbox of the deployment.',
    options: { deployment: { type: 'string' }, mailbox: { type: 'string' } },
    run: promote,
  },
  stats: {
    usage: 'crm-router stats [--since <ISO time or ms>]',
    about: 'Per-region traffic, cross-region bytes against forward-everything, latency and edge health.',
    options: { since: { type: 'string' } },
    run: stats,
  },
  'tokens create': {
    usage: 'crm-router tokens create --scope <scope> [--label <text>]',
    about:
      'Mints an API token; scope: admin | deployment:<id> | edge:<region> | user:<deployment>/<userId>.\nThe token is printed once.',
    options: { scope: { type: 'string' }, label: { type: 'string' } },
    run: tokensCreate,
  },
  'tokens list': {
    usage: 'crm-router tokens list',
    about: 'Lists tokens (never their plaintext).',
    options: {},
    run: tokensList,
  },
  'tokens revoke': {
    usage: 'crm-router tokens revoke <id>',
    about: 'Revokes a token.',
    options: {},
    run: tokensRevoke,
  },
  rules: {
    usage: 'crm-router rules <region> [--format exchange|sieve|gmail] [--deployment <id>]',
    about: "Prints the forwarding rules (or their removal) for the region's routed mailboxes.",
    options: { format: { type: 'string' }, deployment: { type: 'string' } },
    run: rules,
  },
};

function mainHelp() {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `crm-router: admin CLI of the CRM edge router

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.about.split('\n')[0]}`)
  .join('\n')}

${GLOBAL_HELP}

Run "crm-router <command> --help" for a command's options.`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

function settings(values: Values): Settings {
  const central = (str(values.central) ?? process.env.CRM_CENTRAL_URL ?? DEFAULT_CENTRAL).replace(/\/+$/, '');
  const token = str(values.token) ?? process.env.CRM_TOKEN ?? DEFAULT_TOKEN;
  return { central, token };
}

/** Calls central; throws a CliError with the API's own error message on a non-2xx answer. */
const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

interface CallOptions {
  body?: unknown;
  raw?: string | Uint8Array;
  contentType?: string;
  accept?: string;
  okStatuses?: number[];
}

// biome-ignore lint/suspicious/noExplicitAny: answers are typed by the client in a later step
type Json = any;

async function call(
  cfg: Settings,
  method: string,
  path: string,
  { body, raw, contentType, accept, okStatuses }: CallOptions = {},
): Promise<{ status: number; json: Json; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${cfg.token}` };
  if (accept) headers.accept = accept;
  let payload: string | Uint8Array | undefined = raw;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  } else if (contentType) headers['content-type'] = contentType;
  let res: Response;
  try {
    res = await fetch(`${cfg.central}${path}`, { method, headers, body: payload as BodyInit | undefined });
  } catch (err) {
    throw new CliError(`cannot reach central at ${cfg.central}: ${networkReason(err)}`);
  }
  const text = await res.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok && !okStatuses?.includes(res.status)) {
    const message = json?.error?.message ?? (text.slice(0, 500) || res.statusText);
    const code = json?.error?.code ? ` ${json.error.code}` : '';
    throw new CliError(`${method} ${path}: ${res.status}${code}: ${message}`);
  }
  return { status: res.status, json, text };
}

function need(values: Values, name: string, hint = ''): string {
  const v = str(values[name]);
  if (v === undefined || v === '') throw new CliError(`missing --${name}${hint ? ` (${hint})` : ''}`);
  return v;
}

function print(values: Values, json: unknown, summary: string) {
  console.log(values.json ? JSON.stringify(json, null, 2) : summary);
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: unknown[]) =>
    cells
      .map((cell, i) => String(cell ?? '').padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => r[c]))),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// records import

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

function progressBar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

interface Rejected {
  line: number | null;
  field: string;
  message: string;
}

async function recordsImport(cfg: Settings, values: Values, positionals: string[], extraQuery = '') {
  const file = positionals[0];
  if (!file) throw new CliError('missing <file.csv>');
  const deployment = need(values, 'deployment');
  const chunkSize = Number(values.chunk ?? 5000);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 200_000)
    throw new CliError('--chunk must be an integer from 1 to 200000');
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
  const path = `/api/v1/deployments/${encodeURIComponent(deployment)}/records`;
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
      const query = (mode === 'validate' ? '?dryRun=true&onInvalid=skip' : '?onInvalid=skip') + extraQuery;
      const res = await call(cfg, 'POST', `${path}${query}`, {
        raw: `${body.join('\r\n')}\r\n`,
        contentType: 'text/csv; charset=utf-8',
      });
      totals.requests++;
      totals.created += res.json.created;
      totals.updated += res.json.updated;
      totals.rejected += res.json.rejected;
      for (const e of res.json.errors)
        rejected.push({ line: lineMap.get(e.line) ?? e.line, field: e.field, message: e.message });
      if (res.json.errors.length < res.json.rejected)
        rejected.push({
          line: null,
          field: '(more)',
          message: `${res.json.rejected - res.json.errors.length} more rejected rows not listed`,
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

// ---------------------------------------------------------------------------------------------
// records sync, records delete

async function recordsSync(cfg: Settings, values: Values, positionals: string[]) {
  const deployment = need(values, 'deployment');
  const base = `/api/v1/deployments/${encodeURIComponent(deployment)}`;
  const sync = (await call(cfg, 'POST', `${base}/record-syncs`)).json;
  if (!values.json) console.error(`sync ${sync.id} started`);
  const totals = await recordsImport(
    cfg,
    { ...values, json: false },
    positionals,
    `&sync=${encodeURIComponent(sync.id)}`,
  );
  if (totals.rejected > 0 && !values.force) {
    throw new CliError(
      `${totals.rejected} row(s) rejected: sync ${sync.id} left open, nothing removed (fix the file and sync again, or --force to remove every record not imported)`,
      2,
    );
  }
  let done = sync;
  for (;;) {
    done = (await call(cfg, 'POST', `${base}/record-syncs/${encodeURIComponent(sync.id)}/complete`)).json;
    if (process.stderr.isTTY)
      process.stderr.write(`\rremoving records not in the export: ${done.removed}\x1b[K`);
    if (done.status === 'completed') break;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  print(values, done, `sync ${done.id} completed: ${done.received} records carried, ${done.removed} removed`);
}

async function recordsDelete(cfg: Settings, values: Values, positionals: string[]) {
  const deployment = need(values, 'deployment');
  const base = `/api/v1/deployments/${encodeURIComponent(deployment)}/records`;
  const verb = values.deactivate ? 'deactivate' : 'delete';
  const file = str(values.file);
  if (!file) {
    const [type, id] = positionals;
    if (!type || !id) throw new CliError('give <type> <id>, or --file <keys.csv>');
    const res = await call(
      cfg,
      'DELETE',
      `${base}/${encodeURIComponent(type)}/${encodeURIComponent(id)}${values.deactivate ? '?deactivate=true' : ''}`,
    );
    print(values, res.json, `${verb}d ${type} ${id}`);
    return;
  }
  let cols: string[] | undefined;
  let batch: Array<{ type: string; id: string }> = [];
  const totals = { requested: 0, removed: 0, notFound: 0 };
  const flush = async () => {
    if (!batch.length) return;
    const res = await call(cfg, 'POST', `${base}/${verb}`, { body: { records: batch } });
    totals.requested += res.json.requested;
    totals.removed += res.json.removed;
    totals.notFound += res.json.notFound;
    batch = [];
    if (process.stderr.isTTY)
      process.stderr.write(`\r${verb}: ${totals.removed} of ${totals.requested}\x1b[K`);
  };
  for await (const row of readCsvFile(file)) {
    if (!cols) {
      cols = row.fields.map((f) => f.trim().toLowerCase());
      if (!cols.includes('type') || !cols.includes('id'))
        throw new CliError(`${file}: the header must name the columns type and id`);
      continue;
    }
    batch.push({
      type: (row.fields[cols.indexOf('type')] ?? '').trim().toLowerCase(),
      id: (row.fields[cols.indexOf('id')] ?? '').trim(),
    });
    if (batch.length >= 5000) await flush();
  }
  await flush();
  if (process.stderr.isTTY) process.stderr.write('\n');
  print(values, totals, `${verb}d ${totals.removed} record(s); ${totals.notFound} not found`);
}

// ---------------------------------------------------------------------------------------------
// routes import, routes export

async function routesImport(cfg: Settings, values: Values, positionals: string[]) {
  const file = positionals[0];
  if (!file) throw new CliError('missing <routes.csv>');
  const chunk = Number(values.chunk ?? 5000);
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000)
    throw new CliError('--chunk must be an integer from 1 to 10000');
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
  // Two passes: validate every chunk first (dryRun), so that a bad row anywhere writes nothing.
  const pass = async (dryRun: boolean) => {
    let header: string | undefined;
    let rows: CsvRow[] = [];
    let bytes = 0;
    let done = 0;
    const totals = { created: 0, moved: 0, updated: 0 };
    const errors: Array<{ line: number; field: string; message: string }> = [];
    const flush = async () => {
      if (!rows.length) return;
      const lineMap = new Map<number, number>();
      const body = [header as string];
      rows.forEach((r, i) => {
        lineMap.set(i + 2, r.line);
        body.push(r.fields.map(formatCsvField).join(','));
      });
      const res = await call(cfg, 'POST', `/api/v1/mailboxes${dryRun ? '?dryRun=true' : ''}`, {
        raw: `${body.join('\r\n')}\r\n`,
        contentType: 'text/csv; charset=utf-8',
        okStatuses: [400, 403],
      });
      if (res.status !== 200) {
        if (!res.json?.errors) throw new CliError(res.json?.error?.message ?? res.text);
        for (const e of res.json.errors)
          errors.push({ line: lineMap.get(e.line) ?? e.line, field: e.field, message: e.message });
      } else {
        totals.created += res.json.created;
        totals.moved += res.json.moved;
        totals.updated += res.json.updated;
      }
      done += rows.length;
      rows = [];
      const text = `${dryRun ? 'validating' : 'routing'} ${progressBar(bytes, size)} ${done.toLocaleString('en-US')} routes`;
      if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K`);
      else process.stderr.write(`${text}\n`);
    };
    for await (const row of readCsvFile(file, (b) => {
      bytes += b;
    })) {
      if (!header) {
        header = row.fields.map(formatCsvField).join(',');
        continue;
      }
      rows.push(row);
      if (rows.length >= chunk) await flush();
    }
    if (!header) throw new CliError(`${file} is empty (a header row is required)`);
    await flush();
    if (process.stderr.isTTY) process.stderr.write('\n');
    return { totals, errors, done };
  };
  const check = await pass(true);
  if (check.errors.length) {
    for (const e of check.errors) console.log(`  line ${e.line}: ${e.field}: ${e.message}`);
    throw new CliError(`${check.errors.length} invalid row(s) in ${basename(file)}; nothing was written`, 2);
  }
  if (values['dry-run']) {
    print(values, check, `${check.done} routes valid (dry run, nothing written)`);
    return;
  }
  const result = await pass(false);
  print(
    values,
    result.totals,
    `${result.done} routes: created ${result.totals.created}, moved ${result.totals.moved}, updated ${result.totals.updated}`,
  );
}

async function routesExport(cfg: Settings, values: Values) {
  const q = new URLSearchParams({ limit: '5000' });
  for (const k of ['region', 'deployment'] as const) {
    const v = str(values[k]);
    if (v) q.set(k, v);
  }
  const out: string[] = [ROUTE_HEADER];
  let after: string | undefined;
  for (;;) {
    if (after) q.set('after', after);
    const page = (await call(cfg, 'GET', `/api/v1/mailboxes?${q}`)).json.items as Array<
      Record<string, string>
    >;
    for (const m of page)
      out.push(
        [m.address, m.region, m.deployment, m.userId, m.filter].map((f) => formatCsvField(f ?? '')).join(','),
      );
    if (page.length < 5000) break;
    after = page[page.length - 1]?.address;
  }
  process.stdout.write(`${out.join('\r\n')}\r\n`);
  if (process.stderr.isTTY) process.stderr.write(`${out.length - 1} routes\n`);
}

function printRejected(rejected: Rejected[]) {
  if (rejected.length === 0) return;
  console.log('rejected rows:');
  for (const r of rejected)
    console.log(`  ${r.line === null ? '' : `line ${r.line}: `}${r.field}: ${r.message}`);
}

// ---------------------------------------------------------------------------------------------
// routes

async function routesAdd(cfg: Settings, values: Values, positionals: string[]) {
  const address = positionals[0];
  if (!address) throw new CliError('missing <address>');
  const filter = (str(values.filter) ?? 'email-enabled') as FilterMode;
  if (!FILTERS.includes(filter)) throw new CliError(`--filter must be one of ${FILTERS.join(', ')}`);
  const body = {
    region: need(values, 'region'),
    deployment: need(values, 'deployment'),
    userId: need(values, 'user', 'the CRM user id of the mailbox owner'),
    filter,
  };
  const res = await call(cfg, 'PUT', `/api/v1/mailboxes/${encodeURIComponent(address)}`, { body });
  const m = res.json;
  print(
    values,
    m,
    `routed ${m.address} → region ${m.region}, deployment ${m.deployment}, user ${m.userId}, filter ${m.filter}`,
  );
}

async function routesMove(cfg: Settings, values: Values, positionals: string[]) {
  const address = positionals[0];
  if (!address) throw new CliError('missing <address>');
  const region = need(values, 'region');
  const path = `/api/v1/mailboxes/${encodeURIComponent(address)}`;
  const current = (await call(cfg, 'GET', path)).json;
  const res = await call(cfg, 'PUT', path, {
    body: { region, deployment: current.deployment, userId: current.userId, filter: current.filter },
  });
  print(values, res.json, `moved ${res.json.address}: region ${current.region} → ${res.json.region}`);
}

async function routesList(cfg: Settings, values: Values) {
  const q = new URLSearchParams();
  const region = str(values.region);
  const deployment = str(values.deployment);
  const search = str(values.search);
  if (region) q.set('region', region);
  if (deployment) q.set('deployment', deployment);
  if (search) q.set('q', search);
  q.set('limit', '5000');
  const res = await call(cfg, 'GET', `/api/v1/mailboxes?${q}`);
  print(
    values,
    res.json,
    table(
      res.json.items.map((m: Json) => ({
        address: m.address,
        region: m.region,
        deployment: m.deployment,
        user: m.userId,
        filter: m.filter,
      })),
      ['address', 'region', 'deployment', 'user', 'filter'],
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// mail

function readMessage(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
}

/** The From address of a raw message's header block, for a default envelope sender. */
function headerFrom(raw: Buffer): string | undefined {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw
    .subarray(0, end >= 0 ? end : Math.min(raw.length, 65536))
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const from = /^from:(.*)$/im.exec(head)?.[1] ?? '';
  return /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /([^\s<>",;:]+@[^\s<>",;:]+)/.exec(from)?.[1];
}

async function send(_cfg: Settings, values: Values, positionals: string[]) {
  const file = positionals[0];
  if (!file) throw new CliError('missing <file.eml>');
  const raw = readMessage(file);
  let edge = str(values.edge);
  const region = str(values.region);
  if (!edge) {
    if (!region) throw new CliError('missing --region (us, eu, apac) or --edge <url>');
    const envPort = process.env[`EDGE_${region.toUpperCase()}_PORT`];
    const port = envPort ? Number(envPort) : isRegion(region) ? EDGE_PORTS[region] : undefined;
    if (!port)
      throw new CliError(
        `no local edge port known for region ${region}: pass --edge <url> or set EDGE_${region.toUpperCase()}_PORT`,
      );
    edge = `http://127.0.0.1:${port}`;
  }
  edge = edge.replace(/\/+$/, '');
  const from = str(values.from) ?? headerFrom(raw) ?? 'sender@example.com';
  const to = str(values.to) ?? `crm@${region ?? 'us'}.edge.localhost`;
  const url = `${edge}/cdn-cgi/handler/email?${new URLSearchParams({ from, to })}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822' },
      body: new Uint8Array(raw),
    });
  } catch (err) {
    throw new CliError(`cannot reach the edge at ${edge}: ${networkReason(err)}`);
  }
  const text = await res.text();
  if (!res.ok) throw new CliError(`edge answered ${res.status}: ${text.slice(0, 500) || res.statusText}`);
  console.log(
    values.json
      ? text
      : `sent ${basename(file)} (${raw.length} bytes) to ${edge} as ${from} → ${to}: ${res.status}`,
  );
}

async function promote(cfg: Settings, values: Values, positionals: string[]) {
  const file = positionals[0];
  if (!file) throw new CliError('missing <file.eml>');
  const deployment = need(values, 'deployment');
  const mailbox = need(values, 'mailbox');
  const raw = readMessage(file);
  const res = await call(
    cfg,
    'POST',
    `/api/v1/deployments/${encodeURIComponent(deployment)}/promote?${new URLSearchParams({ mailbox })}`,
    { raw, contentType: 'message/rfc822' },
  );
  const a = res.json;
  print(
    values,
    a,
    `${res.status === 201 ? 'tracked as new activity' : 'merged into activity'} ${a.id}: "${a.subject ?? '(subject withheld by egress policy)'}" from ${a.from ?? '?'}, mailboxes ${a.mailboxes.join(', ')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// stats, tokens, rules

function bytes(n: number | null | undefined): string {
  if (n == null) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

async function stats(cfg: Settings, values: Values) {
  let since = '';
  const sinceArg = str(values.since);
  if (sinceArg) {
    const ms = /^\d+$/.test(sinceArg) ? Number(sinceArg) : Date.parse(sinceArg);
    if (!Number.isFinite(ms))
      throw new CliError('--since must be an ISO time or milliseconds since the epoch');
    since = `?since=${ms}`;
  }
  const res = await call(cfg, 'GET', `/api/v1/stats${since}`);
  const s = res.json;
  const pct = (r: number | null | undefined) => (r == null ? '-' : `${(r * 100).toFixed(1)}%`);
  const rows = [...s.regions, { ...s.total, region: 'total' }].map((r: Json) => ({
    region: r.region,
    received: r.received,
    'crm-bound': r.crmBound,
    tossed: Object.values<number>(r.tossed ?? {}).reduce((a, b) => a + b, 0),
    'cross-region': bytes(r.crossRegionBytes),
    'vs forward-all': pct(r.crossRegionBytesRatio),
    'p50/p95/p99 ms': r.latencyMs
      ? `${r.latencyMs.p50 ?? '-'}/${r.latencyMs.p95 ?? '-'}/${r.latencyMs.p99 ?? '-'}`
      : '-',
    edge: r.region === 'total' ? '' : r.healthy ? 'up' : 'no heartbeat',
  }));
  print(values, s, table(rows, Object.keys(rows[0] ?? {})));
}

async function tokensCreate(cfg: Settings, values: Values) {
  const body = { scope: need(values, 'scope'), ...(values.label ? { label: values.label } : {}) };
  const res = await call(cfg, 'POST', '/api/v1/tokens', { body });
  print(
    values,
    res.json,
    `${res.json.token}\n(id ${res.json.id}, scope ${res.json.scope}; shown once: store it now)`,
  );
}

async function tokensList(cfg: Settings, values: Values) {
  const res = await call(cfg, 'GET', '/api/v1/tokens');
  print(
    values,
    res.json,
    table(
      res.json.items.map((t: Json) => ({
        id: t.id,
        scope: t.scope,
        label: t.label ?? '',
        created: new Date(t.createdAt).toISOString(),
        revoked: t.revokedAt ? new Date(t.revokedAt).toISOString() : '',
      })),
      ['id', 'scope', 'label', 'created', 'revoked'],
    ),
  );
}

async function tokensRevoke(cfg: Settings, values: Values, positionals: string[]) {
  const id = positionals[0];
  if (!id) throw new CliError('missing <id>');
  const res = await call(cfg, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
  print(values, res.json, `revoked ${res.json.id} (${res.json.scope})`);
}

async function rules(cfg: Settings, values: Values, positionals: string[]) {
  const region = positionals[0];
  if (!region) throw new CliError('missing <region>');
  const q = new URLSearchParams({ format: str(values.format) ?? 'exchange' });
  const deployment = str(values.deployment);
  if (deployment) q.set('deployment', deployment);
  const path = `/api/v1/regions/${encodeURIComponent(region)}/rules?${q}`;
  if (values.json) console.log(JSON.stringify((await call(cfg, 'GET', path)).json, null, 2));
  else process.stdout.write((await call(cfg, 'GET', path, { accept: 'text/plain' })).text);
}

// ---------------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<void> {
  const [first, second, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    console.log(mainHelp());
    return;
  }
  let name = first;
  let args = [second, ...rest].filter((a) => a !== undefined);
  if (!COMMANDS[name] && second && COMMANDS[`${first} ${second}`]) {
    name = `${first} ${second}`;
    args = rest;
  }
  const command = COMMANDS[name];
  if (!command) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${first} `));
    throw new CliError(
      group.length
        ? `"${first}" needs a subcommand: ${group.map((g) => g.split(' ')[1]).join(', ')}`
        : `unknown command "${first}" (crm-router --help lists the commands)`,
    );
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = <{ values: Values; positionals: string[] }>parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CliError(`${errorMessage(err)}\nusage: ${command.usage}`);
  }
  if (parsed.values.help) {
    console.log(`usage: ${command.usage}\n\n${command.about}\n\n${GLOBAL_HELP}`);
    return;
  }
  await command.run(settings(parsed.values), parsed.values, parsed.positionals);
}

function invokedDirectly() {
  try {
    const script = process.argv[1];
    return Boolean(script) && realpathSync(script as string) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).catch((err) => {
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (err instanceof CliError) {
      console.error(`crm-router: ${err.message}`);
      process.exit(err.code);
    }
    console.error(err);
    process.exit(1);
  });
}
