// connectors.*: issue 20's connector targets with the HubSpot fake (fixture-verified: no HubSpot runs
// here). Starts central + the eu edge with `scripts/network.ts` (the code of `npm start`) on free
// ports and a fresh state folder, and the HubSpot fake (fakes/hubspot.ts) in this process; connects
// contoso to the fake through the API, syncs one contact, then sends `--messages` CRM-bound messages
// from that contact through the edge, making the CRM lose its answer to every `--lost-every`-th
// write (the object is made, central never hears: the outbox redelivers after its back-off).
// Measures, per message, central commit (the activity's `ingestedAt`) → object in the CRM (the
// fake's `createdAt` of the email object; same machine clock), and counts CRM objects per activity
// (duplicates: more than one; missing: none). Results are merged into bench/results/latest.json
// (`connectors` and flat `connectors.*` keys) without touching any other key.
//
//   npm run bench:connectors [-- --messages 1000] [--lost-every 5] [--out file.json]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HUBSPOT_FAKE_TOKEN, startHubspotFake } from '../fakes/hubspot.js';
import { createCentralClient } from '../scripts/central-client.js';
import { demoMailbox } from '../scripts/demo-data.js';
import { freePort, LOCAL_ADMIN_TOKEN, startCentral, startEdges } from '../scripts/network.js';
import { seedDemoData } from '../scripts/seed.js';
import { saveResults } from './lib/readme-table.js';
import { gitCommit } from './lib/results.js';

/** Issue 20: central commit → object in the CRM, p99, locally with the fakes. */
const TARGET_LAG_P99_MS = 5000;
/** How long the outbox may take to deliver everything (a lost answer waits 30 s, then 60 s, …). */
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const CUSTOMER = 'customer@connectors-bench.example';

/** Nearest-rank percentile (q in 0..100). */
function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))] as number;
}

interface Proc {
  url: string;
  stop: () => Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    'lost-every': { type: 'string', default: '5' },
    out: { type: 'string', default: join(here, 'results', 'latest.json') },
  },
});
const messages = Number(args.messages);
const lostEvery = Number(args['lost-every']);
const outFile = args.out as string;

const t0 = Date.now();
const log = (line: string) =>
  console.log(`[${new Date().toISOString()} +${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`);
const quiet = (line: string) => {
  if (/error|fail/i.test(line)) log(line.slice(0, 300));
};

const stateRoot = process.env.CRM_STATE_DIR ?? join(here, '..', '.wrangler', 'state');
mkdirSync(stateRoot, { recursive: true });
const stateDir = mkdtempSync(join(stateRoot, 'connectors-'));
const ports = {
  central: Number(process.env.CENTRAL_PORT ?? (await freePort())),
  eu: Number(process.env.EDGE_EU_PORT ?? (await freePort())),
};

function mergeResults(result: Record<string, unknown>) {
  const current = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : {};
  current.connectors = result;
  for (const key of ['lagMsP50', 'lagMsP99', 'duplicates', 'missing', 'messages'])
    current[`connectors.${key}`] = result[key];
  mkdirSync(dirname(outFile), { recursive: true });
  saveResults(outFile, current);
}

interface BenchActivity {
  id: string;
  messageId: string;
  ingestedAt: number;
  crmObject?: { id: string } | null;
}

const fake = await startHubspotFake();
const crm = `${fake.url}/t/bench`;
const control = async (name: string, body?: unknown) => {
  const res = await fetch(`${crm}/__fake/${name}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`fake ${name}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
};

let central: Proc | undefined;
let edges: { edges: Proc[]; stop: () => Promise<void> } | undefined;
try {
  log(`state ${stateDir}, ports ${JSON.stringify(ports)}, HubSpot fake ${crm}; ${messages} messages`);
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
  const api = createCentralClient({ baseUrl: central!.url, token: LOCAL_ADMIN_TOKEN });
  const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
  const deployment = mailbox.deployment;

  // Connect, then pull the one contact the messages come from (the cron would within a minute).
  const [contactId] = ((await control('seed', { contacts: [{ email: CUSTOMER }] })) as { contacts: string[] })
    .contacts;
  await api.call('PUT', `/api/v1/deployments/${deployment}/connector`, {
    body: { kind: 'hubspot', settings: { baseUrl: crm }, secrets: { accessToken: HUBSPOT_FAKE_TOKEN } },
  });
  await api.call('POST', `/api/v1/deployments/${deployment}/connector/sync`);
  for (let i = 0; ; i++) {
    const found = (await api.call(
      'GET',
      `/api/v1/deployments/${deployment}/records?address=${encodeURIComponent(CUSTOMER)}`,
    )) as { items: { id: string }[] };
    if (found.items.some((r) => r.id === contactId)) break;
    if (i > 60) throw new Error('the contact never reached the record store');
    await new Promise((r) => setTimeout(r, 1000));
  }

  const forwardTo = (
    (await api.call('GET', `/api/v1/deployments/${deployment}`)) as {
      forwardingAddresses?: Record<string, string>;
    }
  ).forwardingAddresses?.eu;
  if (!forwardTo) throw new Error(`no eu forwarding address for ${deployment}`);
  const edgeUrl = edges!.edges[0]!.url;
  const tag = `conn${Date.now().toString(36)}`;
  let lost = 0;
  let refused = 0;
  for (let i = 1; i <= messages; i++) {
    // The next write the fake serves loses its answer: normally this message's own delivery.
    if (lostEvery > 0 && i % lostEvery === 0) {
      await control('faults', { rules: [{ method: 'POST', path: '/batch/upsert', lostAnswer: true }] });
      lost++;
    }
    const res = await fetch(
      `${edgeUrl}/cdn-cgi/handler/email?from=${CUSTOMER}&to=${encodeURIComponent(forwardTo)}`,
      {
        method: 'POST',
        body: [
          `From: ${CUSTOMER}`,
          `To: ${mailbox.address}`,
          `Subject: ${tag} ${i}`,
          `Date: ${new Date().toUTCString()}`,
          `Message-ID: <${tag}-${i}@connectors-bench.example>`,
          `X-Forwarded-To: ${mailbox.address}`,
          'Content-Type: text/plain; charset=utf-8',
          '',
          `Message ${i}.`,
          '',
        ].join('\r\n'),
        signal: AbortSignal.timeout(30_000),
      },
    );
    if (res.status >= 300) refused++;
    await res.body?.cancel();
    if (i % 100 === 0) log(`sent ${i}`);
  }
  log(`sent ${messages} (${refused} refused by the edge), ${lost} answers to be lost; waiting for delivery`);

  const activities = async () => {
    const all: BenchActivity[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ q: tag, limit: '500', ...(cursor ? { cursor } : {}) });
      const page = (await api.call('GET', `/api/v1/activities?${q}`)) as {
        items: BenchActivity[];
        nextCursor: string | null;
      };
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  };
  const drainStart = Date.now();
  let acts: BenchActivity[] = [];
  while (Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
    acts = await activities();
    if (acts.length >= messages - refused && acts.every((a) => a.crmObject)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  // Late redeliveries get a chance to double an object before counting.
  await new Promise((r) => setTimeout(r, 5000));
  acts = await activities();

  const state = (await control('state')) as {
    emails: { id: string; createdAt: string; properties: Record<string, string> }[];
  };
  const byActivity = new Map<string, typeof state.emails>();
  for (const e of state.emails) {
    const key = e.properties.router_activity_id ?? '';
    byActivity.set(key, [...(byActivity.get(key) ?? []), e]);
  }
  const lags: number[] = [];
  let duplicates = 0;
  let missing = 0;
  let wrongRef = 0;
  for (const a of acts) {
    const objects = byActivity.get(`${deployment}/${a.id}`) ?? [];
    if (objects.length === 0) missing++;
    duplicates += Math.max(0, objects.length - 1);
    if (objects[0]) lags.push(Date.parse(objects[0].createdAt) - a.ingestedAt);
    if (a.crmObject?.id !== objects[0]?.id) wrongRef++;
  }
  const writes = ((await control('log')) as { path: string }[]).filter((l) =>
    l.path.endsWith('/batch/upsert'),
  ).length;
  const p = (q: number) => (lags.length ? Math.round(percentile(lags, q)) : null);
  const result = {
    messages: acts.length,
    sent: messages,
    refusedByEdge: refused,
    lostAnswers: lost,
    crmWrites: writes,
    crmObjects: state.emails.length,
    duplicates,
    missing,
    crmObjectMismatches: wrongRef,
    lagMsP50: p(50),
    lagMsP99: p(99),
    lagMsMax: lags.length ? Math.max(...lags) : null,
    targets: {
      lagMsP99: { target: `<= ${TARGET_LAG_P99_MS}`, met: (p(99) ?? Infinity) <= TARGET_LAG_P99_MS },
      duplicates: {
        target: '0 across 1,000 deliveries with lost answers',
        met: duplicates === 0 && messages >= 1000,
      },
    },
    note: 'fixture-verified: the HubSpot fake (fakes/hubspot.ts), not HubSpot; lag = fake createdAt − activity ingestedAt',
    commit: process.env.BENCH_COMMIT ?? gitCommit(),
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, memory: totalmem(), node: process.version, loadAverageAtEnd: loadavg() },
  };
  log(`result ${JSON.stringify(result)}`);
  mergeResults(result);
  log(`merged into ${outFile}`);
} finally {
  await Promise.all([edges?.stop(), central?.stop()]);
  await fake.close();
  rmSync(stateDir, { recursive: true, force: true });
}
