// connectors.*: issue 20's connector targets. Starts central + the eu edge (bench/lib/local-network.ts:
// `scripts/network.ts`, the code of `npm start`, on free ports and a fresh state folder) and a CRM:
// `--crm hubspot` (default) the HubSpot fake (fakes/hubspot.ts, fixture-verified: no HubSpot runs
// here) in this process; `--crm tryton` a live trytond on loopback with SQLite (the interop suite's
// test/interop/tryton.ts; needs Debian's tryton-server + tryton-modules-party, and says so and exits
// non-zero when they are missing). Connects contoso to the CRM through the API, syncs one contact,
// then sends `--messages` CRM-bound messages from that contact through the edge; with the HubSpot
// fake, the CRM loses its answer to every `--lost-every`-th write (the object is made, central never
// hears: the outbox redelivers after its back-off). trytond has no fault switch: no lost answers.
// Measures, per message, central commit (the activity's `ingestedAt`) → object in the CRM (the
// fake's `createdAt` of the email object; Tryton's `create_date` of the attachment — same machine
// clock), and counts CRM objects per activity (duplicates: more than one; missing: none). Results
// are merged into bench/results/latest.json (HubSpot: `connectors`; Tryton: `connectorsTryton`;
// each with flat dotted keys) without touching any other key.
//
// `--rate N` paces the sends at N messages/s (section `connectorsPaced` / `connectorsTrytonPaced`):
// unpaced, a CRM slower than the edge measures its backlog as much as the lag of one delivery.
//
//   npm run bench:connectors [-- --crm hubspot|tryton] [--messages 1000] [--lost-every 5] [--rate N] [--out file.json]
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HUBSPOT_FAKE_TOKEN } from '../fakes/hubspot.js';
import { demoMailbox } from '../scripts/demo-data.js';
import { assertTrytonInstalled, startTryton, type Tryton } from '../test/interop/tryton.js';
import {
  type BenchNetwork,
  benchLogger,
  connectCrm,
  startBenchNetwork,
  startHubspotTenant,
  waitForRecord,
} from './lib/local-network.js';
import { saveResults } from './lib/readme-table.js';
import { gitCommit } from './lib/results.js';
import { percentile } from './lib/stats.js';

/** Issue 20: central commit → object in the CRM, p99, locally with the fakes and with Tryton. */
const TARGET_LAG_P99_MS = 5000;
/** How long the outbox may take to deliver everything (a lost answer waits 30 s, then 60 s, …). */
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const CUSTOMER = 'customer@connectors-bench.example';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    crm: { type: 'string', default: 'hubspot' },
    messages: { type: 'string', default: '1000' },
    'lost-every': { type: 'string', default: '5' },
    rate: { type: 'string' },
    out: { type: 'string', default: join(here, 'results', 'latest.json') },
  },
});
const kind = args.crm as string;
if (kind !== 'hubspot' && kind !== 'tryton') {
  console.error(`--crm ${kind}: hubspot or tryton`);
  process.exit(2);
}
if (kind === 'tryton')
  try {
    assertTrytonInstalled();
  } catch (err) {
    console.error(`bench:connectors --crm tryton: not measured — ${(err as Error).message}`);
    process.exit(3);
  }
const messages = Number(args.messages);
const lostEvery = kind === 'hubspot' ? Number(args['lost-every']) : 0;
const outFile = args.out as string;
/** Messages per second sent (`--rate`); unset: each as soon as the edge answered the previous one. */
const rate = args.rate === undefined ? null : Number(args.rate);
if (rate !== null && !(rate > 0)) {
  console.error(`--rate ${args.rate}: messages per second, > 0`);
  process.exit(2);
}
/** The results file's section (and flat-key prefix) of this CRM and pacing. */
const section = `${kind === 'hubspot' ? 'connectors' : 'connectorsTryton'}${rate === null ? '' : 'Paced'}`;
const { log, quiet } = benchLogger();

function mergeResults(result: Record<string, unknown>) {
  const current = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : {};
  current[section] = result;
  for (const key of ['lagMsP50', 'lagMsP99', 'duplicates', 'missing', 'messages'])
    current[`${section}.${key}`] = result[key];
  mkdirSync(dirname(outFile), { recursive: true });
  saveResults(outFile, current);
}

interface BenchActivity {
  id: string;
  messageId: string;
  ingestedAt: number;
  crmObject?: { id: string } | null;
}

/** A CRM object the bench found, keyed by the activity it belongs to. */
interface CrmObject {
  key: string;
  id: string;
  createdAt: number;
}

/** What the bench needs of the CRM under test. */
interface CrmUnderTest {
  connector: { kind: string; settings: object; secrets: object };
  /** The record id of the contact the messages come from. */
  contactId: string;
  describe: string;
  note: string;
  /** Makes the CRM lose its answer to the next write (HubSpot fake only). */
  loseNextAnswer?: () => Promise<void>;
  /** Write requests the CRM served (null when it cannot tell). */
  writes: () => Promise<number | null>;
  objects: () => Promise<CrmObject[]>;
  /** The key of `objects()` an activity's object carries. */
  keyOf: (deployment: string, a: BenchActivity) => string;
  /** `crmObject.id` as the activity should carry it for `object`. */
  refOf: (object: CrmObject) => string;
  close: () => Promise<void>;
}

async function hubspotUnderTest(): Promise<CrmUnderTest> {
  const { crm, control, close } = await startHubspotTenant();
  const [contactId] = (await control<{ contacts: string[] }>('seed', { contacts: [{ email: CUSTOMER }] }))
    .contacts;
  return {
    connector: { kind: 'hubspot', settings: { baseUrl: crm }, secrets: { accessToken: HUBSPOT_FAKE_TOKEN } },
    contactId: contactId as string,
    describe: `HubSpot fake ${crm}`,
    note: 'fixture-verified: the HubSpot fake (fakes/hubspot.ts), not HubSpot; lag = fake createdAt − activity ingestedAt',
    loseNextAnswer: () =>
      control('faults', { rules: [{ method: 'POST', path: '/batch/upsert', lostAnswer: true }] }),
    writes: async () =>
      (await control<{ path: string }[]>('log')).filter((l) => l.path.endsWith('/batch/upsert')).length,
    async objects() {
      const state = await control<{
        emails: { id: string; createdAt: string; properties: Record<string, string> }[];
      }>('state');
      return state.emails.map((e) => ({
        key: e.properties.router_activity_id ?? '',
        id: e.id,
        createdAt: Date.parse(e.createdAt),
      }));
    },
    keyOf: (deployment, a) => `${deployment}/${a.id}`,
    refOf: (o) => o.id,
    close,
  };
}

/** Tryton's naive datetimes are UTC (trytond sets TZ=UTC): `{ __class__: 'datetime', year, … }`. */
function trytonTime(v: unknown): number {
  const d = v as Record<string, number>;
  return Date.UTC(d.year!, d.month! - 1, d.day!, d.hour!, d.minute!, d.second!, (d.microsecond ?? 0) / 1000);
}

async function trytonUnderTest(): Promise<CrmUnderTest> {
  log('starting trytond (trytond-admin --all first: a few minutes on 2 cores)');
  const tryton: Tryton = await startTryton();
  const [partyId] = (await tryton.model('party.party', 'create', [
    { name: 'Bench Customer', contact_mechanisms: [['create', [{ type: 'email', value: CUSTOMER }]]] },
  ])) as [number];
  return {
    connector: {
      kind: 'tryton',
      settings: { url: tryton.url, database: tryton.database },
      secrets: { username: tryton.username, password: tryton.password },
    },
    contactId: String(partyId),
    describe: `trytond ${tryton.url} (SQLite)`,
    note: 'live: trytond 6.0 on loopback with SQLite (test/interop/tryton.ts); one attachment + one note per message on the party; lag = attachment create_date − activity ingestedAt; no lost answers (trytond has no fault switch)',
    writes: async () => null,
    async objects() {
      const atts = (await tryton.model(
        'ir.attachment',
        'search_read',
        [['resource', '=', `party.party,${partyId}`]],
        0,
        null,
        null,
        ['id', 'description', 'create_date'],
      )) as { id: number; description: string | null; create_date: unknown }[];
      return atts.map((a) => ({
        // The adapter writes the message's Message-ID into the attachment's description.
        key:
          a.description
            ?.split('\n')
            .find((l) => l.startsWith('Message-ID: '))
            ?.slice('Message-ID: '.length) ?? '',
        id: String(a.id),
        createdAt: trytonTime(a.create_date),
      }));
    },
    keyOf: (_deployment, a) => a.messageId,
    refOf: (o) => `${partyId}:${o.id}`,
    close: () => tryton.stop(),
  };
}

let crmUnderTest: CrmUnderTest | undefined;
let net: BenchNetwork | undefined;
try {
  crmUnderTest = kind === 'hubspot' ? await hubspotUnderTest() : await trytonUnderTest();
  const crm = crmUnderTest;
  log(`${crm.describe}; ${messages} messages`);
  net = await startBenchNetwork({ name: 'connectors', regions: ['eu'], log: quiet });
  const { api } = net;
  const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
  const deployment = mailbox.deployment;

  // Connect, then pull the one contact the messages come from (the cron would within a minute).
  await connectCrm(api, deployment, crm.connector);
  await waitForRecord(api, deployment, CUSTOMER, crm.contactId);

  const forwardTo = (
    (await api.call('GET', `/api/v1/deployments/${deployment}`)) as {
      forwardingAddresses?: Record<string, string>;
    }
  ).forwardingAddresses?.eu;
  if (!forwardTo) throw new Error(`no eu forwarding address for ${deployment}`);
  const edgeUrl = net.edges.eu!.url;
  const tag = `conn${Date.now().toString(36)}`;
  let lost = 0;
  let refused = 0;
  const sendStart = Date.now();
  for (let i = 1; i <= messages; i++) {
    if (rate !== null) {
      const due = sendStart + ((i - 1) * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    // The next write the fake serves loses its answer: normally this message's own delivery.
    if (crm.loseNextAnswer && lostEvery > 0 && i % lostEvery === 0) {
      await crm.loseNextAnswer();
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
  const sendSeconds = (Date.now() - sendStart) / 1000;
  log(
    `sent ${messages} in ${sendSeconds.toFixed(1)} s (${refused} refused by the edge), ${lost} answers to be lost; waiting for delivery`,
  );

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

  const objects = await crm.objects();
  const byActivity = new Map<string, CrmObject[]>();
  for (const o of objects) byActivity.set(o.key, [...(byActivity.get(o.key) ?? []), o]);
  const lags: number[] = [];
  let duplicates = 0;
  let missing = 0;
  let wrongRef = 0;
  for (const a of acts) {
    const found = (byActivity.get(crm.keyOf(deployment, a)) ?? []).sort((x, y) => x.createdAt - y.createdAt);
    if (found.length === 0) missing++;
    duplicates += Math.max(0, found.length - 1);
    if (found[0]) lags.push(found[0].createdAt - a.ingestedAt);
    if (a.crmObject?.id !== (found[0] ? crm.refOf(found[0]) : undefined)) wrongRef++;
  }
  lags.sort((x, y) => x - y);
  const p = (q: number) => {
    const v = percentile(lags, q);
    return v === null ? null : Math.round(v);
  };
  const result = {
    crm: kind,
    messages: acts.length,
    sent: messages,
    ratePerSec: rate,
    sentPerSec: Math.round((messages / sendSeconds) * 100) / 100,
    refusedByEdge: refused,
    lostAnswers: lost,
    crmWrites: await crm.writes(),
    crmObjects: objects.length,
    duplicates,
    missing,
    crmObjectMismatches: wrongRef,
    lagMsP50: p(50),
    lagMsP99: p(99),
    lagMsMax: lags.length ? lags.at(-1) : null,
    targets: {
      lagMsP99: { target: `<= ${TARGET_LAG_P99_MS}`, met: (p(99) ?? Infinity) <= TARGET_LAG_P99_MS },
      ...(kind === 'hubspot'
        ? {
            duplicates: {
              target: '0 across 1,000 deliveries with lost answers',
              met: duplicates === 0 && messages >= 1000,
            },
          }
        : {}),
    },
    note: crm.note,
    commit: process.env.BENCH_COMMIT ?? gitCommit(),
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, memory: totalmem(), node: process.version, loadAverageAtEnd: loadavg() },
  };
  log(`result ${JSON.stringify(result)}`);
  mergeResults(result);
  log(`merged into ${outFile} (${section})`);
} finally {
  await net?.stop();
  await crmUnderTest?.close();
}
