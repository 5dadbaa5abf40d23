import { lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { ingestBatches, latencySamples } from '../db/schema.js';
import { SIGNATURE_MAX_SKEW_MS } from '../core/wire.js';

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
