// npm run simulate -- [--duration 60] [--rate 10] [--users-per-region 10] [--crm-share 0.1]
//   [--rtt-ms us-eu=80,us-apac=150,eu-apac=200] [--seed crm-sim] [--size-profile realistic]
//   [--central URL] [--edges us=URL,eu=URL,apac=URL] [--start] [--out bench/results]
//
// Sends seeded, realistic multi-region traffic through a running local network and compares, on
// the same traffic: (a) this network; (b) the seed's design, every mailbox forwarding everything
// to one router in the home region; (c) the seed's third option, rules only for home-region
// mailboxes. Writes simulate-latest.json and simulate-latest.md into --out.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { CentralClient, Stats } from './central-client.js';
import { demoRecords, MAILBOXES } from './demo-data.js';
import { fetchAllForwardingAddresses } from './forwarding.js';
import {
  errorCode,
  errorMessage,
  isRegion,
  LOCAL_ADMIN_TOKEN,
  LOCAL_INBOUND_TOKEN,
  portsFromEnv,
  REGIONS,
  ROOT,
} from './network.js';
import type { Region } from './regions.js';
import {
  adminClient,
  type DelayProxy,
  HOME_REGION,
  parseRtt,
  type SimNetwork,
  startSimNetwork,
  syncSnapshots,
} from './sim-network.js';
import {
  type Copy,
  createRng,
  createTraffic,
  type Mailbox,
  OUTBOUND_CATEGORIES,
  type Outbound,
  type Rng,
  type TrafficMessage,
} from './traffic.js';

const FILTER_CYCLE: Mailbox['filter'][] = [
  'email-enabled',
  'records',
  'responses',
  'all',
  'email-enabled',
  'none',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? null;
}

/** The routed mailboxes the traffic goes to: demo mailboxes, plus registered extras per region. */
// biome-ignore lint/suspicious/noExplicitAny: the report is a loose JSON document
type Json = any;

async function prepareMailboxes(api: CentralClient, usersPerRegion: number, log: Log): Promise<Mailbox[]> {
  const routed = (await api.mailboxes.list({ limit: 5000 })).items as Mailbox[];
  const known = new Map(routed.map((m) => [m.address.toLowerCase(), m]));
  const chosen: Mailbox[] = [];
  for (const region of REGIONS) {
    const demo = MAILBOXES.filter((m) => m.region === region && known.has(m.address));
    if (demo.length === 0)
      throw new Error(
        `no demo mailbox of region ${region} is routed at central: seed the demo data first (npm start seeds it)`,
      );
    chosen.push(...demo.slice(0, usersPerRegion).map((m) => known.get(m.address) as Mailbox));
    for (let i = demo.length; i < usersPerRegion; i++) {
      const deployment = i % 5 < 3 ? 'contoso' : 'fabrikam';
      const m: Mailbox = {
        address: `sim.user${i}.${region}@${deployment}.example`,
        region,
        deployment,
        userId: `u-sim-${region}-${i}`,
        filter: FILTER_CYCLE[i % FILTER_CYCLE.length] as Mailbox['filter'],
      };
      if (!known.has(m.address)) {
        await api.mailboxes.put(m.address, {
          region: m.region,
          deployment: m.deployment,
          userId: m.userId,
          filter: m.filter,
        });
      }
      chosen.push(m);
    }
  }
  const extra = chosen.length - REGIONS.length * Math.min(usersPerRegion, 10);
  if (extra > 0) log(`registered ${extra} extra routed mailboxes`);
  return chosen;
}

/**
 * Registers outbound CRM mail (replies to it are tracked by In-Reply-To, its tracking token by
 * subject). Returns undefined when central has no outbound endpoint (404/405).
 */
async function registerOutbound(
  api: CentralClient,
  mailboxes: Mailbox[],
  runId: string,
  rng: Rng,
  perDeployment = 24,
): Promise<Record<string, Outbound[]> | undefined> {
  const out: Record<string, Outbound[]> = {};
  for (const deployment of [...new Set(mailboxes.map((m) => m.deployment))]) {
    const contacts = demoRecords(deployment).filter((r) => r.type === 'contact' && r.emailEnabled);
    const users = mailboxes.filter((m) => m.deployment === deployment && m.filter !== 'none');
    const list: Outbound[] = [];
    out[deployment] = list;
    for (let i = 0; i < perDeployment && users.length; i++) {
      const user = rng.pick(users);
      const to = rng.pick(contacts).emails[0] as string;
      const subject = `Quote ${runId}-${i} for ${rng.int(5, 500)} licences`;
      const messageId = `out-${runId}-${deployment}-${i}@crm.${deployment}.example`;
      const res = await api.outbound.register(deployment, {
        messageId: `<${messageId}>`,
        userId: user.userId,
        subject,
        to: [to],
      });
      if (!res) return undefined;
      const token = res.trackingToken;
      list.push({
        messageId,
        userId: user.userId,
        subject,
        to: [to],
        trackingSubject: res.subject ?? (token ? `${subject} ${token}` : subject),
      });
    }
  }
  return out;
}

async function stats(api: CentralClient, since: number): Promise<Stats> {
  return api.stats(since);
}

const COUNTERS = [
  'received',
  'receivedBytes',
  'crmBound',
  'crmBoundBytes',
  'bytesSent',
  'crossRegionBytes',
  'forwardAllCrossRegionBytes',
] as const;

/** Per-region counter deltas between two stats readings (counters are per minute at central). */
function counterDelta(before: Stats, after: Stats): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const r of after.regions) {
    const b: Partial<Stats['regions'][number]> = before.regions.find((x) => x.region === r.region) ?? {};
    const delta: Json = Object.fromEntries(COUNTERS.map((k) => [k, (r[k] ?? 0) - (b[k] ?? 0)]));
    delta.tossed = Object.fromEntries(
      Object.entries<number>(r.tossed ?? {})
        .map(([k, v]) => [k, v - (b.tossed?.[k] ?? 0)] as const)
        .filter(([, v]) => v > 0),
    );
    out[r.region] = delta;
  }
  return out;
}

interface SendTrafficOptions {
  traffic: ReturnType<typeof createTraffic>;
  edges: Record<Region, string>;
  /** `{ deployment: { region: forwarding address } }`. */
  forwarding: Record<string, Record<string, string>>;
  rate: number;
  durationS: number;
  concurrency: number;
  ingress: string;
  pregenerate: boolean;
  /** Called once per message, as the first byte of its first copy is about to leave the sender. */
  onFirstByte?: ((message: TrafficMessage, at: number) => void) | undefined;
  log: Log;
}

/** How long the sender waits for an edge to answer one copy. */
const SEND_TIMEOUT_MS = 60_000;

/**
 * POSTs one copy over a kept-alive connection of `agent` and reads the answer. `node:http` rather
 * than `fetch`: the sender shares the machine with the network it measures, and undici's fetch
 * took about twice the sender's CPU per copy (docs/decisions.md, "The e2e path").
 */
function postCopy(
  agent: Agent,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.setTimeout(SEND_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * When each of `total` messages is due (ms from the start): a Poisson process at `total / durationS`
 * per second conditioned on `total` arrivals in `durationS` — `total + 1` exponential gaps scaled to
 * the duration. Unconditioned, a fixed seed's gaps summed to whatever they summed to (60.6 s for
 * 12,000 at 200/s, say), and the run offered less (or more) than the rate it named.
 */
export function arrivalSchedule(
  total: number,
  durationS: number,
  rng: Pick<ReturnType<typeof createRng>, 'exponentialMs'>,
): number[] {
  const gaps = Array.from({ length: total + 1 }, () => rng.exponentialMs(1));
  const scale = (durationS * 1000) / gaps.reduce((a, b) => a + b, 0);
  const due: number[] = [];
  let at = 0;
  for (let i = 0; i < total; i++) {
    at += (gaps[i] as number) * scale;
    due.push(at);
  }
  return due;
}

/** Sends copies on a Poisson schedule at `rate` messages/s with at most `concurrency` in flight. */
async function sendTraffic(opts: SendTrafficOptions) {
  const { traffic, edges, forwarding, rate, durationS, concurrency, ingress, pregenerate, log } = opts;
  const messages: TrafficMessage[] = [];
  const sendLatencies: number[] = [];
  let inflight = 0;
  let failures = 0;
  const failureSamples: string[] = [];
  const waiters: (() => void)[] = [];
  const firstBytes = new WeakSet<TrafficMessage>();
  // One connection per copy in flight, kept open between copies.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const release = () => {
    inflight--;
    waiters.shift()?.();
  };
  const sendCopy = async (message: TrafficMessage, copy: Copy) => {
    const to = forwarding[message.deployment]?.[copy.region];
    if (!to) throw new Error(`no forwarding address of ${message.deployment} in region ${copy.region}`);
    const envelope = `from=${encodeURIComponent(message.from)}&to=${encodeURIComponent(to)}`;
    const url =
      ingress === 'inbound'
        ? `${edges[copy.region]}/api/v1/inbound?${envelope}`
        : `${edges[copy.region]}/cdn-cgi/handler/email?${envelope}`;
    const headers: Record<string, string> =
      ingress === 'inbound' ? { authorization: `Bearer ${LOCAL_INBOUND_TOKEN}` } : {};
    if (!firstBytes.has(message)) {
      firstBytes.add(message);
      opts.onFirstByte?.(message, Date.now());
    }
    const t = performance.now();
    try {
      const res = await postCopy(agent, url, copy.raw ?? '', headers);
      const text = res.text;
      copy.status = res.status;
      if (res.status >= 300) {
        failures++;
        if (failureSamples.length < 5) failureSamples.push(`${res.status} ${text.slice(0, 200)}`);
      }
    } catch (err) {
      copy.status = 0;
      failures++;
      if (failureSamples.length < 5) failureSamples.push(errorCode(err));
    } finally {
      sendLatencies.push(performance.now() - t);
      copy.sentAt = Date.now();
    }
  };
  const total = Math.max(1, Math.round(rate * durationS));
  // Generating while sending costs the sender CPU that the network under test could use: the
  // benchmarks build every message first.
  const ready = pregenerate ? Array.from({ length: total }, () => traffic.next()) : undefined;
  const schedule = arrivalSchedule(total, durationS, createRng(`schedule:${rate}:${durationS}`));
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  let lastReport = started;
  for (let i = 0; i < total; i++) {
    const wait = started + (schedule[i] as number) - performance.now();
    if (wait > 0) await sleep(wait);
    const message = ready?.[i] ?? traffic.next();
    for (const copy of message.copies) {
      while (inflight >= concurrency) await new Promise<void>((r) => waiters.push(r));
      inflight++;
      const p = sendCopy(message, copy).finally(release);
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
    // Keep the ground truth, drop the raw bytes once sent.
    messages.push(message);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      log(
        `  sent ${i + 1}/${total} messages (${((i + 1) / ((performance.now() - started) / 1000)).toFixed(1)}/s)`,
      );
    }
  }
  // The send phase ends when the last message was handed to the sender (its copies started).
  const sendPhaseS = (performance.now() - started) / 1000;
  await Promise.all(pending);
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  for (const m of messages) for (const c of m.copies) c.bytes = c.raw?.length ?? 0;
  for (const m of messages) for (const c of m.copies) delete c.raw;
  sendLatencies.sort((a, b) => a - b);
  return {
    messages,
    elapsedS,
    failures,
    failureSamples,
    // Messages per second of the schedule's length, or of the send phase when the sender fell
    // behind it (a backlog of copies in flight, a slow answer): at most `rate`.
    achievedRate: messages.length / Math.max(durationS, sendPhaseS),
    sendPhaseS,
    sendMs: { p50: percentile(sendLatencies, 50), p99: percentile(sendLatencies, 99) },
  };
}

/** Waits until central has counted (as item or receipt) every copy an edge accepted. */
async function drain(
  api: CentralClient,
  before: Stats,
  since: number,
  expected: number,
  timeoutMs: number,
  log: Log,
) {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  for (;;) {
    const now = await stats(api, since);
    const delta = counterDelta(before, now);
    const received = Object.values(delta).reduce((acc: number, r) => acc + r.received, 0);
    if (received >= expected) return { drained: true, after: now };
    if (Date.now() > deadline) {
      log(`  drain timed out: central counted ${received} of ${expected} copies`);
      return { drained: false, after: now };
    }
    if (received !== last) last = received;
    await sleep(1000);
  }
}

/** How long the activities since the run started must stay unchanged to count as settled. */
const SETTLE_MS = 3000;

/**
 * The run's activities once they stop changing. The counters say every accepted copy reached
 * central, but they are router-wide: a copy of an earlier run still in a queue or spool counts in
 * them too. So the activities are read again until two readings SETTLE_MS apart are the same (or
 * the drain's deadline passes).
 */
async function settledActivities(
  api: CentralClient,
  since: number,
  deadline: number,
): Promise<Map<string, Json>> {
  let found = await activitiesSince(api, since);
  for (;;) {
    if (Date.now() > deadline) return found;
    await sleep(SETTLE_MS);
    const again = await activitiesSince(api, since);
    const same =
      again.size === found.size &&
      [...again].every(([key, a]) => (found.get(key)?.mailboxes?.length ?? -1) === a.mailboxes?.length);
    found = again;
    if (same) return found;
  }
}

/** Every activity received since `since`, keyed by deployment + Message-ID. */
async function activitiesSince(api: CentralClient, since: number): Promise<Map<string, Json>> {
  const found = new Map<string, Json>();
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await api.activities.list({ limit: 500, cursor });
    let older = 0;
    for (const a of res.items) {
      if (a.receivedAt < since - 60_000) older++;
      if (a.messageId) found.set(`${a.deployment}\0${a.messageId.toLowerCase()}`, a);
    }
    if (!res.nextCursor || older === res.items.length) break;
    cursor = res.nextCursor;
  }
  return found;
}

function round(x: number | null | undefined, digits = 1): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

type Log = (line: string) => void;

export interface SimulationOptions {
  central: string;
  edges: Record<Region, string>;
  durationS?: number;
  rate?: number;
  usersPerRegion?: number;
  crmShare?: number;
  seed?: string;
  rtt?: {
    byRegion?: Partial<Record<Region, number>>;
    proxies?: Partial<Record<Region, DelayProxy>> | undefined;
  };
  rttMode?: 'none' | 'proxy' | 'modelled';
  sizeProfile?: string;
  concurrency?: number;
  maxMessageBytes?: number;
  drainTimeoutMs?: number;
  checkCaptures?: boolean;
  ingress?: string;
  pregenerate?: boolean;
  /** See SendTrafficOptions.onFirstByte (the bench's sender → queryable probe). */
  onFirstByte?: (message: TrafficMessage, at: number) => void;
  log?: Log;
}

/**
 * Runs one simulation against a running network and returns the report object. Used by
 * `npm run simulate` and by the benchmarks (e2e latency, geo ratio).
 */
export async function runSimulation({
  central,
  edges,
  durationS = 60,
  rate = 10,
  usersPerRegion = 10,
  crmShare = 0.1,
  seed = 'crm-sim',
  rtt = {},
  rttMode = 'none',
  sizeProfile = 'realistic',
  concurrency = 64,
  maxMessageBytes = 6 * 1024 * 1024,
  drainTimeoutMs = 180_000,
  checkCaptures = true,
  ingress = 'email',
  pregenerate = false,
  onFirstByte,
  log = console.log,
}: SimulationOptions): Promise<Json> {
  if (!['email', 'inbound'].includes(ingress))
    throw new Error(`unknown ingress ${ingress} (email | inbound)`);
  const api = adminClient(central);
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.toLowerCase();
  const health = await fetch(`${central}/health`, { signal: AbortSignal.timeout(5000) }).catch(
    () => undefined,
  );
  if (!health?.ok)
    throw new Error(
      `central ${central} does not answer /health: start the network (npm start) or pass --start`,
    );
  const mailboxes = await prepareMailboxes(api, usersPerRegion, log);
  const setupRng = createRng(`setup:${seed}`);
  const outbound = await registerOutbound(api, mailboxes, runId, setupRng);
  const notes = [];
  if (!outbound) {
    notes.push(
      `POST /api/v1/deployments/:id/outbound answered 404: no outbound mail could be registered, so the ${OUTBOUND_CATEGORIES.join(' and ')} categories were skipped.`,
    );
    log(`  ${notes[notes.length - 1]}`);
  }
  await syncSnapshots(api, edges);
  const traffic = createTraffic({
    seed,
    runId,
    mailboxes,
    outbound: outbound ?? {},
    crmShare,
    sizeProfile,
    maxMessageBytes,
  });

  const since = Date.now();
  const before = await stats(api, since);
  log(
    `sending ${Math.round(rate * durationS)} messages at ${rate}/s for ${durationS} s (seed ${seed}, run ${runId})…`,
  );
  // Every copy goes to its deployment's forwarding address in the copy's region (design §4).
  const forwarding = await fetchAllForwardingAddresses(
    central,
    LOCAL_ADMIN_TOKEN,
    mailboxes.map((m) => m.deployment),
  );
  const sent = await sendTraffic({
    traffic,
    edges,
    forwarding,
    rate,
    durationS,
    concurrency,
    ingress,
    pregenerate,
    onFirstByte,
    log,
  });
  const accepted = sent.messages
    .flatMap((m) => m.copies)
    .filter((c) => (c.status ?? 0) >= 200 && (c.status ?? 0) < 300).length;
  log(
    `  sent ${sent.messages.length} messages (${accepted} copies accepted, ${sent.failures} refused) in ${sent.elapsedS.toFixed(1)} s; waiting for central…`,
  );
  const drainDeadline = Date.now() + drainTimeoutMs;
  const drained = await drain(api, before, since, accepted, drainTimeoutMs, log);
  const latencyStats = await stats(api, since);
  const delta = counterDelta(before, drained.after);
  const found = checkCaptures ? await settledActivities(api, since, drainDeadline) : new Map();

  // Ground truth vs. what central holds.
  const isRemote = (region: Region) => region !== HOME_REGION;
  const gt = sent.messages;
  const crm = gt.filter((m) => m.tracked);
  const activityOf = (m: TrafficMessage) => found.get(`${m.deployment}\0${m.messageId.toLowerCase()}`);
  const captured = crm.filter((m) => activityOf(m));
  const falseCaptures = gt.filter((m) => !m.tracked && activityOf(m));
  const capturedHome = crm.filter((m) => activityOf(m)?.regions?.includes(HOME_REGION));
  const missed = crm.filter((m) => !activityOf(m));

  const copies = gt.flatMap((m) => m.copies.map((c) => ({ ...c, message: m })));
  const remoteCopies = copies.filter((c) => isRemote(c.region));
  const regionFigures: Record<Region, Json> = <Record<Region, Json>>Object.fromEntries(
    REGIONS.map((region) => {
      const d = delta[region] ?? {};
      const l: Partial<Stats['total']['latencyMs']> =
        latencyStats.regions.find((r) => r.region === region)?.latencyMs ?? {};
      const own = copies.filter((c) => c.region === region);
      return [
        region,
        {
          copies: own.length,
          bytes: own.reduce((acc, c) => acc + (c.bytes ?? 0), 0),
          groundTruthCrmCopies: own.filter((c) => c.message.trackedIn.includes(region)).length,
          received: d.received ?? 0,
          receivedBytes: d.receivedBytes ?? 0,
          crmBound: d.crmBound ?? 0,
          tossed: d.tossed ?? {},
          bytesSent: d.bytesSent ?? 0,
          crossRegionBytes: d.crossRegionBytes ?? 0,
          forwardAllCrossRegionBytes: d.forwardAllCrossRegionBytes ?? 0,
          latencyMs: { p50: l.p50 ?? null, p95: l.p95 ?? null, p99: l.p99 ?? null, samples: l.samples ?? 0 },
        },
      ];
    }),
  );

  const networkCross = REGIONS.filter(isRemote).reduce(
    (acc, r) => acc + regionFigures[r].crossRegionBytes,
    0,
  );
  const networkCrossItems = REGIONS.filter(isRemote).reduce((acc, r) => acc + regionFigures[r].crmBound, 0);
  const forwardAllBytes = remoteCopies.reduce((acc, c) => acc + (c.bytes ?? 0), 0);
  const total = latencyStats.total.latencyMs;
  const crmCount = crm.length || 1;
  const proxyWire =
    rttMode === 'proxy'
      ? Object.fromEntries(Object.entries(rtt.proxies ?? {}).map(([r, p]) => [r, { ...p?.counters }]))
      : undefined;
  const rttByRegion: Partial<Record<Region, number>> = rtt.byRegion ?? {};
  const modelled = (ms: number | null, region: Region) =>
    ms === null ? null : ms + (rttMode === 'modelled' ? (rttByRegion[region] ?? 0) / 2 : 0);

  const report = {
    at: new Date().toISOString(),
    runId,
    options: {
      durationS,
      rate,
      usersPerRegion,
      crmShare,
      seed,
      sizeProfile,
      rttMs: rttByRegion,
      rttMode,
      concurrency,
    },
    notes,
    traffic: {
      messages: gt.length,
      copies: copies.length,
      copiesAccepted: accepted,
      copiesRefused: sent.failures,
      refusedSamples: sent.failureSamples,
      bytes: copies.reduce((acc, c) => acc + (c.bytes ?? 0), 0),
      achievedRatePerS: round(sent.achievedRate, 2),
      // Until the last message was handed to the sender, and until its last answer.
      sendPhaseS: round(sent.sendPhaseS, 2),
      sendAndAnswersS: round(sent.elapsedS, 2),
      sendMs: { p50: round(sent.sendMs.p50), p99: round(sent.sendMs.p99) },
      byCategory: Object.fromEntries(
        [...new Set(gt.map((m) => m.category))].sort().map((c) => {
          const ms = gt.filter((m) => m.category === c);
          return [
            c,
            {
              messages: ms.length,
              tracked: ms.filter((m) => m.tracked).length,
              captured: ms.filter((m) => activityOf(m)).length,
            },
          ];
        }),
      ),
      groundTruthCrm: crm.length,
      drained: drained.drained,
    },
    regions: regionFigures,
    architectures: {
      network: {
        label: '(a) this network: classify at the regional edge, send only CRM-bound items',
        crossRegionBytes: networkCross,
        crossRegionMessages: networkCrossItems,
        crossRegionHopsPerCrmItem: round(networkCrossItems / crmCount, 3),
        captureRate: round(captured.length / crmCount, 4),
        captured: captured.length,
        falseCaptures: falseCaptures.length,
        latencyMs: { p50: total.p50, p95: total.p95, p99: total.p99, samples: total.samples },
        ...(rttMode === 'modelled'
          ? {
              latencyModelledMs: Object.fromEntries(
                REGIONS.map((r) => [
                  r,
                  {
                    p50: modelled(regionFigures[r].latencyMs.p50, r),
                    p99: modelled(regionFigures[r].latencyMs.p99, r),
                  },
                ]),
              ),
            }
          : {}),
        ...(proxyWire ? { wireBytesAtProxy: proxyWire } : {}),
      },
      forwardEverything: {
        label:
          "(b) the seed's design: every mailbox forwards everything to one router in the home region (us)",
        crossRegionBytes: forwardAllBytes,
        crossRegionMessages: remoteCopies.length,
        crossRegionHopsPerCrmItem: round(remoteCopies.length / crmCount, 3),
        captureRate: round(captured.length / crmCount, 4),
        captured: captured.length,
        falseCaptures: falseCaptures.length,
        latencyMs: null,
        note: 'Computed from the same traffic: every eu/apac copy crosses regions whole. The same rules applied at central capture what (a) captures. Latency is not measured (the seed router polled its mailbox; its delay is not modelled here).',
      },
      homeRegionOnly: {
        label: "(c) the seed's third option: rules only for mailboxes in the home region",
        crossRegionBytes: 0,
        crossRegionMessages: 0,
        crossRegionHopsPerCrmItem: 0,
        captureRate: round(capturedHome.length / crmCount, 4),
        captured: capturedHome.length,
        falseCaptures: falseCaptures.filter((m) => activityOf(m)?.regions?.includes(HOME_REGION)).length,
        latencyMs: regionFigures[HOME_REGION].latencyMs,
        note: 'Measured on the same run: CRM mail whose activity came (also) from a home-region copy; eu/apac CRM mail is not captured. Latency: the home region of (a).',
      },
    },
    statsCrossCheck: {
      forwardAllCrossRegionBytesFromStats: REGIONS.filter(isRemote).reduce(
        (acc, r) => acc + regionFigures[r].forwardAllCrossRegionBytes,
        0,
      ),
      forwardAllCrossRegionBytesFromGenerator: forwardAllBytes,
    },
    missedSamples: missed
      .slice(0, 10)
      .map((m) => ({ category: m.category, messageId: m.messageId, regions: m.copies.map((c) => c.region) })),
    falseCaptureSamples: falseCaptures
      .slice(0, 10)
      .map((m) => ({ category: m.category, messageId: m.messageId })),
  };
  return report;
}

function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`;
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${Math.round(x)} ms`);

export function reportMarkdown(r: Json): string {
  const a = r.architectures;
  const rows = [a.network, a.forwardEverything, a.homeRegionOnly];
  const lines = [
    `# Traffic simulation — ${r.at}`,
    '',
    `${r.traffic.messages} messages (${r.traffic.copies} forwarded copies, ${fmtBytes(r.traffic.bytes)}) over ${r.options.durationS} s at ${r.options.rate}/s (achieved ${r.traffic.achievedRatePerS}/s), ` +
      `${r.options.usersPerRegion} mailboxes per region, CRM share ${pct(r.options.crmShare)}, seed \`${r.options.seed}\`, sizes \`${r.options.sizeProfile}\`, ` +
      `RTT ${JSON.stringify(r.options.rttMs)} (${r.options.rttMode}). Ground-truth CRM mail: ${r.traffic.groundTruthCrm}.`,
    '',
    '| architecture | cross-region bytes | cross-region messages | hops per CRM item | CRM captured | false captures | p50 | p95 | p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (x: Json) =>
        `| ${x.label} | ${fmtBytes(x.crossRegionBytes)} | ${x.crossRegionMessages} | ${x.crossRegionHopsPerCrmItem} | ${pct(x.captureRate)} (${x.captured}) | ${x.falseCaptures} | ${ms(x.latencyMs?.p50)} | ${ms(x.latencyMs?.p95)} | ${ms(x.latencyMs?.p99)} |`,
    ),
    '',
    `Cross-region bytes of this network ÷ forwarding everything: **${a.forwardEverything.crossRegionBytes ? (a.network.crossRegionBytes / a.forwardEverything.crossRegionBytes).toFixed(4) : '–'}**.`,
    '',
    '## Per region (this network, from `GET /api/v1/stats`)',
    '',
    '| region | copies | bytes in | CRM-bound | tossed | sent to central | cross-region | forward-all would send | p50 | p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...Object.entries<Json>(r.regions).map(
      ([region, x]) =>
        `| ${region} | ${x.copies} | ${fmtBytes(x.bytes)} | ${x.crmBound} | ${Object.values<number>(x.tossed).reduce((acc, v) => acc + v, 0)} | ${fmtBytes(x.bytesSent)} | ${fmtBytes(x.crossRegionBytes)} | ${fmtBytes(x.forwardAllCrossRegionBytes)} | ${ms(x.latencyMs.p50)} | ${ms(x.latencyMs.p99)} |`,
    ),
    '',
    '## By category (ground truth → captured)',
    '',
    '| category | messages | should be tracked | captured |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries<Json>(r.traffic.byCategory).map(
      ([c, x]) => `| ${c} | ${x.messages} | ${x.tracked} | ${x.captured} |`,
    ),
    '',
    '## Notes',
    '',
    `- (b) ${a.forwardEverything.note}`,
    `- (c) ${a.homeRegionOnly.note}`,
    '- Hops per CRM item: mail-carrying transfers across regions divided by ground-truth CRM messages.',
    '- Latency: receipt at the edge → commit at central (`GET /api/v1/stats` latencyMs, this run only).',
    ...(r.options.rttMode === 'proxy'
      ? [
          '- RTT: real — each edge reached central through a delay proxy holding every request and answer for RTT/2.',
        ]
      : r.options.rttMode === 'modelled'
        ? [
            `- RTT: **modelled** — measured latency + RTT/2 per region (the network under test was not started by the simulator, so no delay proxy could be inserted): ${JSON.stringify(a.network.latencyModelledMs)}`,
          ]
        : []),
    ...r.notes.map((n: string) => `- ${n}`),
    ...(r.traffic.copiesRefused
      ? [
          `- ${r.traffic.copiesRefused} copies were refused by an edge: ${r.traffic.refusedSamples.join('; ')}`,
        ]
      : []),
    ...(r.traffic.drained
      ? []
      : ['- Central had not counted every accepted copy when the drain timeout passed.']),
    '',
  ];
  return lines.join('\n');
}

function parseEdges(spec: string): Record<Region, string> {
  const out: Partial<Record<Region, string>> = {};
  for (const part of spec.split(',').filter(Boolean)) {
    const [region = '', url] = part.split('=');
    if (!isRegion(region) || !url)
      throw new Error(`--edges: cannot read "${part}" (expected us=URL,eu=URL,apac=URL)`);
    out[region] = url.replace(/\/$/, '');
  }
  for (const r of REGIONS) if (!out[r]) throw new Error(`--edges: missing ${r}`);
  return out as Record<Region, string>;
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      rate: { type: 'string', default: '10' },
      'users-per-region': { type: 'string', default: '10' },
      'crm-share': { type: 'string', default: '0.1' },
      'rtt-ms': { type: 'string' },
      seed: { type: 'string', default: 'crm-sim' },
      'size-profile': { type: 'string', default: 'realistic' },
      concurrency: { type: 'string', default: '64' },
      ingress: { type: 'string', default: 'email' },
      central: { type: 'string' },
      edges: { type: 'string' },
      start: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(readUsage());
    return;
  }
  const log = values.quiet ? () => {} : console.log;
  const num = (name: keyof typeof values, min: number, max: number) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max)
      throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return v;
  };
  const opts = {
    durationS: num('duration', 0.1, 86_400),
    rate: num('rate', 0.01, 10_000),
    usersPerRegion: Math.round(num('users-per-region', 1, 10_000)),
    crmShare: num('crm-share', 0, 1),
    seed: values.seed,
    sizeProfile: values['size-profile'],
    concurrency: Math.round(num('concurrency', 1, 1024)),
    ingress: values.ingress,
    log,
  };
  const rttByRegion = values['rtt-ms'] ? parseRtt(values['rtt-ms']) : {};
  const hasRtt = Object.values<number>(rttByRegion).some((v) => v > 0);
  let network: SimNetwork | undefined;
  let central = values.central;
  let edges: Record<Region, string>;
  if (values.start) {
    log(
      `starting a private local network${hasRtt ? ` with delay proxies (RTT to us: ${JSON.stringify(rttByRegion)})` : ''}…`,
    );
    network = await startSimNetwork({ rttMs: rttByRegion });
    central = network.central;
    edges = network.edges;
    log(`  central ${central}, edges ${JSON.stringify(edges)}`);
  } else {
    const ports = portsFromEnv();
    central = (central ?? `http://127.0.0.1:${ports.central}`).replace(/\/$/, '');
    edges = values.edges
      ? parseEdges(values.edges)
      : (Object.fromEntries(REGIONS.map((r) => [r, `http://127.0.0.1:${ports[r]}`])) as Record<
          Region,
          string
        >);
  }
  const stop = async () => network?.stop();
  process.on('SIGINT', () => stop().finally(() => process.exit(130)));
  try {
    const report = await runSimulation({
      ...opts,
      central: central as string,
      edges,
      rtt: { byRegion: rttByRegion, proxies: network?.proxies },
      rttMode: !hasRtt ? 'none' : network ? 'proxy' : 'modelled',
    });
    mkdirSync(resolve(values.out), { recursive: true });
    const md = reportMarkdown(report);
    writeFileSync(join(resolve(values.out), 'simulate-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(resolve(values.out), 'simulate-latest.md'), md);
    log(`\n${md}`);
    log(`wrote ${join(resolve(values.out), 'simulate-latest.json')} and simulate-latest.md`);
  } finally {
    await stop();
  }
}

function readUsage() {
  return `npm run simulate -- [options]
  --duration S            seconds of traffic (default 60)
  --rate N                messages per second (default 10; forwarded copies come on top)
  --users-per-region N    routed mailboxes per region (demo mailboxes first, extras registered; default 10)
  --crm-share F           share of CRM-bound messages, 0..1 (default 0.1)
  --rtt-ms SPEC           round trips, e.g. us-eu=80,us-apac=150,eu-apac=200. With --start: real, through
                          delay proxies on the edge → central path; otherwise modelled (measured + RTT/2)
  --seed S                PRNG seed (default crm-sim)
  --size-profile P        realistic | light | none (default realistic)
  --concurrency N         copies in flight at most (default 64)
  --ingress I             email: the edges' local Email Routing trigger (default);
                          inbound: the edges' POST /api/v1/inbound (skips wrangler's email emulation)
  --central URL           central (default http://127.0.0.1:8787 or CENTRAL_PORT)
  --edges us=URL,...      edges (default ports 8788-8790 or EDGE_*_PORT)
  --start                 start a private network (free ports, fresh state) instead
  --out DIR               report folder (default bench/results)`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(`simulate failed: ${errorMessage(err)}`);
    process.exit(1);
  });
}

export const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
