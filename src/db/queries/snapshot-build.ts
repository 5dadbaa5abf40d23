// Read side of snapshot parts and region snapshots (src/central/snapshot/snapshot-publisher.ts
// builds and assembles them; src/db/queries/snapshot-parts.ts records what changed).
import { and, desc, eq, inArray, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { outbound, regions, snapshotDirty, snapshotParts, suppressions } from '../schema.js';

export type SnapshotPartRow = typeof snapshotParts.$inferSelect;

/** Up to `limit` of the deployment's record address rows written before hashes were stored. */
export async function unhashedRecordAddresses(db: Db, deployment: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      'select rowid as r, address from record_emails where deployment = ?1 and hash_hi is null limit ?2',
    )
    .bind(deployment, limit)
    .all<{ r: number; address: string }>();
  return results;
}

/** Stores the hash words of record address rows (by rowid), all in one statement and one parameter. */
export async function storeRecordHashes(db: Db, rows: Array<{ r: number; hi: number; lo: number }>) {
  await db.$client
    .prepare(
      `update record_emails set hash_hi = json_extract(j.value, '$.hi'), hash_lo = json_extract(j.value, '$.lo')
       from json_each(?1) j where record_emails.rowid = json_extract(j.value, '$.r')`,
    )
    .bind(JSON.stringify(rows))
    .run();
}

/**
 * A reader of one deployment's record filter keys in hash order: each call returns the next page
 * of at most `pageRows` distinct addresses whose hash is above (afterHi, afterLo) and whose high
 * word is below `endHi`, as one string of 17 hex digits per key (hash high, hash low, tag: bit 0
 * a non-user record, bit 1 email-enabled; the tags of an address held by several records OR-ed).
 * One string per page instead of a row object per record: crossing from D1 to the isolate per
 * row costs more than SQLite's scan of the covering hash index.
 */
export function shardKeyReader(db: Db, deployment: string, pageRows: number) {
  const stmt = db.$client.prepare(
    `select group_concat(printf('%08x%08x%x', h, l, t), '') as s from (
       select hash_hi as h, hash_lo as l, max(type != 'user') | (max(email_enabled) << 1) as t
       from record_emails
       where deployment = ?1 and (hash_hi, hash_lo) > (?2, ?3) and hash_hi < ?4
       group by hash_hi, hash_lo order by hash_hi, hash_lo limit ?5)`,
  );
  return async (afterHi: number, afterLo: number, endHi: number): Promise<string> => {
    const row = await stmt.bind(deployment, afterHi, afterLo, endHi, pageRows).first<{ s: string | null }>();
    return row?.s ?? '';
  };
}

export async function countRecordAddresses(db: Db, deployment: string): Promise<number> {
  const row = await db.$client
    .prepare('select count(*) as n from record_emails where deployment = ?1')
    .bind(deployment)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The deployment's part row, created (never built, changed `now`) when it has none. */
export async function ensurePartRow(db: Db, deployment: string, now: number): Promise<SnapshotPartRow> {
  await db.insert(snapshotParts).values({ deployment, changedAt: now }).onConflictDoNothing();
  return (await db
    .select()
    .from(snapshotParts)
    .where(eq(snapshotParts.deployment, deployment))
    .get()) as SnapshotPartRow;
}

/** Takes the part's build lease until `until` unless another builder holds it; the data version to build, or undefined. */
export async function takePartLease(db: Db, deployment: string, until: number, now: number) {
  const row = await db
    .update(snapshotParts)
    .set({ buildingUntil: until })
    .where(and(eq(snapshotParts.deployment, deployment), lt(snapshotParts.buildingUntil, now)))
    .returning({ version: snapshotParts.dataVersion })
    .get();
  return row?.version;
}

export async function releasePartLease(db: Db, deployment: string) {
  await db.update(snapshotParts).set({ buildingUntil: 0 }).where(eq(snapshotParts.deployment, deployment));
}

/** The dirty hash buckets of the deployment up to data version `version`. */
export async function dirtyBuckets(db: Db, deployment: string, version: number): Promise<number[]> {
  const rows = await db
    .select({ bucket: snapshotDirty.bucket })
    .from(snapshotDirty)
    .where(and(eq(snapshotDirty.deployment, deployment), lte(snapshotDirty.version, version)))
    .all();
  return rows.map((r) => r.bucket);
}

/** Records a finished build of data version `version` and forgets the dirty buckets it covered, in one transaction. */
export async function recordPartBuilt(
  db: Db,
  deployment: string,
  version: number,
  built: Pick<
    SnapshotPartRow,
    'builtAt' | 'shardBits' | 'shards' | 'partKey' | 'partHash' | 'partBytes' | 'buildMs'
  >,
) {
  await db.batch([
    db
      .update(snapshotParts)
      .set({ ...built, builtVersion: version, buildingUntil: 0 })
      .where(eq(snapshotParts.deployment, deployment)),
    db
      .delete(snapshotDirty)
      .where(and(eq(snapshotDirty.deployment, deployment), lte(snapshotDirty.version, version))),
  ]);
}

/** The part rows of these deployments. */
export function partRowsOf(db: Db, deploymentIds: readonly string[]) {
  if (!deploymentIds.length) return Promise.resolve([] as SnapshotPartRow[]);
  return db
    .select()
    .from(snapshotParts)
    .where(
      inArray(snapshotParts.deployment, sql`(select value from json_each(${JSON.stringify(deploymentIds)}))`),
    )
    .all();
}

export async function suppressionEntries(db: Db, deployment: string): Promise<string[]> {
  const where = eq(suppressions.deployment, deployment);
  return (await db.select({ entry: suppressions.entry }).from(suppressions).where(where).all()).map(
    (r) => r.entry,
  );
}

/** A keyset position in a deployment's outbound mail, newest first. */
export interface OutboundCursor {
  createdAt: number;
  messageId: string;
}

/** The next `limit` outbound messages of the deployment after `after`, newest first (by created_at, then message id). */
export function outboundPage(db: Db, deployment: string, after: OutboundCursor | undefined, limit: number) {
  return db
    .select({
      messageId: outbound.messageId,
      threadIndex: outbound.threadIndex,
      subject: outbound.subject,
      to: outbound.to,
      createdAt: outbound.createdAt,
    })
    .from(outbound)
    .where(
      and(
        eq(outbound.deployment, deployment),
        after
          ? or(
              lt(outbound.createdAt, after.createdAt),
              and(eq(outbound.createdAt, after.createdAt), lt(outbound.messageId, after.messageId)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(outbound.createdAt), desc(outbound.messageId))
    .limit(limit)
    .all();
}

/** A rebuilt part changes the snapshots of these regions: their versions move on (no config change: updatedAt stays). */
export async function bumpSnapshotVersions(db: Db, regionIds: readonly string[]) {
  if (!regionIds.length) return;
  await db
    .update(regions)
    .set({ configVersion: sql`${regions.configVersion} + 1` })
    .where(inArray(regions.id, [...regionIds]));
}

/** The region's config version as rows (`[{ v }]`, none when the region does not exist), for a read `batch()`. */
export function regionVersionQuery(db: Db, region: string) {
  return db.select({ v: regions.configVersion }).from(regions).where(eq(regions.id, region));
}

export async function regionConfigVersion(db: Db, region: string): Promise<number | undefined> {
  const [row] = await regionVersionQuery(db, region);
  return row?.v;
}

/** Records the region's assembled snapshot in R2. */
export async function recordPublished(
  db: Db,
  region: string,
  published: {
    publishedKey: string;
    publishedEtag: string;
    publishedVersion: number;
    publishedBytes: number;
  },
) {
  await db.update(regions).set(published).where(eq(regions.id, region));
}
