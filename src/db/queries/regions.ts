import { eq, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { mailboxes, regions, snapshotParts } from '../schema.js';

export function findRegion(db: Db, id: string) {
  return db.select().from(regions).where(eq(regions.id, id)).get();
}

export function listRegions(db: Db) {
  return db.select().from(regions).orderBy(regions.id).all();
}

/**
 * The regions routing a deployment whose snapshot part has changes not yet built (a record,
 * suppression or outbound registration made since the last build): their edges do not have them.
 */
export async function regionsAwaitingParts(db: Db): Promise<Set<string>> {
  const rows = await db
    .selectDistinct({ region: mailboxes.region })
    .from(mailboxes)
    .innerJoin(snapshotParts, eq(snapshotParts.deployment, mailboxes.deployment))
    .where(sql`${snapshotParts.dataVersion} > ${snapshotParts.builtVersion}`)
    .all();
  return new Set(rows.map((r) => r.region));
}

export function upsertRegion(
  db: Db,
  row: { id: string; name: string; rulesEnabled: boolean; egress: string },
) {
  return db
    .insert(regions)
    .values(row)
    .onConflictDoUpdate({
      target: regions.id,
      set: {
        name: row.name,
        rulesEnabled: row.rulesEnabled,
        egress: row.egress,
        configVersion: sql`${regions.configVersion} + 1`,
        updatedAt: Date.now(),
      },
    })
    .returning()
    .get();
}

export function recordHeartbeat(
  db: Db,
  region: string,
  hb: { at: number; snapshotVersion?: number; queueDepth?: number; edgeUrl?: string },
) {
  return db
    .update(regions)
    .set({
      lastHeartbeatAt: hb.at,
      ...(hb.snapshotVersion !== undefined ? { edgeSnapshotVersion: hb.snapshotVersion } : {}),
      ...(hb.queueDepth !== undefined ? { queueDepth: hb.queueDepth } : {}),
      ...(hb.edgeUrl ? { edgeUrl: hb.edgeUrl } : {}),
    })
    .where(eq(regions.id, region));
}

/** Every region id, in order. */
export async function listRegionIds(db: Db): Promise<string[]> {
  const rows = await db.select({ id: regions.id }).from(regions).orderBy(regions.id).all();
  return rows.map((r) => r.id);
}

export async function allRegionIds(db: Db): Promise<Set<string>> {
  return new Set(await listRegionIds(db));
}
