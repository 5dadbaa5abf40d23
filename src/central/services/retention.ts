import { SIGNATURE_MAX_SKEW_MS } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { deploymentsWithRetention } from '../../db/queries/deployments.js';
import {
  deleteActivities,
  deleteDispositions,
  expiredActivities,
  expiredDispositions,
  pruneBookkeepingRows,
} from '../../db/queries/retention.js';
import { MAX_STATS_WINDOW_MS } from './stats.js';

/** Latency samples older than this are dropped (the dashboard looks back at most 7 days). */
export const LATENCY_RETENTION_MS = 8 * 24 * 3600 * 1000;
/**
 * Per-minute traffic counters (edge and cross-region) older than the longest window the stats
 * read are never shown again (src/central/services/stats.ts, MAX_STATS_WINDOW_MS).
 */
export const COUNTER_RETENTION_MS = MAX_STATS_WINDOW_MS;
/**
 * How long central remembers which copies and cross-region reports it counted: an edge posts one
 * again only after a lost answer, within the queue's retries or a spool drain (days at most).
 */
export const COUNTED_ID_RETENTION_MS = LATENCY_RETENTION_MS;
/** Seen batch ids only matter while a replayed request could still pass the timestamp check. */
export const BATCH_ID_RETENTION_MS = 2 * SIGNATURE_MAX_SKEW_MS;

/** Prunes bookkeeping rows that would otherwise grow without bound (run from the cron trigger). */
export async function pruneBookkeeping(db: Db, now: number) {
  await pruneBookkeepingRows(db, {
    samplesBefore: now - LATENCY_RETENTION_MS,
    batchIdsBefore: now - BATCH_ID_RETENTION_MS,
    countersBeforeMinute: Math.floor((now - COUNTER_RETENTION_MS) / 60_000),
    countedIdsBefore: now - COUNTED_ID_RETENTION_MS,
  });
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
  const pruned: Record<string, { activities: number; dispositions: number }> = {};
  for (const d of await deploymentsWithRetention(db)) {
    const cutoff = now - d.days * DAY_MS;
    const counts = { activities: 0, dispositions: 0 };
    pruned[d.id] = counts;
    for (const table of RETAINED) {
      while (budget > 0) {
        const rows = await table.expired(db, d.id, cutoff, batch);
        if (!rows.length) break;
        budget--;
        await exportByDay(archive, d.id, table.name, rows, table.at);
        await table.remove(
          db,
          rows.map((r) => r.id),
        );
        counts[table.name] += rows.length;
        if (rows.length < batch) break;
      }
    }
  }
  return pruned;
}

interface RetainedTable<T extends { id: string }> {
  name: 'activities' | 'dispositions';
  expired: (db: Db, deployment: string, cutoff: number, limit: number) => Promise<T[]>;
  /** The time a row's age counts from. */
  at: (row: T) => number;
  remove: (db: Db, ids: string[]) => Promise<void>;
}

const retained = <T extends { id: string }>(t: RetainedTable<T>) =>
  t as unknown as RetainedTable<{ id: string }>;

/** What retention prunes, in order; a budget left over from activities goes on to dispositions. */
const RETAINED = [
  retained({
    name: 'activities',
    expired: expiredActivities,
    at: (r) => r.receivedAt,
    remove: deleteActivities,
  }),
  retained({
    name: 'dispositions',
    expired: expiredDispositions,
    at: (r) => r.at,
    remove: deleteDispositions,
  }),
];

async function exportByDay<T extends { id: string }>(
  archive: R2Bucket,
  deployment: string,
  table: string,
  rows: T[],
  at: (r: T) => number,
) {
  const byDay = new Map<string, T[]>();
  for (const r of rows) {
    const k = day(at(r));
    byDay.set(k, [...(byDay.get(k) ?? []), r]);
  }
  for (const [k, list] of byDay) {
    const body = `${list.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const key = `exports/${deployment}/${table}/${k}/${(list[0] as T).id}-${(list[list.length - 1] as T).id}.ndjson`;
    await archive.put(key, body, { httpMetadata: { contentType: 'application/x-ndjson' } });
  }
}
