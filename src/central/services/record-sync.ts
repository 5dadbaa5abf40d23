// Full syncs of a deployment's records (a nightly CRM export): start a sync, post the export's
// records with `?sync=<id>` (each stamped with the id), complete it. Completion removes, in
// bounded batches, every record the sync did not carry; a sync that never completes removes
// nothing, and starting a newer sync supersedes an open one (completing the older is then a 409).
import { bytesToHex } from '../../core/keyed-hash.js';
import type { Db } from '../../db/client.js';
import {
  addSyncReceived,
  findSyncOf,
  insertSupersedingSync,
  latestSyncId,
  type RecordSyncRow,
  updateSync,
} from '../../db/queries/record-syncs.js';
import { recordsOutsideSync, removeRecordChunk } from '../../db/queries/records.js';
import { conflict, notFound } from '../http/errors.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';

export { listRecordSyncs } from '../../db/queries/record-syncs.js';

/** Records removed per D1 batch when a sync completes. */
export const SYNC_REMOVE_CHUNK = 500;

export type RecordSync = RecordSyncRow;

export async function startSync(db: Db, deployment: string, now = Date.now()): Promise<RecordSync> {
  const id = `sync_${bytesToHex(crypto.getRandomValues(new Uint8Array(12)))}`;
  return insertSupersedingSync(db, deployment, id, now);
}

export async function findSync(db: Db, deployment: string, id: string): Promise<RecordSync> {
  const row = await findSyncOf(db, deployment, id);
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
  await addSyncReceived(db, id, n);
}

/**
 * Completes a sync: removes the records it did not carry, `SYNC_REMOVE_CHUNK` per transaction,
 * until none is left or `budgetMs` has passed (then the status is `completing`: call again).
 * `site`: where the removal is recorded as a change (null: the caller records its own, once).
 */
export async function completeSync(
  db: Db,
  site: ChangeSite | null,
  deployment: string,
  id: string,
  budgetMs = 20_000,
): Promise<RecordSync> {
  const started = Date.now();
  const row = await findSync(db, deployment, id);
  if (row.status === 'completed') return row;
  if (row.status === 'superseded')
    throw conflict(`sync ${id} was superseded by a newer sync; nothing was removed`);
  const latest = await latestSyncId(db, deployment);
  if (latest && latest !== id) throw conflict(`sync ${id} is not the latest sync of ${deployment}`);
  await updateSync(db, id, { status: 'completing' });
  let removed = row.removed;
  let recorded = false;
  for (;;) {
    const keys = await recordsOutsideSync(db, deployment, id, SYNC_REMOVE_CHUNK);
    if (!keys.length) {
      const done = { status: 'completed', removed, completedAt: Date.now() } as const;
      await updateSync(db, id, done);
      return { ...row, ...done };
    }
    const n = await removeRecordChunk(db, deployment, keys);
    // One kick per call: the first chunk that removes anything records the change.
    if (n && site && !recorded) {
      configChanged(site, 'records');
      recorded = true;
    }
    removed += n;
    await updateSync(db, id, { removed });
    if (Date.now() - started > budgetMs) return { ...row, status: 'completing', removed };
  }
}
