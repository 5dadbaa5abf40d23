// Full syncs of a deployment's records (src/central/record-sync.ts holds the rules).
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { recordSyncs } from '../schema.js';

export type RecordSyncRow = typeof recordSyncs.$inferSelect;

/** Opens sync `id`, superseding the deployment's open syncs, in one transaction. */
export async function insertSupersedingSync(
  db: Db,
  deployment: string,
  id: string,
  now: number,
): Promise<RecordSyncRow> {
  const [, row] = await db.batch([
    db
      .update(recordSyncs)
      .set({ status: 'superseded' })
      .where(and(eq(recordSyncs.deployment, deployment), eq(recordSyncs.status, 'open'))),
    db.insert(recordSyncs).values({ id, deployment, status: 'open', startedAt: now }).returning(),
  ]);
  return row[0] as RecordSyncRow;
}

/** The deployment's sync `id` (another deployment's sync is not found). */
export async function findSyncOf(db: Db, deployment: string, id: string): Promise<RecordSyncRow | undefined> {
  const row = await db.select().from(recordSyncs).where(eq(recordSyncs.id, id)).get();
  return row?.deployment === deployment ? row : undefined;
}

/** The id of the deployment's most recently started sync. */
export async function latestSyncId(db: Db, deployment: string): Promise<string | undefined> {
  const row = await db
    .select({ id: recordSyncs.id })
    .from(recordSyncs)
    .where(eq(recordSyncs.deployment, deployment))
    .orderBy(desc(recordSyncs.startedAt))
    .get();
  return row?.id;
}

/** Adds `n` to the records the sync has received. */
export async function addSyncReceived(db: Db, id: string, n: number): Promise<void> {
  await db
    .update(recordSyncs)
    .set({ received: sql`${recordSyncs.received} + ${n}` })
    .where(eq(recordSyncs.id, id));
}

export async function updateSync(
  db: Db,
  id: string,
  fields: Partial<Pick<RecordSyncRow, 'status' | 'removed' | 'completedAt'>>,
): Promise<void> {
  await db.update(recordSyncs).set(fields).where(eq(recordSyncs.id, id));
}

/** A deployment's full syncs, newest first (the `record_syncs_deployment` index). */
export async function listRecordSyncs(db: Db, deployment: string, limit = 50) {
  return db
    .select()
    .from(recordSyncs)
    .where(eq(recordSyncs.deployment, deployment))
    .orderBy(desc(recordSyncs.startedAt))
    .limit(limit)
    .all();
}
