// crm-router routes import / routes export: mailbox routes in bulk as CSV.
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { type CsvRow, formatCsvExportField, formatCsvField } from '../../src/core/csv.js';
import { errorCode } from '../errors.js';
import { CliError, type Command, first, print, type Settings, str, type Values } from './common.js';
import { progressBar, readCsvFile } from './records-import.js';

export const ROUTE_HEADER = 'address,region,deployment,userId,filter';

export const routesImport: Command = {
  usage: 'crm-router routes import <routes.csv> [--chunk 5000] [--dry-run]',
  about: `Routes many mailboxes from a CSV file with the header ${ROUTE_HEADER} (filter optional),
with the rules of "routes add". Every row is validated first (progress on stderr); one bad row
writes nothing. Moving a department to another region: export it, change the region column,
import it.`,
  options: { chunk: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  run: runImport,
};

export const routesExport: Command = {
  usage: 'crm-router routes export [--region <id>] [--deployment <id>] > routes.csv',
  about: `Writes every mailbox route as CSV (${ROUTE_HEADER}) to stdout. A value a spreadsheet would
run as a formula (starting with =, +, -, @, tab or CR) is written with a leading ' ("routes import"
reads it back as it was).`,
  options: { region: { type: 'string' }, deployment: { type: 'string' } },
  run: runExport,
};

async function runImport(cfg: Settings, values: Values, positionals: string[]) {
  const file = first(positionals, '<routes.csv>');
  const chunk = Number(values.chunk ?? 5000);
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000)
    throw new CliError('--chunk must be an integer from 1 to 10000');
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
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
      const res = await cfg.api.mailboxes.importCsv(`${body.join('\r\n')}\r\n`, { dryRun });
      if (!res.ok) {
        for (const e of res.errors)
          errors.push({ line: lineMap.get(e.line ?? 0) ?? e.line ?? 0, field: e.field, message: e.message });
      } else {
        totals.created += res.result.created;
        totals.moved += res.result.moved;
        totals.updated += res.result.updated;
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
  // Two passes: every chunk validated first (dryRun), so that a bad row anywhere writes nothing.
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

async function runExport(cfg: Settings, values: Values) {
  const out: string[] = [ROUTE_HEADER];
  let after: string | undefined;
  for (;;) {
    const page = (
      await cfg.api.mailboxes.list({
        region: str(values.region),
        deployment: str(values.deployment),
        limit: 5000,
        after,
      })
    ).items;
    for (const m of page)
      out.push(
        [m.address, m.region, m.deployment, m.userId, m.filter]
          .map((f) => formatCsvExportField(f ?? ''))
          .join(','),
      );
    if (page.length < 5000) break;
    after = page[page.length - 1]?.address;
  }
  process.stdout.write(`${out.join('\r\n')}\r\n`);
  if (process.stderr.isTTY) process.stderr.write(`${out.length - 1} routes\n`);
}
