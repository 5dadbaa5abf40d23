// crm-router records sync: a full sync from a CRM export (import, then remove what it did not carry).
import { CliError, type Command, need, print, type Settings, type Values } from './common.js';
import { importRecordsFile } from './records-import.js';

export const recordsSync: Command = {
  usage: 'crm-router records sync <file.csv> --deployment <id> [--chunk 5000] [--force]',
  about: `Full sync from a CRM export: imports the file like "records import" (with progress), then
removes every record of the deployment that the file did not carry. If any row is rejected the
sync is left open and nothing is removed (--force removes anyway). An interrupted sync removes
nothing.`,
  options: { deployment: { type: 'string' }, chunk: { type: 'string' }, force: { type: 'boolean' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const deployment = need(values, 'deployment');
  const sync = await cfg.api.recordSyncs.start(deployment);
  if (!values.json) console.error(`sync ${sync.id} started`);
  const totals = await importRecordsFile(cfg, { ...values, json: false }, positionals, { sync: sync.id });
  if (totals.rejected > 0 && !values.force)
    throw new CliError(
      `${totals.rejected} row(s) rejected: sync ${sync.id} left open, nothing removed (fix the file and sync again, or --force to remove every record not imported)`,
      2,
    );
  let done = sync;
  for (;;) {
    done = await cfg.api.recordSyncs.complete(deployment, sync.id);
    // Like the import's progress: one line per request without a terminal, one updated line with.
    const text = `removing records not in the export: ${done.removed.toLocaleString('en-US')}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K`);
    else process.stderr.write(`${text}\n`);
    if (done.status === 'completed') break;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.exitCode = 0;
  print(values, done, `sync ${done.id} completed: ${done.received} records carried, ${done.removed} removed`);
}
