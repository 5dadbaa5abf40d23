// Per-region measures (design §6): traffic, cross-region bytes vs. forward-everything, hops,
// receipt→commit latency percentiles, queue depth, heartbeat and snapshot lag.
import type { Db } from '../../db/client.js';
import { listRegions } from '../../db/queries/regions.js';
import {
  deploymentActivityTraffic,
  deploymentDispositionTraffic,
  edgeCountersSince,
  recentLatencies,
} from '../../db/queries/stats.js';

/** An edge that has not reported for this long is shown as unhealthy. */
export const HEARTBEAT_STALE_MS = 3 * 60 * 1000;

/** Traffic counts: every message an edge received, those bound for the CRM, what it tossed and sent. */
export interface TrafficTotals {
  received: number;
  receivedBytes: number;
  crmBound: number;
  crmBoundBytes: number;
  tossed: Record<string, number>;
  bytesSent: number;
}

/** Zero counts (a fresh counter row, a region without traffic). */
export const emptyTotals = (): TrafficTotals => ({
  received: 0,
  receivedBytes: 0,
  crmBound: 0,
  crmBoundBytes: 0,
  tossed: {},
  bytesSent: 0,
});

/** Adds counts to totals (tossed reasons summed by reason). */
export function addTotals(t: TrafficTotals, d: Partial<TrafficTotals>): void {
  t.received += d.received ?? 0;
  t.receivedBytes += d.receivedBytes ?? 0;
  t.crmBound += d.crmBound ?? 0;
  t.crmBoundBytes += d.crmBoundBytes ?? 0;
  t.bytesSent += d.bytesSent ?? 0;
  for (const [k, v] of Object.entries(d.tossed ?? {})) t.tossed[k] = (t.tossed[k] ?? 0) + v;
}

export interface RegionStats extends TrafficTotals {
  region: string;
  name: string;
  rulesEnabled: boolean;
  egress: string;
  healthy: boolean;
  lastHeartbeatAt: number | null;
  snapshotVersion: number;
  edgeSnapshotVersion: number | null;
  snapshotVersionLag: number | null;
  queueDepth: number | null;
  /** Bytes that crossed regions to reach central (0 for the home region: it is in-region). */
  crossRegionBytes: number;
  /** What forwarding every message to central would have sent across regions from this region. */
  forwardAllCrossRegionBytes: number;
  crossRegionBytesRatio: number | null;
  hopsPerCrmBound: number;
  hopsSaved: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; samples: number };
  series: { minute: number; received: number; crmBound: number; bytesSent: number }[];
}

export interface StatsResult {
  since: number;
  homeRegion: string;
  regions: RegionStats[];
  total: Omit<
    RegionStats,
    | 'region'
    | 'name'
    | 'rulesEnabled'
    | 'egress'
    | 'healthy'
    | 'lastHeartbeatAt'
    | 'snapshotVersion'
    | 'edgeSnapshotVersion'
    | 'snapshotVersionLag'
    | 'queueDepth'
    | 'series'
  >;
}

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? null;
}

interface Traffic extends TrafficTotals {
  series: Map<number, { minute: number; received: number; crmBound: number; bytesSent: number }>;
}

const emptyTraffic = (): Traffic => ({ ...emptyTotals(), series: new Map() });

function latencySummary(sorted: number[]): RegionStats['latencyMs'] {
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    samples: sorted.length,
  };
}

const bytesRatio = (crossRegion: number, forwardAll: number) =>
  forwardAll > 0 ? crossRegion / forwardAll : null;

/** Adds counts to a region's traffic and to its minute in the series. */
function addTraffic(out: Map<string, Traffic>, region: string, minute: number, d: Partial<TrafficTotals>) {
  const t = out.get(region) ?? emptyTraffic();
  out.set(region, t);
  addTotals(t, d);
  let p = t.series.get(minute);
  if (!p) {
    p = { minute, received: 0, crmBound: 0, bytesSent: 0 };
    t.series.set(minute, p);
  }
  p.received += d.received ?? 0;
  p.crmBound += d.crmBound ?? 0;
  p.bytesSent += d.bytesSent ?? 0;
}

/** Router-wide traffic from the edges' counters. */
async function counterTraffic(db: Db, since: number): Promise<Map<string, Traffic>> {
  const out = new Map<string, Traffic>();
  for (const r of await edgeCountersSince(db, Math.floor(since / 60000)))
    addTraffic(out, r.region, r.minute, r);
  return out;
}

/**
 * One deployment's traffic, from its own activities and receipts (no other tenant's volumes),
 * aggregated per region and minute in SQL: memory grows with regions × minutes, not with mail.
 */
async function deploymentTraffic(db: Db, since: number, deployment: string): Promise<Map<string, Traffic>> {
  const out = new Map<string, Traffic>();
  for (const a of await deploymentActivityTraffic(db, deployment, since))
    addTraffic(out, a.region, a.minute, {
      received: a.n,
      receivedBytes: a.bytes,
      crmBound: a.n,
      crmBoundBytes: a.bytes,
    });
  for (const d of await deploymentDispositionTraffic(db, deployment, since))
    addTraffic(out, d.region, d.minute, {
      received: d.n,
      receivedBytes: d.bytes,
      tossed: { [d.reason]: d.n },
    });
  return out;
}

/** The longest window stats cover: older `since` values are raised to it. */
export const MAX_STATS_WINDOW_MS = 31 * 24 * 60 * 60 * 1000;
/** Latency percentiles come from at most this many of the window's most recent samples. */
export const MAX_LATENCY_SAMPLES = 50_000;

export async function computeStats(
  db: Db,
  options: { since: number; homeRegion: string; deployment?: string; now?: number },
): Promise<StatsResult> {
  const now = options.now ?? Date.now();
  const opts = { ...options, since: Math.max(options.since, now - MAX_STATS_WINDOW_MS) };
  const regionRows = await listRegions(db);
  const traffic = opts.deployment
    ? await deploymentTraffic(db, opts.since, opts.deployment)
    : await counterTraffic(db, opts.since);
  const latencyRows = await recentLatencies(db, {
    since: opts.since,
    deployment: opts.deployment,
    limit: MAX_LATENCY_SAMPLES,
  });
  latencyRows.sort((a, b) => a.ms - b.ms);
  const latencyByRegion = new Map<string, number[]>();
  for (const l of latencyRows) {
    const list = latencyByRegion.get(l.region) ?? [];
    list.push(l.ms);
    latencyByRegion.set(l.region, list);
  }

  const regionStats: RegionStats[] = regionRows.map((r) => {
    const t = traffic.get(r.id) ?? emptyTraffic();
    const home = r.id === opts.homeRegion;
    const latency = latencyByRegion.get(r.id) ?? [];
    const crossRegionBytes = home ? 0 : t.bytesSent;
    const forwardAll = home ? 0 : t.receivedBytes;
    return {
      region: r.id,
      name: r.name,
      rulesEnabled: r.rulesEnabled,
      egress: r.egress,
      healthy: r.lastHeartbeatAt !== null && now - r.lastHeartbeatAt < HEARTBEAT_STALE_MS,
      lastHeartbeatAt: r.lastHeartbeatAt ?? null,
      snapshotVersion: r.configVersion,
      edgeSnapshotVersion: r.edgeSnapshotVersion ?? null,
      snapshotVersionLag:
        r.edgeSnapshotVersion == null ? null : Math.max(0, r.configVersion - r.edgeSnapshotVersion),
      queueDepth: r.queueDepth ?? null,
      received: t.received,
      receivedBytes: t.receivedBytes,
      crmBound: t.crmBound,
      crmBoundBytes: t.crmBoundBytes,
      tossed: t.tossed,
      bytesSent: t.bytesSent,
      crossRegionBytes,
      forwardAllCrossRegionBytes: forwardAll,
      crossRegionBytesRatio: bytesRatio(crossRegionBytes, forwardAll),
      // Each CRM-bound item takes one hop (edge → central); forward-everything took one per message.
      hopsPerCrmBound: t.crmBound > 0 ? 1 : 0,
      hopsSaved: home ? 0 : t.received - t.crmBound,
      latencyMs: latencySummary(latency),
      series: [...t.series.values()].sort((a, b) => a.minute - b.minute),
    };
  });

  const all = latencyRows.map((l) => l.ms).sort((a, b) => a - b);
  const sum = (f: (r: RegionStats) => number) => regionStats.reduce((acc, r) => acc + f(r), 0);
  const tossed: Record<string, number> = {};
  for (const r of regionStats)
    for (const [k, v] of Object.entries(r.tossed)) tossed[k] = (tossed[k] ?? 0) + v;
  const crossRegionBytes = sum((r) => r.crossRegionBytes);
  const forwardAll = sum((r) => r.forwardAllCrossRegionBytes);
  return {
    since: opts.since,
    homeRegion: opts.homeRegion,
    regions: regionStats,
    total: {
      received: sum((r) => r.received),
      receivedBytes: sum((r) => r.receivedBytes),
      crmBound: sum((r) => r.crmBound),
      crmBoundBytes: sum((r) => r.crmBoundBytes),
      tossed,
      bytesSent: sum((r) => r.bytesSent),
      crossRegionBytes,
      forwardAllCrossRegionBytes: forwardAll,
      crossRegionBytesRatio: bytesRatio(crossRegionBytes, forwardAll),
      hopsPerCrmBound: sum((r) => r.crmBound) > 0 ? 1 : 0,
      hopsSaved: sum((r) => r.hopsSaved),
      latencyMs: latencySummary(all),
    },
  };
}
