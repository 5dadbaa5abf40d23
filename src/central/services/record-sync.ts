// Full syncs of a deployment's records (a nightly CRM export): start a sync, post the export's
// records with `?sync=<id>` (each stamped with the id), complete it. Completion removes, in
// bounded batches, every record the sync did not carry; a sync that never completes removes
// nothing, and starting a newer sync supersedes an open one (completing the older is then a 409).
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { recordsOutsideSync, removeRecordChunk } from '../../db/queries/records.js';
import { recordSyncs } from '../../db/schema.js';
import { conflict, notFound } from '../http/errors.js';

/** Records removed per D1 batch when a sync completes. */
export const SYNC_REMOVE_CHUNK = 500;

export type RecordSync = typeof recordSyncs.$inferSelect;

export function serializeSync(s: RecordSync) {
  return {
    id: s.id,
    deployment: s.deployment,
    status: s.status as 'open' | 'completing' | 'completed' | 'superseded',
    received: s.received,
    removed: s.removed,
    startedAt: s.startedAt,
    completedAt: s.completedAt ?? null,
  };
}

export async function startSync(db: Db, deployment: string, now = Date.now()): Promise<RecordSync> {
  const id = `sync_${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const [, row] = await db.batch([
    db
      .update(recordSyncs)
      .set({ status: 'superseded' })
      .where(and(eq(recordSyncs.deployment, deployment), eq(recordSyncs.status, 'open'))),
    db.insert(recordSyncs).values({ id, deployment, status: 'open', startedAt: now }).returning(),
  ]);
  return row[0] as RecordSync;
}

export async function findSync(db: Db, deployment: string, id: string): Promise<RecordSync> {
  const row = await db
    .select()
    .from(recordSyncs)
    .where(and(eq(recordSyncs.deployment, deployment), eq(recordSyncs.id, id)))
    .get();
  if (!row) throw notFound(`sync ${id} of deployment ${deployment} does not exist`);
  return row;
}

/** The sync a records request stamps: it must be open (409 once completing, completed or superseded). */
export async function openSync(db: Db, deployment: string, id: string): Promise<RecordSync> {
  const row = await findSync(db, deployment, id);
  if (row.status !== 'open') throw conflict(`sync ${id} is ${row.status}; start a new sync`);
  return row;
}

export async function countSyncReceived(db: Db, id: string, n: number) {
  const row = await db.select().from(recordSyncs).where(eq(recordSyncs.id, id)).get();
  if (row)
    await db
      .update(recordSyncs)
      .set({ received: row.received + n })
      .where(eq(recordSyncs.id, id));
}

/**
 * Completes a sync: removes the records it did not carry, `SYNC_REMOVE_CHUNK` per transaction,
 * until none is left or `budgetMs` has passed (then the status is `completing`: call again).
 */
export async function completeSync(
  db: Db,
  deployment: string,
  id: string,
  budgetMs = 20_000,
): Promise<RecordSync> {
  const started = Date.now();
  const row = await findSync(db, deployment, id);
  if (row.status === 'completed') return row;
  if (row.status === 'superseded')
    throw conflict(`sync ${id} was superseded by a newer sync; nothing was removed`);
  const latest = await db
    .select({ id: recordSyncs.id })
    .from(recordSyncs)
    .where(eq(recordSyncs.deployment, deployment))
    .orderBy(desc(recordSyncs.startedAt))
    .get();
  if (latest && latest.id !== id) throw conflict(`sync ${id} is not the latest sync of ${deployment}`);
  await db.update(recordSyncs).set({ status: 'completing' }).where(eq(recordSyncs.id, id));
  let removed = row.removed;
  for (;;) {
    const keys = await recordsOutsideSync(db, deployment, id, SYNC_REMOVE_CHUNK);
    if (!keys.length) {
      const done = { status: 'completed', removed, completedAt: Date.now() };
      await db.update(recordSyncs).set(done).where(eq(recordSyncs.id, id));
      return { ...row, ...done };
    }
    removed += await removeRecordChunk(db, deployment, keys);
    await db.update(recordSyncs).set({ removed }).where(eq(recordSyncs.id, id));
    if (Date.now() - started > budgetMs) return { ...row, status: 'completing', removed };
  }
}
