import { and, asc, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import {
  activities,
  deployments,
  dispositions,
  ingestBatches,
  latencySamples,
  webhookDeliveries,
  webhookOutbox,
} from '../../db/schema.js';
import { SIGNATURE_MAX_SKEW_MS } from '../../core/wire.js';

/** Latency samples older than this are dropped (the dashboard looks back at most 7 days). */
export const LATENCY_RETENTION_MS = 8 * 24 * 3600 * 1000;
/** Seen batch ids only matter while a replayed request could still pass the timestamp check. */
export const BATCH_ID_RETENTION_MS = 2 * SIGNATURE_MAX_SKEW_MS;

/** Prunes bookkeeping rows that would otherwise grow without bound (run from the cron trigger). */
export async function pruneBookkeeping(db: Db, now: number) {
  await db.batch([
    db.delete(latencySamples).where(lt(latencySamples.at, now - LATENCY_RETENTION_MS)),
    db.delete(ingestBatches).where(lt(ingestBatches.receivedAt, now - BATCH_ID_RETENTION_MS)),
  ]);
}

/** Rows pruned per batch (one R2 export + one D1 transaction), and batches per cron run. */
export const RETENTION_BATCH = 500;
export const RETENTION_BATCHES_PER_RUN = 20;

const DAY_MS = 24 * 3600 * 1000;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Per-deployment retention: activities and dispositions older than the deployment's
 * `retentionDays` are exported, then deleted, in bounded batches (at most
 * RETENTION_BATCHES_PER_RUN × RETENTION_BATCH rows per table and run; the next cron tick goes on).
 * The export is NDJSON in the home region's ARCHIVE bucket, one object per deployment, table, day
 * and batch: `exports/<deployment>/<table>/<YYYY-MM-DD>/<first>-<last>.ndjson`. A batch is deleted
 * only after its export was written, so a failure leaves the rows for the next run. An activity
 * whose CRM delivery is still pending is kept until the outbox is done with it.
 */
export async function pruneRetention(
  db: Db,
  archive: R2Bucket,
  now: number,
  opts: { batch?: number; batches?: number } = {},
) {
  const batch = opts.batch ?? RETENTION_BATCH;
  let budget = opts.batches ?? RETENTION_BATCHES_PER_RUN;
  const deps = await db
    .select({ id: deployments.id, days: deployments.retentionDays })
    .from(deployments)
    .where(isNotNull(deployments.retentionDays))
    .all();
  const pruned: Record<string, { activities: number; dispositions: number }> = {};
  for (const d of deps) {
    const cutoff = now - (d.days as number) * DAY_MS;
    const counts = { activities: 0, dispositions: 0 };
    pruned[d.id] = counts;
    while (budget > 0) {
      const rows = await db
        .select()
        .from(activities)
        .where(
          and(
            eq(activities.deployment, d.id),
            lt(activities.receivedAt, cutoff),
            // Not while its delivery to the CRM is still pending (the outbox retries for 4 days).
            sql`not exists (select 1 from ${webhookOutbox} o where o.activity_id = ${activities.id} and o.state = 'pending')`,
          ),
        )
        .orderBy(asc(activities.receivedAt))
        .limit(batch)
        .all();
      if (!rows.length) break;
      budget--;
      await exportByDay(
        archive,
        d.id,
        'activities',
        rows,
        (r) => r.receivedAt,
        (r) => r.id,
      );
      const ids = rows.map((r) => r.id);
      await db.batch([
        db.delete(webhookDeliveries).where(inArray(webhookDeliveries.activityId, ids)),
        db.delete(webhookOutbox).where(inArray(webhookOutbox.activityId, ids)),
        db.delete(activities).where(inArray(activities.id, ids)),
      ]);
      counts.activities += rows.length;
      if (rows.length < batch) break;
    }
    while (budget > 0) {
      const rows = await db
        .select()
        .from(dispositions)
        .where(and(eq(dispositions.deployment, d.id), lt(dispositions.at, cutoff)))
        .orderBy(asc(dispositions.at))
        .limit(batch)
        .all();
      if (!rows.length) break;
      budget--;
      await exportByDay(
        archive,
        d.id,
        'dispositions',
        rows,
        (r) => r.at,
        (r) => r.id,
      );
      await db.delete(dispositions).where(
        inArray(
          dispositions.id,
          rows.map((r) => r.id),
        ),
      );
      counts.dispositions += rows.length;
      if (rows.length < batch) break;
    }
  }
  return pruned;
}

async function exportByDay<T>(
  archive: R2Bucket,
  deployment: string,
  table: string,
  rows: T[],
  at: (r: T) => number,
  id: (r: T) => string,
) {
  const byDay = new Map<string, T[]>();
  for (const r of rows) {
    const k = day(at(r));
    byDay.set(k, [...(byDay.get(k) ?? []), r]);
  }
  for (const [k, list] of byDay) {
    const body = `${list.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const key = `exports/${deployment}/${table}/${k}/${id(list[0] as T)}-${id(list[list.length - 1] as T)}.ndjson`;
    await archive.put(key, body, { httpMetadata: { contentType: 'application/x-ndjson' } });
  }
}
