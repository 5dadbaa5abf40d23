// npx tsx bench/ingest-at-scale.ts [--activities 1000000] [--batches 20] [--rounds 3] [--in-flight 1] [--state DIR]
//
// Central ingest in batches of 250 with many activities already stored (issue 21's target: ≥ 5,000
// items/s with 1 M activities and the full-text index on). The first run starts central on a state
// folder, seeds the demo data, stops it and writes the activities straight into its local D1 file
// (node:sqlite, through the triggers: full-text index and row counts included); later runs with
// the same --state reuse them. Then `measure` of bench/ingest.ts: `--rounds` × `--batches` signed
// gzip batches of 250 CRM-bound items POSTed one at a time, as an edge sends them (`--in-flight N`:
// N at a time, as several regions or a consumer's concurrent invocations send them).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import {
  directUrl,
  freePort,
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
  startCentral,
} from '../scripts/network.js';
import { seedDemoData } from '../scripts/seed.js';
import { createRng } from '../scripts/traffic.js';
import { deriveEdgeCredentials } from '../src/core/request-signature.js';
import { measure } from './ingest.js';
import { median, round } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    activities: { type: 'string', default: '1000000' },
    batches: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    size: { type: 'string', default: '250' },
    state: { type: 'string', default: '/tmp/crm-ingest-at-scale' },
    'in-flight': { type: 'string', default: '1' },
  },
});
const ACTIVITIES = Number(values.activities);
const STATE = values.state as string;
const DEP = 'contoso';

function dbFile(): string {
  const dir = join(STATE, 'central', 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const f = readdirSync(dir).find((x) => x.endsWith('.sqlite') && x !== 'metadata.sqlite');
  if (!f) throw new Error(`no D1 sqlite file under ${dir}`);
  return join(dir, f);
}

async function preload() {
  const fresh = !existsSync(join(STATE, 'central'));
  const central = await startCentral({ port: await freePort(), stateDir: STATE, log: () => {}, cron: false });
  if (fresh) await seedDemoData(central.url, LOCAL_ADMIN_TOKEN, () => {});
  await central.stop();
  const db = new DatabaseSync(dbFile());
  const have = (db.prepare('select count(*) as n from activities').get() as { n: number }).n;
  const ins =
    db.prepare(`insert into activities (id, deployment, dedupe_key, message_id, subject, from_address,
    from_name, parties, reason, correlation_method, correlation_detail, mailboxes, regions, egress, content,
    size_bytes, received_at, ingested_at, updated_at, seq, change_seq)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
      (select coalesce(max(seq), 0) + 1 from activities), (select coalesce(max(change_seq), 0) + 1 from activities))`);
  const t0 = Date.now() - ACTIVITIES * 1000;
  const w0 = performance.now();
  for (let s = have; s < ACTIVITIES; s += 50_000) {
    db.exec('begin');
    for (let i = s; i < Math.min(ACTIVITIES, s + 50_000); i++) {
      const from = `contact${i}@company${i % 50_000}.example`;
      const mid = `m${i}.${(i * 2654435761) % 1e9}@mail.company${i % 50_000}.example`;
      ins.run(
        `pre-${i}`,
        DEP,
        mid,
        mid,
        `RE: order ${i % 9973} renewal of the support contract`,
        from,
        `Contact ${i}`,
        JSON.stringify([
          { role: 'from', address: from, recordType: 'contact', recordId: `c-${i}` },
          { role: 'to', address: `user${i % 50}@contoso.example` },
        ]),
        'tracked:sender-record',
        'sender-record',
        'the sender matches an email-enabled CRM record (email-enabled filter)',
        JSON.stringify([`user${i % 50}@contoso.example`]),
        JSON.stringify(['eu']),
        'metadata+subject',
        JSON.stringify([{ region: 'eu', key: `raw/${i}.eml`, attachments: [] }]),
        4000 + (i % 20_000),
        t0 + i * 1000,
        t0 + i * 1000 + 800,
        t0 + i * 1000 + 800,
      );
    }
    db.exec('commit');
  }
  if (ACTIVITIES > have)
    console.log(`preloaded ${ACTIVITIES - have} activities in ${Math.round(performance.now() - w0)} ms`);
  const n = (db.prepare('select count(*) as n from activities').get() as { n: number }).n;
  db.close();
  return n;
}

const stored = await preload();
const central = await startCentral({ port: await freePort(), stateDir: STATE, log: () => {}, cron: false });
try {
  const creds = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, 'eu');
  // Central's own workerd socket, past wrangler dev's proxy, as bench:scale posts.
  const target = (await directUrl(central)) ?? central.url;
  const rng = createRng(`ingest-at-scale-${Date.now()}`);
  const runId = Date.now().toString(36);
  const runs = [];
  for (let r = 0; r < Number(values.rounds); r++)
    runs.push(
      await measure(target, creds, rng, `${runId}-${r}`, {
        size: Number(values.size),
        batches: Number(values.batches),
        inFlight: Number(values['in-flight']),
      }),
    );
  console.log(
    JSON.stringify({
      activitiesStored: stored,
      itemsPerSec: round(median(runs.map((x) => x.itemsPerSec)), 0),
      medianBatchMs: round(median(runs.map((x) => x.medianBatchMs)), 1),
      runs: runs.map((x) => round(x.itemsPerSec, 0)),
    }),
  );
} finally {
  await central.stop();
}
