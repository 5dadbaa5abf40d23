// e2e.* and geo.*: traffic through a whole local network (central + three edges, `wrangler dev`),
// sent by the traffic simulator (scripts/simulate.ts) — sender → queryable and receipt → commit
// latency at a sustained rate, and cross-region bytes vs. forwarding everything under two egress
// policies, both the ingest bodies alone and every kind in both directions (GET /api/v1/stats).

import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { CentralClient, Stats } from '../scripts/central-client.js';
import { LOCAL_ADMIN_TOKEN, OWN_WORKERD_ARG } from '../scripts/network.js';
import type { Region } from '../scripts/regions.js';
import { adminClient, startSimNetwork, syncSnapshots } from '../scripts/sim-network.js';
import { runSimulation } from '../scripts/simulate.js';
import type { TrafficMessage } from '../scripts/traffic.js';
import { percentile, round } from './lib/stats.js';

/**
 * The sender → queryable probe reads central's changes feed (`GET /api/v1/activities/changes`) every
 * PROBE_INTERVAL_MS, one request at a time, whatever the rate: polling each message by Message-ID
 * put hundreds of requests a second on central (the probe loaded what it measured) and could follow
 * only some of the messages at once.
 */
const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 120_000;
/** Changes per feed page (the feed's own maximum). */
const PROBE_PAGE = 500;

type Log = (line: string) => void;
// biome-ignore lint/suspicious/noExplicitAny: per-run figures, a loose JSON document
type Json = any;
export interface Net {
  central: string;
  edges: Record<Region, string>;
  /** Process group per worker (a network this bench started): the CPU split reads them. */
  processGroups?: Record<string, number>;
  /** Each edge's own workerd socket behind wrangler dev's proxy (a network this bench started): the e2e sender's ingress. */
  edgesDirect?: Partial<Record<Region, string>>;
  /** Where the edges post to central (a network this bench started): its public port or its own socket. */
  centralForEdges?: string;
}

/**
 * The edges' HTTP ingress (`POST /api/v1/inbound`, what production serves to servers that push and
 * what the SMTP relay posts to). Not `wrangler dev`'s Email Routing stand-in
 * (`/cdn-cgi/handler/email`): before the worker's `email()` runs, it parses every message in full,
 * stores a copy for its Local Explorer and logs a warning through wrangler's Node process, about
 * as much CPU again as the edge itself, none of which production does (docs/decisions.md, "The e2e
 * path"). `--e2e-ingress email` measures through it.
 */
export const E2E_INGRESS = 'inbound';

/** Linux's USER_HZ: the unit of the times in /proc/<pid>/stat (100 on every Linux ABI). */
const USER_HZ = 100;

interface CpuReading {
  /** pid → worker/command and CPU seconds so far. */
  processes: Map<number, { label: string; cpuS: number }>;
  machineBusyS: number;
  senderS: number;
  at: number;
}

/**
 * CPU time so far of every process of the network's workers (by worker and role, `edge-eu/
 * workerd`: processRole), of this process (the sender and the probe), and
 * of the whole machine (/proc/stat, so other load on a shared machine shows). Linux only.
 */
function readCpu(groups: Record<string, number>): CpuReading | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal …
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = (stat.split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const names = new Map(Object.entries(groups).map(([name, pgid]) => [pgid, name]));
  const processes = new Map<number, { label: string; cpuS: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp … utime stime: fields 14 and 15; comm may hold spaces.
    const close = line.lastIndexOf(')');
    const fields = line.slice(close + 2).split(' ');
    const name = names.get(Number(fields[2]));
    if (name === undefined) continue;
    processes.set(Number(entry), {
      label: `${name}/${processRole(entry, line.slice(line.indexOf('(') + 1, close))}`,
      cpuS: (Number(fields[11]) + Number(fields[12])) / USER_HZ,
    });
  }
  const own = process.cpuUsage();
  return {
    processes,
    machineBusyS: (user + nice + system + irq + softirq + steal) / USER_HZ,
    senderS: (own.user + own.system) / 1e6,
    at: performance.now(),
  };
}

/**
 * What a process of a `wrangler dev` group does: `wrangler` (Node: bundling, logs, the loopback
 * service), `esbuild`, and two workerd: `workerd-proxy` (wrangler's proxy worker on the public
 * port, which forwards every request) and `workerd` (the worker itself, on a port it picked).
 */
function processRole(pid: string, comm: string): string {
  if (comm === 'MainThread' || comm === 'node') return 'wrangler';
  if (comm !== 'workerd') return comm;
  let args = '';
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {}
  return args.includes(OWN_WORKERD_ARG) ? 'workerd' : 'workerd-proxy';
}

/** CPU seconds between two readings: per worker process, the sender, ours in all, the rest of the machine. */
function cpuSplit(start: CpuReading, end: CpuReading, messages: number) {
  const byProcess: Record<string, number> = { sender: end.senderS - start.senderS };
  for (const [pid, p] of end.processes)
    byProcess[p.label] = (byProcess[p.label] ?? 0) + p.cpuS - (start.processes.get(pid)?.cpuS ?? 0);
  const windowS = (end.at - start.at) / 1000;
  const ours = Object.values(byProcess).reduce((a, b) => a + b, 0);
  const machine = end.machineBusyS - start.machineBusyS;
  const sorted = Object.entries(byProcess).sort((a, b) => b[1] - a[1]);
  return {
    windowS: round(windowS, 1),
    machineCores: cpus().length,
    // Average cores busy over the window: everything, this network + sender, and the rest.
    machineBusyCores: round(machine / windowS, 2),
    networkAndSenderCores: round(ours / windowS, 2),
    otherLoadCores: round(Math.max(0, machine - ours) / windowS, 2),
    cpuSeconds: Object.fromEntries(sorted.map(([k, v]) => [k, round(v, 2)])),
    cpuMsPerMessage: Object.fromEntries(sorted.map(([k, v]) => [k, round((v * 1000) / messages, 2)])),
  };
}

const REMOTE: Region[] = ['eu', 'apac'];

/** Starts a private network unless `central` and `edges` name a running one. */
export async function withNetwork<T>(
  {
    central,
    edges,
    log,
  }: { central?: string | undefined; edges?: Record<Region, string> | undefined; log: Log },
  fn: (net: Net) => Promise<T>,
): Promise<T> {
  if (central && edges) return fn({ central, edges });
  log('network: starting central + 3 edges on free ports with fresh state…');
  const t = Date.now();
  const net = await startSimNetwork({ log: () => {}, centralDirect: true });
  log(`network: up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  try {
    return await fn(net);
  } finally {
    await net.stop();
  }
}

/**
 * Follows every CRM-bound message from the sender's first byte until central lists its activity:
 * the first page of the changes feed (admin token) that holds the activity — inserted, or merged
 * with a copy from another region — ends its wait. A feed page is read only after the commits it
 * lists (positions rise in commit order), so `GET /api/v1/activities?messageId=` lists the activity
 * from then on too. A sample is late by at most PROBE_INTERVAL_MS plus one answer; one not listed
 * within PROBE_TIMEOUT_MS counts in `senderToQueryableTimedOut`.
 */
function queryableProbe(central: string) {
  const waiting = new Map<string, number>();
  const samples: number[] = [];
  let timedOut = 0;
  let cursor: string | undefined;
  let stopped = false;
  const key = (deployment: string, messageId: string) => `${deployment}\0${messageId.toLowerCase()}`;
  const page = async () => {
    const url = `${central}/api/v1/activities/changes?limit=${PROBE_PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${LOCAL_ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`changes feed answered ${res.status}`);
    const body = (await res.json()) as {
      items: { activity: { deployment: string; messageId: string | null } }[];
      nextCursor: string | null;
      hasMore: boolean;
    };
    const at = Date.now();
    for (const { activity } of body.items) {
      if (!activity.messageId) continue;
      const k = key(activity.deployment, activity.messageId);
      const sent = waiting.get(k);
      if (sent === undefined) continue;
      waiting.delete(k);
      samples.push(at - sent);
    }
    if (body.nextCursor) cursor = body.nextCursor;
    return body.hasMore;
  };
  // Where the feed ends now: what was committed before the run is never a sample.
  const ready = (async () => {
    while (await page());
  })();
  const loop = (async () => {
    await ready;
    while (!stopped || waiting.size > 0) {
      const more = await page().catch(() => false);
      const now = Date.now();
      for (const [k, sent] of waiting)
        if (now - sent > PROBE_TIMEOUT_MS) {
          waiting.delete(k);
          timedOut++;
        }
      if (!more) await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  })();
  return {
    ready,
    onFirstByte(message: TrafficMessage, at: number) {
      if (message.tracked) waiting.set(key(message.deployment, message.messageId), at);
    },
    /** Stops following (the run failed): nothing more is waited for. */
    abandon() {
      stopped = true;
      waiting.clear();
    },
    async result() {
      stopped = true;
      await loop;
      samples.sort((a, b) => a - b);
      return {
        senderToQueryableP50Ms: round(percentile(samples, 50) ?? Number.NaN, 1),
        senderToQueryableP95Ms: round(percentile(samples, 95) ?? Number.NaN, 1),
        senderToQueryableP99Ms: round(percentile(samples, 99) ?? Number.NaN, 1),
        senderToQueryableSamples: samples.length,
        senderToQueryableTimedOut: timedOut,
      };
    },
  };
}

export async function benchE2e({
  central,
  edges,
  edgesDirect = {},
  centralForEdges,
  processGroups = {},
  smoke = false,
  quick = false,
  ingress = E2E_INGRESS,
  rate: rateOption,
  durationS: durationOption,
  log = () => {},
}: Net & {
  smoke?: boolean;
  quick?: boolean;
  ingress?: string;
  rate?: number | undefined;
  durationS?: number | undefined;
  log?: Log;
}) {
  const rate = rateOption ?? (smoke ? 5 : 200);
  const durationS = durationOption ?? (smoke ? 3 : quick ? 15 : 60);
  const probe = queryableProbe(central);
  await probe.ready;
  // From the first message sent until the run's activities are settled at central.
  let cpuStart: CpuReading | undefined;
  const r = await runSimulation({
    central,
    // Past wrangler dev's proxy worker where the bench started the network: the proxy exists only
    // in development (Cloudflare's front door in production) and took a quarter of the two cores.
    edges: { ...edges, ...edgesDirect },
    rate,
    durationS,
    crmShare: 0.1,
    seed: 'bench-e2e',
    sizeProfile: 'light',
    concurrency: 64,
    ingress,
    pregenerate: true,
    onFirstByte: (message, at) => {
      cpuStart ??= readCpu(processGroups);
      probe.onFirstByte(message, at);
    },
    log: (line) => log(`e2e: ${line.trim()}`),
  }).catch((err) => {
    probe.abandon();
    throw err;
  });
  const cpuEnd = cpuStart && readCpu(processGroups);
  const n = r.architectures.network;
  const queryable = await probe.result();
  const result = {
    // e2e.p50Ms / e2e.p99Ms are what a sender waits for: first byte → listed by the API.
    p50Ms: queryable.senderToQueryableP50Ms,
    p99Ms: queryable.senderToQueryableP99Ms,
    ...queryable,
    // Inside the router only: the edge's receipt → central's commit (GET /api/v1/stats latencyMs).
    receiptToCommitP50Ms: n.latencyMs.p50,
    receiptToCommitP95Ms: n.latencyMs.p95,
    receiptToCommitP99Ms: n.latencyMs.p99,
    receiptToCommitSamples: n.latencyMs.samples,
    ingress,
    // Where the sender's requests entered each edge: its own workerd, or wrangler dev's proxy worker.
    edgeSockets: Object.fromEntries(
      Object.keys(edges).map((r) => [r, r in edgesDirect ? 'workerd' : 'wrangler-proxy']),
    ),
    centralSocket: centralForEdges && centralForEdges !== central ? 'workerd' : 'wrangler-proxy',
    targetRatePerS: rate,
    achievedRatePerS: r.traffic.achievedRatePerS,
    sendPhaseS: r.traffic.sendPhaseS,
    sendAndAnswersS: r.traffic.sendAndAnswersS,
    durationS,
    messages: r.traffic.messages,
    copies: r.traffic.copies,
    copiesRefused: r.traffic.copiesRefused,
    sendMsP50: r.traffic.sendMs.p50,
    sendMsP99: r.traffic.sendMs.p99,
    captureRate: n.captureRate,
    falseCaptures: n.falseCaptures,
    drained: r.traffic.drained,
    ...(cpuStart && cpuEnd ? { cpu: cpuSplit(cpuStart, cpuEnd, r.traffic.messages) } : {}),
  };
  log(
    `e2e: sender → queryable p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms over ${queryable.senderToQueryableSamples} messages (${queryable.senderToQueryableTimedOut} timed out); receipt → commit p50 ${result.receiptToCommitP50Ms} ms, p99 ${result.receiptToCommitP99Ms} ms; at ${result.achievedRatePerS}/s (target ${rate}/s)`,
  );
  if (result.cpu)
    log(
      `e2e: CPU over ${result.cpu.windowS} s: machine ${result.cpu.machineBusyCores} of ${result.cpu.machineCores} cores busy (network + sender ${result.cpu.networkAndSenderCores}, other load ${result.cpu.otherLoadCores}); ms per message ${JSON.stringify(result.cpu.cpuMsPerMessage)}`,
    );
  return result;
}

async function setEgress(api: CentralClient, egress: 'full' | 'metadata+subject' | 'metadata') {
  for (const id of REMOTE) {
    const region = await api.regions.get(id);
    await api.regions.put(id, { name: region.name, rulesEnabled: region.rulesEnabled, egress });
  }
}

/**
 * Cross-region bytes of this network ÷ those of forwarding everything, on the same seeded traffic
 * (10 % CRM-bound, realistic sizes with attachments), once with eu/apac egress `metadata+subject`
 * (attachments and raw message stay in the region) and once with `full`. The regions' settings
 * are restored afterwards.
 */
export async function benchGeo({
  central,
  edges,
  smoke = false,
  quick = false,
  log = () => {},
}: Net & { smoke?: boolean; quick?: boolean; log?: Log }) {
  const api = adminClient(central);
  const saved = await Promise.all(REMOTE.map((id) => api.regions.get(id)));
  const runs: Record<string, Json> = {};
  try {
    for (const egress of ['metadata+subject', 'full'] as const) {
      await setEgress(api, egress);
      const before = await reportedStats(api, edges);
      const r = await runSimulation({
        central,
        edges,
        rate: smoke ? 5 : 10,
        durationS: smoke ? 3 : quick ? 15 : 30,
        crmShare: 0.1,
        seed: 'bench-geo',
        sizeProfile: 'realistic',
        log: (line) => log(`geo ${egress}: ${line.trim()}`),
      });
      const a = r.architectures.network;
      const b = r.architectures.forwardEverything;
      const all = allTraffic(before, await reportedStats(api, edges));
      runs[egress] = {
        allTrafficRatio: all.ratio,
        allTraffic: all,
        crossRegionBytes: a.crossRegionBytes,
        forwardAllCrossRegionBytes: b.crossRegionBytes,
        ratio: b.crossRegionBytes > 0 ? a.crossRegionBytes / b.crossRegionBytes : Number.NaN,
        crmShareOfMessages: round(r.traffic.groundTruthCrm / r.traffic.messages, 3),
        messages: r.traffic.messages,
        remoteCopies: b.crossRegionMessages,
        captureRate: a.captureRate,
      };
      log(
        `geo ${egress}: ratio ${runs[egress].ratio.toFixed(5)} (${a.crossRegionBytes} / ${b.crossRegionBytes} bytes)`,
      );
    }
  } finally {
    for (const r of saved)
      await api.regions.put(r.id, {
        name: r.name,
        rulesEnabled: r.rulesEnabled,
        egress: r.egress as 'full' | 'metadata+subject' | 'metadata',
      });
    await syncSnapshots(api, edges).catch(() => {});
  }
  const m = runs['metadata+subject'];
  const f = runs.full;
  return {
    crossRegionBytesRatio: round(m.ratio, 5),
    crossRegionBytesRatioFullEgress: round(f.ratio, 5),
    allTrafficRatio: round(m.allTrafficRatio, 5),
    allTrafficRatioFullEgress: round(f.allTrafficRatio, 5),
    crmShare: 0.1,
    metadataSubject: m,
    full: f,
  };
}

/** How long an edge's heartbeat may take after its cron answered (it runs in waitUntil). */
const HEARTBEAT_SETTLE_MS = 2000;

/**
 * Router-wide stats after every edge has reported what it counted: the cron (through
 * syncSnapshots) posts a heartbeat carrying the edge's cross-region counts.
 */
async function reportedStats(api: CentralClient, edges: Record<Region, string>): Promise<Stats> {
  await syncSnapshots(api, edges);
  await new Promise((r) => setTimeout(r, HEARTBEAT_SETTLE_MS));
  return api.stats(0);
}

/**
 * Every byte between the remote regions and central (all kinds, both directions) over what
 * forwarding every message to central would have sent, between two stats readings.
 */
function allTraffic(before: Stats, after: Stats) {
  const c0 = before.total.crossRegion;
  const c1 = after.total.crossRegion;
  const byKind = Object.fromEntries(
    Object.entries(c1.byKind).map(([kind, v]) => {
      const b = c0.byKind[kind as keyof typeof c0.byKind];
      return [kind, { toCentral: v.toCentral - b.toCentral, fromCentral: v.fromCentral - b.fromCentral }];
    }),
  );
  const bytes = c1.bytesToCentral - c0.bytesToCentral + (c1.bytesFromCentral - c0.bytesFromCentral);
  const forwardAll = after.total.forwardAllCrossRegionBytes - before.total.forwardAllCrossRegionBytes;
  return {
    bytes,
    forwardAllBytes: forwardAll,
    ratio: forwardAll > 0 ? bytes / forwardAll : Number.NaN,
    byKind,
  };
}
