import { and, asc, eq, like, or, type SQL, sql } from 'drizzle-orm';
import { normaliseAddress } from '../../core/keyed-hash.js';
import type { Db } from '../client.js';
import { recordEmails, records, rowCounts, suppressions } from '../schema.js';
import { addressHash, dirtyBucketsStatement, partChangedStatement } from './snapshot-parts.js';

export interface RecordInput {
  type: string;
  id: string;
  name?: string;
  emails: string[];
  emailEnabled: boolean;
}

/**
 * Upserts one chunk of records in a single D1 batch: one transaction, so the chunk lands whole or
 * not at all. The chunk travels as one JSON parameter expanded with `json_each`, which keeps every
 * statement far below D1's limit of 100 bound parameters and costs a fixed number of statements
 * per chunk whatever its size. Addresses are normalised and hashed once, here: the exact lookup
 * index and the snapshot's hash-range reads use what is stored. The hash buckets of the old and
 * the new addresses are marked dirty for the snapshot part. `syncId` stamps the records as seen
 * by that full sync.
 */
export async function upsertRecordChunk(
  db: Db,
  deployment: string,
  chunk: RecordInput[],
  hashKey: string,
  opts: { syncId?: string; now?: number } = {},
) {
  if (!chunk.length) return { created: 0, updated: 0 };
  const json = JSON.stringify(
    chunk.map((r) => ({
      type: r.type,
      id: r.id,
      name: r.name ?? null,
      emails: [...new Set(r.emails.map((e) => normaliseAddress(e)).filter(Boolean))],
      emailEnabled: r.emailEnabled ? 1 : 0,
    })),
  );
  const hashed = JSON.stringify(
    chunk.flatMap((r) =>
      [...new Set(r.emails.map((e) => normaliseAddress(e)).filter(Boolean))].map((a) => {
        const h = addressHash(hashKey, a);
        return { t: r.type, i: r.id, a, e: r.emailEnabled ? 1 : 0, h: h.hi, l: h.lo };
      }),
    ),
  );
  const now = opts.now ?? Date.now();
  const inChunk = `(re.type, re.record_id) in (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`;
  // Raw D1 statements: drizzle's batch() cannot carry raw SQL in this version.
  const d1 = db.$client;
  const [existing] = await d1.batch<{ n: number }>([
    d1
      .prepare(
        `select count(*) as n from records where deployment = ?1 and (type, id) in
           (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`,
      )
      .bind(deployment, json),
    partChangedStatement(d1, deployment, now),
    dirtyBucketsStatement(d1, deployment, inChunk, json),
    // `where true` keeps SQLite from reading ON CONFLICT as a join constraint (SQLite upsert docs, "parsing ambiguity").
    d1
      .prepare(
        `insert into records (deployment, type, id, name, emails, email_enabled, sync_id, updated_at)
         select ?1, json_extract(value, '$.type'), json_extract(value, '$.id'), json_extract(value, '$.name'),
                json_extract(value, '$.emails'), json_extract(value, '$.emailEnabled'), ?4, ?3
         from json_each(?2) where true
         on conflict (deployment, type, id) do update set
           name = excluded.name, emails = excluded.emails, email_enabled = excluded.email_enabled, active = 1,
           sync_id = coalesce(excluded.sync_id, records.sync_id), updated_at = excluded.updated_at`,
      )
      .bind(deployment, json, now, opts.syncId ?? null),
    d1
      .prepare(
        `delete from record_emails where deployment = ?1 and (type, record_id) in
           (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`,
      )
      .bind(deployment, json),
    d1
      .prepare(
        `insert or ignore into record_emails (deployment, address, type, record_id, email_enabled, hash_hi, hash_lo)
         select ?1, json_extract(value, '$.a'), json_extract(value, '$.t'), json_extract(value, '$.i'),
                json_extract(value, '$.e'), json_extract(value, '$.h'), json_extract(value, '$.l')
         from json_each(?2)`,
      )
      .bind(deployment, hashed),
    dirtyBucketsStatement(d1, deployment, inChunk, json),
  ]);
  const updated = existing?.results[0]?.n ?? 0;
  return { created: chunk.length - updated, updated };
}

export interface RecordQuery {
  type?: string;
  /** Exact address (normalised like at write): served by the record_emails address index. */
  address?: string;
  /** Case-insensitive substring of the id, the name or an address. */
  q?: string;
  limit: number;
}

export function listRecords(db: Db, deployment: string, q: RecordQuery) {
  const where: SQL[] = [eq(records.deployment, deployment)];
  if (q.type) where.push(eq(records.type, q.type));
  if (q.address !== undefined) {
    const address = normaliseAddress(q.address);
    where.push(
      sql`(${records.type}, ${records.id}) in (select ${recordEmails.type}, ${recordEmails.recordId} from ${recordEmails} where ${recordEmails.deployment} = ${deployment} and ${recordEmails.address} = ${address})`,
    );
  }
  if (q.q) {
    const pattern = `%${q.q.toLowerCase().replace(/[%_\\]/g, (m) => `\\${m}`)}%`;
    where.push(
      or(
        sql`lower(${records.id}) like ${pattern} escape '\\'`,
        sql`lower(${records.name}) like ${pattern} escape '\\'`,
        sql`${records.emails} like ${pattern} escape '\\'`,
      ) as SQL,
    );
  }
  return db
    .select()
    .from(records)
    .where(and(...where))
    .orderBy(asc(records.type), asc(records.id))
    .limit(q.limit)
    .all();
}

/** Number of records per type (from the trigger-kept `row_counts`, not a count of the rows). */
export async function countRecords(db: Db, deployment: string): Promise<Record<string, number>> {
  const rows = await db
    .select({ kind: rowCounts.kind, n: rowCounts.n })
    .from(rowCounts)
    .where(and(eq(rowCounts.deployment, deployment), like(rowCounts.kind, 'record:%')))
    .all();
  return Object.fromEntries(rows.map((r) => [r.kind.slice('record:'.length), r.n]));
}

export async function addSuppressions(db: Db, deployment: string, entries: string[]) {
  const unique = [...new Set(entries)];
  let added = 0;
  for (let i = 0; i < unique.length; i += 40) {
    const rows = await db
      .insert(suppressions)
      .values(unique.slice(i, i + 40).map((entry) => ({ deployment, entry })))
      .onConflictDoNothing()
      .returning({ entry: suppressions.entry });
    added += rows.length;
  }
  return { added, unchanged: unique.length - added };
}

export function listSuppressions(db: Db, deployment: string) {
  return db
    .select({ entry: suppressions.entry, createdAt: suppressions.createdAt })
    .from(suppressions)
    .where(eq(suppressions.deployment, deployment))
    .orderBy(asc(suppressions.entry))
    .all();
}

/** Removes one entry; returns whether it was there. */
export async function deleteSuppression(db: Db, deployment: string, entry: string): Promise<boolean> {
  const rows = await db
    .delete(suppressions)
    .where(and(eq(suppressions.deployment, deployment), eq(suppressions.entry, entry)))
    .returning({ entry: suppressions.entry });
  return rows.length > 0;
}

export interface RecordKey {
  type: string;
  id: string;
}

/**
 * Deletes (or deactivates) any number of records, each key once, in all-or-nothing chunks of
 * `chunk`: the one loop behind the bulk API and the dashboard's bulk form.
 */
export async function removeRecords(
  db: Db,
  deployment: string,
  keys: RecordKey[],
  opts: { deactivate?: boolean; chunk: number },
): Promise<{ requested: number; removed: number; notFound: number }> {
  const unique = [...new Map(keys.map((k) => [`${k.type}\0${k.id}`, k])).values()];
  let removed = 0;
  for (let i = 0; i < unique.length; i += opts.chunk)
    removed += await removeRecordChunk(db, deployment, unique.slice(i, i + opts.chunk), opts);
  return { requested: unique.length, removed, notFound: unique.length - removed };
}

/**
 * Deletes (or, with `deactivate`, deactivates) one chunk of records in one D1 batch: their hash
 * buckets are marked dirty for the snapshot part, their addresses leave record_emails (so neither
 * the edge nor party resolution matches them any more), and the records are removed or flagged
 * inactive. Returns how many of the keys existed (and were active, for a deactivation).
 */
export async function removeRecordChunk(
  db: Db,
  deployment: string,
  keys: RecordKey[],
  opts: { deactivate?: boolean; now?: number } = {},
): Promise<number> {
  if (!keys.length) return 0;
  const json = JSON.stringify(keys.map((k) => ({ type: k.type, id: k.id })));
  const now = opts.now ?? Date.now();
  const inChunk = `(re.type, re.record_id) in (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`;
  const d1 = db.$client;
  const keysSql = `(type, id) in (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`;
  const results = await d1.batch<{ n: number }>([
    partChangedStatement(d1, deployment, now),
    dirtyBucketsStatement(d1, deployment, inChunk, json),
    d1
      .prepare(
        `delete from record_emails where deployment = ?1 and (type, record_id) in
           (select json_extract(value, '$.type'), json_extract(value, '$.id') from json_each(?2))`,
      )
      .bind(deployment, json),
    opts.deactivate
      ? d1
          .prepare(
            `update records set active = 0, updated_at = ?3 where deployment = ?1 and active = 1 and ${keysSql} returning 1 as n`,
          )
          .bind(deployment, json, now)
      : d1
          .prepare(`delete from records where deployment = ?1 and ${keysSql} returning 1 as n`)
          .bind(deployment, json),
  ]);
  return results[3]?.results.length ?? 0;
}

/** Up to `limit` records of a deployment not stamped with `syncId` (what a completed sync removes). */
export async function recordsOutsideSync(db: Db, deployment: string, syncId: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      'select type, id from records where deployment = ?1 and (sync_id is null or sync_id != ?2) limit ?3',
    )
    .bind(deployment, syncId, limit)
    .all<RecordKey>();
  return results;
}

/**
 * Ids of a deployment's active records of one type after `after`, ascending, at most `limit`: what
 * a connector whose CRM keeps no deletion log compares with the CRM (connectors/tryton.ts).
 */
export async function activeRecordIdsAfter(
  db: Db,
  deployment: string,
  type: string,
  after: string | undefined,
  limit: number,
): Promise<string[]> {
  const { results } = await db.$client
    .prepare(
      'select id from records where deployment = ?1 and type = ?2 and active = 1 and id > ?3 order by id limit ?4',
    )
    .bind(deployment, type, after ?? '', limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}
