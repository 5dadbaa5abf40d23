// e2e.* and geo.*: traffic through a whole local network (central + three edges, `wrangler dev`),
// sent by the traffic simulator (scripts/simulate.ts) — sender → queryable and receipt → commit
// latency at a sustained rate, and cross-region bytes vs. forwarding everything under two egress
// policies, both the ingest bodies alone and every kind in both directions (GET /api/v1/stats).

import type { CentralClient, Stats } from '../scripts/central-client.js';
import type { Region } from '../scripts/regions.js';
import { adminClient, startSimNetwork, syncSnapshots } from '../scripts/sim-network.js';
import { runSimulation } from '../scripts/simulate.js';
import type { TrafficMessage } from '../scripts/traffic.js';
import { percentile, round } from './lib/stats.js';

/** The sender → queryable probe: how often it asks, and how many CRM-bound messages it follows at once. */
const PROBE_INTERVAL_MS = 50;
const PROBE_MAX_IN_FLIGHT = 32;
const PROBE_TIMEOUT_MS = 120_000;

type Log = (line: string) => void;
// biome-ignore lint/suspicious/noExplicitAny: per-run figures, a loose JSON document
type Json = any;
export interface Net {
  central: string;
  edges: Record<Region, string>;
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
  const net = await startSimNetwork({ log: () => {} });
  log(`network: up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  try {
    return await fn(net);
  } finally {
    await net.stop();
  }
}

/**
 * Follows CRM-bound messages from the sender's first byte until `GET /api/v1/activities?messageId=`
 * lists them, asking every PROBE_INTERVAL_MS (so a sample is late by at most that plus one answer).
 * At most PROBE_MAX_IN_FLIGHT at once (the probe is load on central too): the others are counted
 * as unsampled, never guessed.
 */
function queryableProbe(central: string) {
  const api = adminClient(central);
  const samples: number[] = [];
  const running = new Set<Promise<void>>();
  let unsampled = 0;
  let timedOut = 0;
  const follow = async (message: TrafficMessage, at: number) => {
    const deadline = at + PROBE_TIMEOUT_MS;
    for (;;) {
      const listed = await api.activities
        .list({ deployment: message.deployment, messageId: message.messageId, limit: 1 })
        .then((r) => r.items.length > 0)
        .catch(() => false);
      if (listed) {
        samples.push(Date.now() - at);
        return;
      }
      if (Date.now() > deadline) {
        timedOut++;
        return;
      }
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  };
  return {
    onFirstByte(message: TrafficMessage, at: number) {
      if (!message.tracked) return;
      if (running.size >= PROBE_MAX_IN_FLIGHT) {
        unsampled++;
        return;
      }
      const p = follow(message, at).finally(() => running.delete(p));
      running.add(p);
    },
    async result() {
      await Promise.all(running);
      samples.sort((a, b) => a - b);
      return {
        senderToQueryableP50Ms: round(percentile(samples, 50) ?? Number.NaN, 1),
        senderToQueryableP95Ms: round(percentile(samples, 95) ?? Number.NaN, 1),
        senderToQueryableP99Ms: round(percentile(samples, 99) ?? Number.NaN, 1),
        senderToQueryableSamples: samples.length,
        senderToQueryableUnsampled: unsampled,
        senderToQueryableTimedOut: timedOut,
      };
    },
  };
}

export async function benchE2e({
  central,
  edges,
  smoke = false,
  quick = false,
  ingress = 'email',
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
  const r = await runSimulation({
    central,
    edges,
    rate,
    durationS,
    crmShare: 0.1,
    seed: 'bench-e2e',
    sizeProfile: 'light',
    concurrency: 64,
    ingress,
    pregenerate: true,
    onFirstByte: probe.onFirstByte,
    log: (line) => log(`e2e: ${line.trim()}`),
  });
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
    targetRatePerS: rate,
    achievedRatePerS: r.traffic.achievedRatePerS,
    durationS,
    messages: r.traffic.messages,
    copies: r.traffic.copies,
    copiesRefused: r.traffic.copiesRefused,
    sendMsP50: r.traffic.sendMs.p50,
    sendMsP99: r.traffic.sendMs.p99,
    captureRate: n.captureRate,
    falseCaptures: n.falseCaptures,
    drained: r.traffic.drained,
  };
  log(
    `e2e: sender → queryable p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms over ${queryable.senderToQueryableSamples} messages (${queryable.senderToQueryableUnsampled} unsampled, ${queryable.senderToQueryableTimedOut} timed out); receipt → commit p50 ${result.receiptToCommitP50Ms} ms, p99 ${result.receiptToCommitP99Ms} ms; at ${result.achievedRatePerS}/s (target ${rate}/s)`,
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
