// Regions: the one write path (PUT /api/v1/regions/:id and the Regions page's forms), so both
// record the change (config-changed.ts) the same way, and the reads both front ends show.
import type { Db } from '../../db/client.js';
import { upsertRegion } from '../../db/queries/regions.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';

export { mailboxCountsByRegion } from '../../db/queries/dashboard.js';
export { findRegion, listRegions, regionsAwaitingParts } from '../../db/queries/regions.js';

/** Creates or updates a region; its edge picks the change up with its next snapshot. */
export async function saveRegion(
  db: Db,
  site: ChangeSite,
  row: { id: string; name: string; rulesEnabled: boolean; egress: string },
) {
  const saved = await upsertRegion(db, row);
  configChanged(site, 'region');
  return saved;
}
