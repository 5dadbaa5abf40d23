import { desc, eq } from 'drizzle-orm';
import type { Db } from '../client.js';
import { recordSyncs } from '../schema.js';

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
