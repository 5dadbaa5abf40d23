import { inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { regions } from '../schema.js';

/**
 * Marks regions' published snapshots stale: a region's `configVersion` is the version its next
 * snapshot carries. The publisher (src/central/snapshot/snapshot-publisher.ts) reassembles a
 * region whose published version is older, and an edge compares it with the version it holds (the
 * ingest answer, a notice). The write coalesces nothing: rebuilds are debounced by the publisher
 * (`SNAPSHOT_QUIET_MS`). An empty list of regions changes no row.
 */
export function bumpConfigVersion(db: Db, regionIds: string[] | 'all') {
  const set = { configVersion: sql`${regions.configVersion} + 1`, updatedAt: Date.now() };
  if (regionIds === 'all') return db.update(regions).set(set);
  return db
    .update(regions)
    .set(set)
    .where(inArray(regions.id, regionIds.length ? regionIds : ['']));
}
