// Retention's reads and deletes (src/central/retention.ts exports and prunes in bounded batches).
import { and, asc, eq, inArray, lt, notInArray, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';
import {
  activities,
  countedIds,
  crossRegionCounters,
  dispositions,
  edgeCounters,
  ingestBatches,
  latencySamples,
  regionCanaries,
  regions,
  webhookDeliveries,
  webhookOutbox,
} from '../schema.js';

/**
 * Deletes latency samples taken before `samplesBefore`, batch ids seen before `batchIdsBefore`,
 * counted copy and report ids before `countedIdsBefore`,
 * edge and cross-region counter minutes before `countersBeforeMinute`, and the canaries of regions
 * that no longer exist. A region's canary row is its last canary (one row per region), so it is
 * kept however old: the Overview shows its age.
 */
export async function pruneBookkeepingRows(
  db: Db,
  cutoffs: {
    samplesBefore: number;
    batchIdsBefore: number;
    countersBeforeMinute: number;
    countedIdsBefore: number;
  },
) {
  const regionIds = db.select({ id: regions.id }).from(regions);
  await db.batch([
    db.delete(latencySamples).where(lt(latencySamples.at, cutoffs.samplesBefore)),
    db.delete(ingestBatches).where(lt(ingestBatches.receivedAt, cutoffs.batchIdsBefore)),
    db.delete(countedIds).where(lt(countedIds.at, cutoffs.countedIdsBefore)),
    // `region in (regions)` lets SQLite walk the (region, minute) primary key per region instead of
    // scanning every counter row on each cron tick (D1 bills rows read).
    db
      .delete(edgeCounters)
      .where(
        and(inArray(edgeCounters.region, regionIds), lt(edgeCounters.minute, cutoffs.countersBeforeMinute)),
      ),
    db
      .delete(crossRegionCounters)
      .where(
        and(
          inArray(crossRegionCounters.region, regionIds),
          lt(crossRegionCounters.minute, cutoffs.countersBeforeMinute),
        ),
      ),
    db.delete(regionCanaries).where(notInArray(regionCanaries.region, regionIds)),
  ]);
}

/** `column in (ids)` with the ids in one JSON parameter: any number of ids, one bound value. */
const inIds = (column: SQLiteColumn, ids: readonly string[]) =>
  inArray(column, sql`(select value from json_each(${JSON.stringify(ids)}))`);

/**
 * The deployment's oldest activities received before `cutoff`, at most `limit`, oldest first —
 * except those whose delivery to the CRM is still pending (the outbox retries for 4 days).
 */
export function expiredActivities(db: Db, deployment: string, cutoff: number, limit: number) {
  return db
    .select()
    .from(activities)
    .where(
      and(
        eq(activities.deployment, deployment),
        lt(activities.receivedAt, cutoff),
        sql`not exists (select 1 from ${webhookOutbox} o where o.activity_id = ${activities.id} and o.state = 'pending')`,
      ),
    )
    .orderBy(asc(activities.receivedAt))
    .limit(limit)
    .all();
}

/** Deletes activities with their webhook deliveries and outbox rows, in one transaction. */
export async function deleteActivities(db: Db, ids: readonly string[]) {
  await db.batch([
    db.delete(webhookDeliveries).where(inIds(webhookDeliveries.activityId, ids)),
    db.delete(webhookOutbox).where(inIds(webhookOutbox.activityId, ids)),
    db.delete(activities).where(inIds(activities.id, ids)),
  ]);
}

/** The deployment's oldest dispositions from before `cutoff`, at most `limit`, oldest first. */
export function expiredDispositions(db: Db, deployment: string, cutoff: number, limit: number) {
  return db
    .select()
    .from(dispositions)
    .where(and(eq(dispositions.deployment, deployment), lt(dispositions.at, cutoff)))
    .orderBy(asc(dispositions.at))
    .limit(limit)
    .all();
}

export async function deleteDispositions(db: Db, ids: readonly string[]) {
  await db.delete(dispositions).where(inIds(dispositions.id, ids));
}
