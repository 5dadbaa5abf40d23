// Writes of what a region snapshot carries that have no richer use case of their own, shared by
// the API and the dashboard so both record the change (config-changed.ts) the same way.
import type { Db } from '../../db/client.js';
import { type RecordKey, removeRecordChunk, removeRecords } from '../../db/queries/records.js';
import { upsertRegion } from '../../db/queries/regions.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';

/** Creates or updates a region (PUT /api/v1/regions/:id, the Regions page's forms). */
export async function saveRegion(
  db: Db,
  site: ChangeSite,
  row: { id: string; name: string; rulesEnabled: boolean; egress: string },
) {
  const saved = await upsertRegion(db, row);
  configChanged(site, 'region');
  return saved;
}

/** Deletes or deactivates one record; returns whether it existed (and was active, to deactivate). */
export async function removeRecord(
  db: Db,
  site: ChangeSite,
  deployment: string,
  key: RecordKey,
  opts: { deactivate?: boolean },
) {
  const n = await removeRecordChunk(db, deployment, [key], opts);
  if (n) configChanged(site, 'records');
  return n;
}

/** Deletes or deactivates many records (the bulk API and the dashboard's bulk form). */
export async function removeManyRecords(
  db: Db,
  site: ChangeSite,
  deployment: string,
  keys: RecordKey[],
  opts: { deactivate?: boolean; chunk: number },
) {
  const done = await removeRecords(db, deployment, keys, opts);
  if (done.removed) configChanged(site, 'records');
  return done;
}
