// Per-region measures (design §6): traffic, cross-region bytes vs. forward-everything and in both
// directions by kind, hops, receipt→commit latency percentiles, queue depth, heartbeat, snapshot
// lag and the canary.
import { CANARY_STALE_MS, type CanaryMarker, verifyCanary } from '../../core/canary.js';
import { deriveEdgeCredentials } from '../../core/request-signature.js';
import { CROSS_REGION_KINDS, type CrossRegionKind } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { listRegions } from '../../db/queries/regions.js';
import { searchBackfillState } from '../../db/queries/search-backfill.js';
import {
  addCrossRegionBytes,
  crossRegionBytesSince,
  deploymentActivityTraffic,
  deploymentDispositionTraffic,
  edgeCountersSince,
  listCanaries,
  recentLatencies,
  recordCanary,
} from '../../db/queries/stats.js';

/** An edge that has not reported for this long is shown as unhealthy. */
export const HEARTBEAT_STALE_MS = 3 * 60 * 1000;
export { CANARY_STALE_MS };

/** Cross-region bytes of a region (or all), both directions, by kind (design §6, `crossRegion`). */
export interface CrossRegionBytes {
  bytesToCentral: number;
  bytesFromCentral: number;
  byKind: Record<CrossRegionKind, { toCentral: number; fromCentral: number }>;
}

const emptyCrossRegion = (): CrossRegionBytes => ({
  bytesToCentral: 0,
  bytesFromCentral: 0,
  byKind: Object.fromEntries(
    CROSS_REGION_KINDS.map((k) => [k, { toCentral: 0, fromCentral: 0 }]),
  ) as CrossRegionBytes['byKind'],
});

function addCrossRegion(t: CrossRegionBytes, kind: CrossRegionKind, toCentral: number, fromCentral: number) {
  t.bytesToCentral += toCentral;
  t.bytesFromCentral += fromCentral;
  t.byKind[kind].toCentral += toCentral;
  t.byKind[kind].fromCentral += fromCentral;
}

/** Adds the cross-region bytes a region's heartbeat reported, or central counted itself, to `now`'s minute. */
export function recordCrossRegionBytes(
  db: Db,
  region: string,
  now: number,
  byKind: Partial<Record<CrossRegionKind, { toCentral: number; fromCentral: number }>>,
  /** The heartbeat's report id: a report posted again under it is counted once. */
  reportId?: string,
): Promise<void> {
  return addCrossRegionBytes(db, region, Math.floor(now / 60_000), byKind, reportId);
}

/**
 * Records the round trip of a region's canaries (edge send → central commit). Each marker is
 * verified again with the region's key (the batch is signed too; this keeps the rule in one place,
 * src/core/canary.ts). Returns the ids of markers that did not verify: they are recorded nowhere.
 */
export async function recordCanaries(
  db: Db,
  edgeKeySecret: string,
  region: string,
  canaries: CanaryMarker[],
  now: number,
): Promise<string[]> {
  if (!canaries.length) return [];
  const { signingKey } = await deriveEdgeCredentials(edgeKeySecret, region);
  const refused: string[] = [];
  let latest: CanaryMarker | undefined;
  for (const c of canaries) {
    if (!(await verifyCanary(signingKey, region, c, now))) refused.push(c.id);
    else if (!latest || c.sentAt > latest.sentAt) latest = c;
  }
  if (latest)
    await recordCanary(db, {
      region,
      roundTripMs: Math.max(0, now - latest.sentAt),
      sentAt: latest.sentAt,
      at: now,
    });
  return refused;
}

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
  /** Every byte between the region and central, both directions, by kind (0 for the home region). */
  crossRegion: CrossRegionBytes;
  /** The region's last canary that reached central (both null: none yet). */
  canary: { lastRoundTripMs: number | null; at: number | null };
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
    | 'canary'
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
  const crossRegion = new Map<string, CrossRegionBytes>();
  // Router-wide, like latency: the bytes are the edges' and central's, not one tenant's.
  for (const row of await crossRegionBytesSince(db, Math.floor(opts.since / 60_000))) {
    if (!(CROSS_REGION_KINDS as readonly string[]).includes(row.kind)) continue;
    const t = crossRegion.get(row.region) ?? emptyCrossRegion();
    crossRegion.set(row.region, t);
    addCrossRegion(t, row.kind as CrossRegionKind, row.toCentral, row.fromCentral);
  }
  const canaries = new Map((await listCanaries(db)).map((c) => [c.region, c]));
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
    const canary = canaries.get(r.id);
    const heartbeatFresh = r.lastHeartbeatAt !== null && now - r.lastHeartbeatAt < HEARTBEAT_STALE_MS;
    // Healthy means mail got through lately: a live heartbeat and a canary within three intervals.
    const canaryFresh = canary !== undefined && now - canary.at < CANARY_STALE_MS;
    return {
      region: r.id,
      name: r.name,
      rulesEnabled: r.rulesEnabled,
      egress: r.egress,
      healthy: heartbeatFresh && canaryFresh,
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
      // Central's own region: nothing between its edge and central crosses a region.
      crossRegion: home ? emptyCrossRegion() : (crossRegion.get(r.id) ?? emptyCrossRegion()),
      canary: { lastRoundTripMs: canary?.roundTripMs ?? null, at: canary?.at ?? null },
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
  const allCrossRegion = emptyCrossRegion();
  for (const r of regionStats)
    for (const k of CROSS_REGION_KINDS)
      addCrossRegion(
        allCrossRegion,
        k,
        r.crossRegion.byKind[k].toCentral,
        r.crossRegion.byKind[k].fromCentral,
      );
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
      crossRegion: allCrossRegion,
    },
  };
}

/**
 * The full-text index's state: complete, or the share of the stored activities the backfill after
 * its rebuild (migrations 0014, 0015) has indexed so far, newest first.
 */
export async function searchIndexStatus(db: Db) {
  const backfill = await searchBackfillState(db);
  if (!backfill) return { complete: true, indexedShare: 1, backfillStartedAt: null };
  const share = (backfill.fromSeq - backfill.belowSeq) / Math.max(1, backfill.fromSeq - 1);
  return {
    complete: false,
    indexedShare: Math.min(1, Math.max(0, share)),
    backfillStartedAt: backfill.startedAt,
  };
}
