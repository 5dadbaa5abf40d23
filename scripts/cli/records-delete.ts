// crm-router records delete: one record, or every record named in a CSV of keys.
import { CliError, type Command, need, print, type Settings, str, type Values } from './common.js';
import { readCsvFile } from './records-import.js';

export const recordsDelete: Command = {
  usage: 'crm-router records delete <type> <id> --deployment <id> [--deactivate] | --file <keys.csv>',
  about: `Deletes (or with --deactivate, deactivates: kept, but it matches nothing until the CRM writes it
again) a record, or every record named in a CSV file with the columns type,id.`,
  options: { deployment: { type: 'string' }, deactivate: { type: 'boolean' }, file: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const deployment = need(values, 'deployment');
  const deactivate = values.deactivate === true;
  const verb = deactivate ? 'deactivate' : 'delete';
  const file = str(values.file);
  if (!file) {
    const [type, id] = positionals;
    if (!type || !id) throw new CliError('give <type> <id>, or --file <keys.csv>');
    const res = await cfg.api.records.remove(deployment, type, id, { deactivate });
    print(values, res, `${verb}d ${type} ${id}`);
    return;
  }
  let cols: string[] | undefined;
  let batch: Array<{ type: string; id: string }> = [];
  const totals = { requested: 0, removed: 0, notFound: 0 };
  const flush = async () => {
    if (!batch.length) return;
    const res = await cfg.api.records.removeMany(deployment, verb, batch);
    totals.requested += res.requested;
    totals.removed += res.removed;
    totals.notFound += res.notFound;
    batch = [];
    const text = `${verb}: ${totals.removed.toLocaleString('en-US')} of ${totals.requested.toLocaleString('en-US')}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K`);
    else process.stderr.write(`${text}\n`);
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
