// Per-region measures (design §6): traffic, cross-region bytes vs. forward-everything, hops,
// receipt→commit latency percentiles, queue depth, heartbeat and snapshot lag.
import { and, desc, eq, gte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { activities, dispositions, edgeCounters, latencySamples, regions } from '../../db/schema.js';

/** An edge that has not reported for this long is shown as unhealthy. */
export const HEARTBEAT_STALE_MS = 3 * 60 * 1000;

export interface RegionStats {
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
  received: number;
  receivedBytes: number;
  crmBound: number;
  crmBoundBytes: number;
  tossed: Record<string, number>;
  bytesSent: number;
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

interface Traffic {
  received: number;
  receivedBytes: number;
  crmBound: number;
  crmBoundBytes: number;
  tossed: Record<string, number>;
  bytesSent: number;
  series: Map<number, { minute: number; received: number; crmBound: number; bytesSent: number }>;
}

const emptyTraffic = (): Traffic => ({
  received: 0,
  receivedBytes: 0,
  crmBound: 0,
  crmBoundBytes: 0,
  tossed: {},
  bytesSent: 0,
  series: new Map(),
});

function point(t: Traffic, minute: number) {
  let p = t.series.get(minute);
  if (!p) {
    p = { minute, received: 0, crmBound: 0, bytesSent: 0 };
    t.series.set(minute, p);
  }
  return p;
}

/** Router-wide traffic from the edges' counters. */
async function counterTraffic(db: Db, since: number): Promise<Map<string, Traffic>> {
  const rows = await db
    .select()
    .from(edgeCounters)
    .where(gte(edgeCounters.minute, Math.floor(since / 60000)))
    .all();
  const out = new Map<string, Traffic>();
  for (const r of rows) {
    const t = out.get(r.region) ?? emptyTraffic();
    t.received += r.received;
    t.receivedBytes += r.receivedBytes;
    t.crmBound += r.crmBound;
    t.crmBoundBytes += r.crmBoundBytes;
    t.bytesSent += r.bytesSent;
    for (const [k, v] of Object.entries(r.tossed)) t.tossed[k] = (t.tossed[k] ?? 0) + v;
    const p = point(t, r.minute);
    p.received += r.received;
    p.crmBound += r.crmBound;
    p.bytesSent += r.bytesSent;
    out.set(r.region, t);
  }
  return out;
}

/**
 * One deployment's traffic, from its own activities and receipts (no other tenant's volumes),
 * aggregated per region and minute in SQL: memory grows with regions × minutes, not with mail.
 */
async function deploymentTraffic(db: Db, since: number, deployment: string): Promise<Map<string, Traffic>> {
  const out = new Map<string, Traffic>();
  const acts = await db.all<{ region: string; minute: number; n: number; bytes: number }>(sql`
    select r.value as region, ${activities.receivedAt} / 60000 as minute, count(*) as n,
           sum(${activities.sizeBytes}) as bytes
    from ${activities}, json_each(${activities.regions}) r
    where ${activities.deployment} = ${deployment} and ${activities.receivedAt} >= ${since}
    group by region, minute`);
  for (const a of acts) {
    const t = out.get(a.region) ?? emptyTraffic();
    t.received += a.n;
    t.receivedBytes += a.bytes;
    t.crmBound += a.n;
    t.crmBoundBytes += a.bytes;
    const p = point(t, a.minute);
    p.crmBound += a.n;
    p.received += a.n;
    out.set(a.region, t);
  }
  const disp = await db
    .select({
      region: dispositions.region,
      reason: dispositions.reason,
      minute: sql<number>`${dispositions.at} / 60000`,
      n: sql<number>`count(*)`,
      bytes: sql<number>`sum(${dispositions.sizeBytes})`,
    })
    .from(dispositions)
    .where(and(eq(dispositions.deployment, deployment), gte(dispositions.at, since)))
    .groupBy(dispositions.region, dispositions.reason, sql`${dispositions.at} / 60000`)
    .all();
  for (const d of disp) {
    const t = out.get(d.region) ?? emptyTraffic();
    t.received += d.n;
    t.receivedBytes += d.bytes;
    t.tossed[d.reason] = (t.tossed[d.reason] ?? 0) + d.n;
    point(t, d.minute).received += d.n;
    out.set(d.region, t);
  }
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
  const regionRows = await db.select().from(regions).orderBy(regions.id).all();
  const traffic = opts.deployment
    ? await deploymentTraffic(db, opts.since, opts.deployment)
    : await counterTraffic(db, opts.since);
  const latencyRows = await db
    .select({ region: latencySamples.region, ms: latencySamples.ms })
    .from(latencySamples)
    .where(
      and(
        gte(latencySamples.at, opts.since),
        opts.deployment ? eq(latencySamples.deployment, opts.deployment) : undefined,
      ),
    )
    .orderBy(desc(latencySamples.at))
    .limit(MAX_LATENCY_SAMPLES)
    .all();
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
      crossRegionBytesRatio: forwardAll > 0 ? crossRegionBytes / forwardAll : null,
      // Each CRM-bound item takes one hop (edge → central); forward-everything took one per message.
      hopsPerCrmBound: t.crmBound > 0 ? 1 : 0,
      hopsSaved: home ? 0 : t.received - t.crmBound,
      latencyMs: {
        p50: percentile(latency, 50),
        p95: percentile(latency, 95),
        p99: percentile(latency, 99),
        samples: latency.length,
      },
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
      crossRegionBytesRatio: forwardAll > 0 ? crossRegionBytes / forwardAll : null,
      hopsPerCrmBound: sum((r) => r.crmBound) > 0 ? 1 : 0,
      hopsSaved: sum((r) => r.hopsSaved),
      latencyMs: {
        p50: percentile(all, 50),
        p95: percentile(all, 95),
        p99: percentile(all, 99),
        samples: all.length,
      },
    },
  };
}
