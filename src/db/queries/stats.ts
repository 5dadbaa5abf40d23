// The reads behind the per-region measures (src/central/stats.ts aggregates them).
import { and, desc, eq, gte, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import {
  activities,
  countedIds,
  crossRegionCounters,
  dispositions,
  edgeCounters,
  latencySamples,
  regionCanaries,
} from '../schema.js';
import { runBatch, type Statement } from './statements.js';

/** The edges' per-minute counters from `sinceMinute` (minutes since the epoch) on. */
export function edgeCountersSince(db: Db, sinceMinute: number) {
  return db.select().from(edgeCounters).where(gte(edgeCounters.minute, sinceMinute)).all();
}

/**
 * One deployment's activities received since `since`, counted per region they came through and
 * minute (aggregated in SQL: the rows grow with regions × minutes, not with mail).
 */
export function deploymentActivityTraffic(db: Db, deployment: string, since: number) {
  return db.all<{ region: string; minute: number; n: number; bytes: number }>(sql`
    select r.value as region, ${activities.receivedAt} / 60000 as minute, count(*) as n,
           sum(${activities.sizeBytes}) as bytes
    from ${activities}, json_each(${activities.regions}) r
    where ${activities.deployment} = ${deployment} and ${activities.receivedAt} >= ${since}
    group by region, minute`);
}

/** One deployment's dispositions since `since`, counted per region, reason and minute. */
export function deploymentDispositionTraffic(db: Db, deployment: string, since: number) {
  return db
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
}

/** The most recent `limit` receipt→commit latencies since `since` (of one deployment, when given), newest first. */
export function recentLatencies(db: Db, q: { since: number; deployment?: string; limit: number }) {
  return db
    .select({ region: latencySamples.region, ms: latencySamples.ms })
    .from(latencySamples)
    .where(
      and(
        gte(latencySamples.at, q.since),
        q.deployment ? eq(latencySamples.deployment, q.deployment) : undefined,
      ),
    )
    .orderBy(desc(latencySamples.at))
    .limit(q.limit)
    .all();
}

/**
 * Adds cross-region bytes of one region and minute, per kind (summed with what is there). With a
 * `reportId` (an edge's heartbeat report) the bytes are added only the first time that id is seen,
 * in the same transaction that records the id: a report posted again adds nothing.
 */
export async function addCrossRegionBytes(
  db: Db,
  region: string,
  minute: number,
  byKind: Record<string, { toCentral: number; fromCentral: number } | undefined>,
  reportId?: string,
): Promise<void> {
  await runBatch(db, crossRegionBytesStatements(db, region, minute, byKind, reportId));
}

/** Statements of `addCrossRegionBytes`, for a caller's own transaction (an ingest batch's). */
export function crossRegionBytesStatements(
  db: Db,
  region: string,
  minute: number,
  byKind: Record<string, { toCentral: number; fromCentral: number } | undefined>,
  reportId?: string,
): Statement[] {
  const rows = Object.entries(byKind)
    .filter((e): e is [string, { toCentral: number; fromCentral: number }] => e[1] !== undefined)
    .map(([kind, c]) => [region, minute, kind, c.toCentral, c.fromCentral]);
  if (!rows.length) return [];
  const counted = reportId === undefined ? undefined : `report:${reportId}`;
  const add = db
    .insert(crossRegionCounters)
    // The SELECT lists every column in the table's order (drizzle's INSERT column list).
    .select(
      sql`select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 from json_each(${JSON.stringify(rows)})
        where ${counted === undefined ? sql`true` : sql`not exists (select 1 from ${countedIds} where id = ${counted})`}`,
    )
    .onConflictDoUpdate({
      target: [crossRegionCounters.region, crossRegionCounters.minute, crossRegionCounters.kind],
      set: {
        toCentral: sql`cross_region_counters.to_central + excluded.to_central`,
        fromCentral: sql`cross_region_counters.from_central + excluded.from_central`,
      },
    });
  if (counted === undefined) return [add];
  return [
    add,
    db
      .insert(countedIds)
      .values({ id: counted, at: minute * 60_000 })
      .onConflictDoNothing(),
  ];
}

/** Cross-region bytes per region and kind from `sinceMinute` (minutes since the epoch) on. */
export function crossRegionBytesSince(db: Db, sinceMinute: number) {
  return db
    .select({
      region: crossRegionCounters.region,
      kind: crossRegionCounters.kind,
      toCentral: sql<number>`sum(${crossRegionCounters.toCentral})`,
      fromCentral: sql<number>`sum(${crossRegionCounters.fromCentral})`,
    })
    .from(crossRegionCounters)
    .where(gte(crossRegionCounters.minute, sinceMinute))
    .groupBy(crossRegionCounters.region, crossRegionCounters.kind)
    .all();
}

/** Records a region's canary, unless a later-sent one is already recorded (reports may overtake). */
export async function recordCanary(db: Db, row: typeof regionCanaries.$inferInsert): Promise<void> {
  await db
    .insert(regionCanaries)
    .values(row)
    .onConflictDoUpdate({
      target: regionCanaries.region,
      set: {
        roundTripMs: sql`excluded.round_trip_ms`,
        sentAt: sql`excluded.sent_at`,
        at: sql`excluded.at`,
      },
      setWhere: sql`excluded.sent_at > ${regionCanaries.sentAt}`,
    })
    .run();
}

/** Every region's last canary. */
export function listCanaries(db: Db) {
  return db.select().from(regionCanaries).all();
}
