// reliability.*: a long central outage under the production retry settings (wrangler.edge.toml as
// committed). Starts central + the eu edge with `scripts/network.ts` (the code of `npm start`) on
// free ports (or CENTRAL_PORT / EDGE_EU_PORT) and a fresh state folder, stops central for
// `--outage-minutes` (default 60) while the edge accepts one CRM-bound message every
// `--interval-seconds` (default 20), starts central again and measures how long until every
// accepted message is an activity, how many never arrive (lost) and how many arrive twice (doubled).
// Results are merged into bench/results/latest.json (`reliability` and flat `reliability.*` keys)
// without touching any other key.
//
//   npx tsx bench/reliability.ts [--outage-minutes 60] [--interval-seconds 20] [--out file.json]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCentralClient } from '../scripts/central-client.js';
import { demoMailbox } from '../scripts/demo-data.js';
import { freePort, LOCAL_ADMIN_TOKEN, startCentral, startEdges } from '../scripts/network.js';
import { seedDemoData } from '../scripts/seed.js';
import { saveResults } from './lib/readme-table.js';
import { gitCommit } from './lib/results.js';

interface Proc {
  url: string;
  stop: () => Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    'outage-minutes': { type: 'string', default: '60' },
    'interval-seconds': { type: 'string', default: '20' },
    'drain-timeout-minutes': { type: 'string', default: '15' },
    out: { type: 'string', default: join(here, 'results', 'latest.json') },
  },
});
const outageMs = Number(args['outage-minutes']) * 60_000;
const intervalMs = Number(args['interval-seconds']) * 1000;
const drainTimeoutMs = Number(args['drain-timeout-minutes']) * 60_000;
const outFile = args.out as string;

const t0 = Date.now();
const log = (line: string) =>
  console.log(`[${new Date().toISOString()} +${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`);
const quiet = (line: string) => {
  if (/error|fail|spool/i.test(line)) log(line.slice(0, 300));
};

const stateRoot = process.env.CRM_STATE_DIR ?? join(here, '..', '.wrangler', 'state');
mkdirSync(stateRoot, { recursive: true });
const stateDir = mkdtempSync(join(stateRoot, 'reliability-'));
const ports = {
  central: Number(process.env.CENTRAL_PORT ?? (await freePort())),
  eu: Number(process.env.EDGE_EU_PORT ?? (await freePort())),
};

/** An admin GET through the typed client (throws on a non-2xx answer). */
async function api(central: Proc, path: string): Promise<unknown> {
  return createCentralClient({ baseUrl: central.url, token: LOCAL_ADMIN_TOKEN }).call('GET', path);
}

async function activitiesFor(central: Proc, tag: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ q: tag, limit: '500', ...(cursor ? { cursor } : {}) });
    const page = (await api(central, `/api/v1/activities?${q}`)) as {
      items: { messageId: string }[];
      nextCursor: string | null;
    };
    ids.push(...page.items.map((a) => a.messageId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

function mergeResults(result: Record<string, unknown>) {
  const current = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : {};
  current.reliability = result;
  for (const key of ['outageMinutes', 'lost', 'doubled', 'drainSeconds'])
    current[`reliability.${key}`] = result[key];
  mkdirSync(dirname(outFile), { recursive: true });
  saveResults(outFile, current);
}

let central: Proc | undefined;
let edges: { edges: Proc[]; stop: () => Promise<void> } | undefined;
try {
  log(`state ${stateDir}, ports ${JSON.stringify(ports)}; outage ${outageMs / 60_000} min`);
  [central, edges] = await Promise.all([
    startCentral({ port: ports.central, stateDir, log: quiet }) as Promise<Proc>,
    startEdges({
      ports,
      centralUrl: `http://127.0.0.1:${ports.central}`,
      stateDir,
      log: quiet,
      regions: ['eu'],
    }) as Promise<{ edges: Proc[]; stop: () => Promise<void> }>,
  ]);
  await seedDemoData(central!.url, LOCAL_ADMIN_TOKEN, () => {});
  const edgeUrl = edges!.edges[0]!.url;
  const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
  const deployment = (await api(central!, `/api/v1/deployments/${mailbox.deployment}`)) as {
    forwardingAddresses?: Record<string, string>;
  };
  const forwardTo = deployment.forwardingAddresses?.eu ?? 'crm@eu.edge.localhost';
  const tag = `reliab${Date.now().toString(36)}`;
  const send = (i: number, subjectTag: string) =>
    fetch(
      `${edgeUrl}/cdn-cgi/handler/email?from=customer@reliability.example&to=${encodeURIComponent(forwardTo)}`,
      {
        method: 'POST',
        body: [
          'From: customer@reliability.example',
          `To: ${mailbox.address}`,
          `Subject: ${subjectTag} ${i}`,
          `Date: ${new Date().toUTCString()}`,
          `Message-ID: <${subjectTag}-${i}@reliability.example>`,
          `X-Forwarded-To: ${mailbox.address}`,
          'Content-Type: text/plain; charset=utf-8',
          '',
          `Message ${i} sent while central is down.`,
          '',
        ].join('\r\n'),
        signal: AbortSignal.timeout(30_000),
      },
    );

  // The edge takes its snapshot while central is up (it keeps the last good copy in KV).
  const warm = await send(0, `warmup${tag.slice(6)}`);
  if (warm.status >= 300) throw new Error(`warm-up message refused: ${warm.status} ${await warm.text()}`);
  await new Promise((r) => setTimeout(r, 3000));

  await central!.stop();
  const outageStart = Date.now();
  log('central stopped');
  const statuses: Record<string, number> = {};
  let sent = 0;
  let accepted = 0;
  while (Date.now() - outageStart < outageMs) {
    const i = ++sent;
    try {
      const res = await send(i, tag);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status < 300) accepted++;
    } catch (err) {
      statuses.error = (statuses.error ?? 0) + 1;
      log(`send ${i} failed: ${(err as Error).message}`);
    }
    if (i % 30 === 0) {
      const health = (await fetch(`${edgeUrl}/health`).then((r) => r.json())) as { spooled?: number };
      log(`sent ${i}, accepted ${accepted}, spool objects ${health.spooled ?? '?'}`);
    }
    const next = outageStart + i * intervalMs;
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, outageStart + outageMs) - Date.now())));
  }
  const outageMinutes = (Date.now() - outageStart) / 60_000;
  log(`restarting central after ${outageMinutes.toFixed(1)} min; ${accepted} of ${sent} accepted`);
  const restartAt = Date.now();
  central = (await startCentral({ port: ports.central, stateDir, log: quiet })) as Proc;
  const upAt = Date.now();
  let ids: string[] = [];
  let drainedAt: number | undefined;
  while (Date.now() - upAt < drainTimeoutMs) {
    ids = await activitiesFor(central, tag);
    if (new Set(ids).size >= accepted) {
      drainedAt = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  // Give late doubles a chance to show up before counting them.
  await new Promise((r) => setTimeout(r, 20_000));
  ids = await activitiesFor(central, tag);
  const unique = new Set(ids);
  const deadLetters = (await api(central, '/api/v1/dead-letters?pending=true&limit=1000')) as {
    items: unknown[];
  };
  const health = (await fetch(`${edgeUrl}/health`).then((r) => r.json())) as { spooled?: number };
  const result = {
    outageMinutes: Math.round(outageMinutes * 10) / 10,
    lost: accepted - unique.size,
    doubled: ids.length - unique.size,
    drainSeconds: drainedAt ? Math.round((drainedAt - restartAt) / 100) / 10 : null,
    drainSecondsAfterCentralHealthy: drainedAt
      ? Math.max(0, Math.round((drainedAt - upAt) / 100) / 10)
      : null,
    sent,
    accepted,
    senderStatuses: statuses,
    stored: unique.size,
    deadLetters: deadLetters.items.length,
    spoolObjectsAfter: health.spooled ?? null,
    intervalSeconds: intervalMs / 1000,
    centralStartSeconds: Math.round((upAt - restartAt) / 100) / 10,
    retrySettings:
      'wrangler.edge.toml as committed (max_retries 100, dead_letter_queue, spool on first failure)',
    commit: process.env.BENCH_COMMIT ?? gitCommit(),
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, memory: totalmem(), node: process.version, loadAverageAtEnd: loadavg() },
  };
  log(`result ${JSON.stringify(result)}`);
  mergeResults(result);
  log(`merged into ${outFile}`);
} finally {
  await Promise.all([edges?.stop(), central?.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
}
