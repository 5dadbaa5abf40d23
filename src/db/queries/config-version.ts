import { inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { regions } from '../schema.js';

/**
 * Marks regions' snapshots stale. Snapshots are rebuilt lazily on the next edge fetch, so a burst
 * of changes is coalesced into one rebuild (the debounce).
 */
export function bumpConfigVersion(db: Db, regionIds: string[] | 'all') {
  const set = { configVersion: sql`${regions.configVersion} + 1`, updatedAt: Date.now() };
  if (regionIds === 'all') return db.update(regions).set(set);
  return db
    .update(regions)
    .set(set)
    .where(inArray(regions.id, regionIds.length ? regionIds : ['']));
}
