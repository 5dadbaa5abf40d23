// Ingestion's reads and statements (src/central/ingest.ts decides, these touch D1). The lookup
// builders return queries over (deployment, key) pairs of any number of deployments, keys passed
// as one JSON value, for the batch's single read `batch()`; the statement builders return
// drizzle statements for its single write `batch()` (one transaction).
import { eq, getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { SelectedFields, SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';
import {
  activities,
  countedIds,
  deployments,
  dispositions,
  edgeCounters,
  ingestBatches,
  latencySamples,
  mailboxes,
  outbound,
  recordEmails,
} from '../schema.js';
import { chunk, jsonChunks, type Statement } from './statements.js';

/** A lookup key of one deployment: lookups of a batch span every deployment its items name. */
export type ScopedKey = readonly [deployment: string, key: string];

/**
 * Bytes of lookup keys per statement: they travel as one JSON bound value (D1 caps a bound
 * string at 2 MB); a batch of 500 items with 100 references each stays within a few statements.
 */
const LOOKUP_JSON_BYTES = 500_000;

/**
 * Queries, one per chunk of `keys`, for the rows of `table` whose (`deployment`, `key`) pair is
 * among them: a row-value IN over `jsonb_each`, which SQLite answers by probing the
 * (deployment, key) index once per pair. Built for one read `batch()` (one round trip).
 * `jsonb_each`, not `json_each`, wherever a bound value's elements are arrays or objects: it hands
 * each element over as JSONB, which `->>` reads without parsing, where `json_each` hands over text
 * that every `->>` parses again (issue 21: 250 copies' counter statements 2.3–2.8 → 1.5 ms, 250
 * activity rows 1.2 → 0.7 ms, node:sqlite).
 */
function scopedQueries<F extends SelectedFields>(
  db: Db,
  fields: F,
  table: SQLiteTable,
  where: { deployment: SQLiteColumn; key: SQLiteColumn | SQL },
  keys: readonly ScopedKey[],
) {
  return jsonChunks(keys, LOOKUP_JSON_BYTES).map((part) =>
    db
      .select(fields)
      .from(table)
      .where(
        sql`(${where.deployment}, ${where.key}) in (select value ->> 0, value ->> 1 from jsonb_each(${part}))`,
      ),
  );
}

/** Every record address row among the (deployment, address) pairs (an address may belong to several records). */
export function recordMatchQueries(db: Db, keys: readonly ScopedKey[]) {
  const { deployment, address, type, recordId, emailEnabled } = recordEmails;
  return scopedQueries(
    db,
    { deployment, address, type, recordId, emailEnabled },
    recordEmails,
    { deployment, key: address },
    keys,
  );
}

/** The registered outbound messages among the (deployment, Message-ID) pairs, with their regarding record. */
export function outboundByMessageIdQueries(db: Db, keys: readonly ScopedKey[]) {
  const { deployment, messageId, regardingType, regardingId } = outbound;
  return scopedQueries(
    db,
    { deployment, messageId, regardingType, regardingId },
    outbound,
    { deployment, key: messageId },
    keys,
  );
}

/** The outbound messages whose tracking token is among the (deployment, lower-cased token) pairs (case-insensitive). */
export function outboundByTrackingTokenQueries(db: Db, keys: readonly ScopedKey[]) {
  const { deployment, trackingToken: token, regardingType, regardingId } = outbound;
  return scopedQueries(
    db,
    { deployment, token, regardingType, regardingId },
    outbound,
    { deployment, key: sql`lower(${token})` },
    keys,
  );
}

/** Content fingerprints of the activities with these (deployment, dedupe key) pairs. */
export function activityFingerprintQueries(db: Db, keys: readonly ScopedKey[]) {
  const { deployment, dedupeKey, fingerprint } = activities;
  return scopedQueries(
    db,
    { deployment, dedupeKey, fingerprint },
    activities,
    { deployment, key: dedupeKey },
    keys,
  );
}

/**
 * Queries of an edge batch's claims (src/central/ingest/ingest-claims.ts), for the same read
 * `batch()` as its lookups: the deployments with a mailbox routed in `region`, and every deployment.
 */
export function regionClaimQueries(db: Db, region: string) {
  return [
    db.selectDistinct({ id: mailboxes.deployment }).from(mailboxes).where(eq(mailboxes.region, region)),
    db.select({ id: deployments.id }).from(deployments),
  ] as const;
}

/** The deployments among `ids` that exist. */
export function existingDeploymentQuery(db: Db, ids: readonly string[]) {
  return db
    .select({ id: deployments.id })
    .from(deployments)
    .where(sql`${deployments.id} in (select value from json_each(${JSON.stringify(ids)}))`);
}

/** Set union of two JSON arrays in one statement, so concurrent merges cannot lose an element. */
const unionJson = (column: string, objects = false) =>
  sql.raw(
    `(select json_group_array(${objects ? 'json(value)' : 'value'}) from (select value from json_each(activities.${column}) union select value from json_each(excluded.${column})))`,
  );

export type ActivityInsert = Omit<typeof activities.$inferInsert, 'seq' | 'changeSeq' | 'merged'>;

/**
 * Bytes of activity rows per statement: they travel as one JSON bound value, which D1 caps at
 * 2 MB ("Maximum string, BLOB or table row size"); a row alone is smaller than that (the wire
 * schema bounds an item's inlined text at 256 KiB).
 */
export const ACTIVITY_JSON_BYTES = 1_000_000;

/** The fields an activity row carries in the JSON value, in this order (`v ->> index`); JSON fields nested as JSON. */
const ACTIVITY_FIELDS = [
  'id',
  'deployment',
  'dedupeKey',
  'messageId',
  'subject',
  'fromAddress',
  'fromName',
  'parties',
  'regardingType',
  'regardingId',
  'reason',
  'correlationMethod',
  'correlationDetail',
  'mailboxes',
  'regions',
  'egress',
  'bodyText',
  'content',
  'sizeBytes',
  'fingerprint',
  'receivedAt',
  'ingestedAt',
  'updatedAt',
] as const satisfies readonly (keyof ActivityInsert)[];
const JSON_FIELDS = new Set<string>(['parties', 'mailboxes', 'regions', 'content']);

/** The SELECT list of an activity upsert, in the table's column order (drizzle's INSERT column list). */
const activitySelectList = sql.raw(
  Object.keys(getTableColumns(activities))
    .map((key) => {
      if (key === 'seq') return '(select coalesce(max(seq), 0) from activities) + r.at + 1';
      if (key === 'changeSeq') return '(select coalesce(max(change_seq), 0) from activities) + r.at + 1';
      if (key === 'merged') return '0';
      // A new activity is in no CRM yet; a merge keeps the object (not in the conflict's `set`).
      if (key === 'crmObject') return 'null';
      const at = (ACTIVITY_FIELDS as readonly string[]).indexOf(key);
      if (at < 0) throw new Error(`activity column ${key} has no place in the upsert`);
      // `->` gives a JSON field's text (null stays SQL NULL); `->>` a plain field's value.
      return JSON_FIELDS.has(key) ? `nullif(r.v -> ${at}, 'null')` : `r.v ->> ${at}`;
    })
    .join(', '),
);

/**
 * Statements: insert the activities, or merge each copy into the deployment's activity with the
 * same dedupe key (union of mailboxes, regions, parties and content), rows passed as JSON so that
 * a whole batch is a few statements whatever D1's 100-parameter limit. Each row takes the next
 * `seq` and `change_seq` (the changes feed's position) from its place in the statement: existing
 * max + its index + 1, distinct for every row, and a merge moves the activity to its copy's
 * position. Each statement returns `{ id, changeSeq }` per row: the id of the row it landed in
 * (the new id when inserted, the existing one when merged); see `landedIds`.
 */
export function activityUpsertStatements(db: Db, rows: readonly ActivityInsert[]) {
  const values = rows.map((row) => ACTIVITY_FIELDS.map((key) => row[key] ?? null));
  return jsonChunks(values, ACTIVITY_JSON_BYTES).map((part) =>
    db
      .insert(activities)
      // `where true`: SQLite's parser needs it before an upsert's ON CONFLICT (sqlite.org/lang_upsert.html).
      // Each row is parsed once, into JSONB (`jsonb_each`), kept by the materialized CTE: a `->>`
      // on the text of `json_each`'s value parses that text again at every one of the 23 columns
      // (SQLite caches a parse per call site), half of the statement's time at 250 rows (issue 21).
      .select(
        sql`with r as materialized (select key as at, value as v from jsonb_each(${part}))
          select ${activitySelectList} from r where true`,
      )
      .onConflictDoUpdate({
        target: [activities.deployment, activities.dedupeKey],
        set: {
          changeSeq: sql`excluded.change_seq`,
          merged: true,
          mailboxes: unionJson('mailboxes'),
          regions: unionJson('regions'),
          parties: unionJson('parties', true),
          content: unionJson('content', true),
          updatedAt: sql`excluded.updated_at`,
        },
      })
      .returning({ id: activities.id, changeSeq: activities.changeSeq }),
  );
}

/** The activity id each row of `activityUpsertStatements` landed in, in the order of its rows. */
export function landedIds(results: readonly unknown[]): string[] {
  return results.flatMap((rows) =>
    [...(rows as { id: string; change_seq: number }[])]
      .sort((a, b) => a.change_seq - b.change_seq)
      .map((r) => r.id),
  );
}

/** Rows per disposition INSERT: 10 bound values each, so 9 rows stay under 100 parameters. */
const DISPOSITION_ROWS_PER_INSERT = 9;

/** Statements: store receipts as dispositions, idempotent on the receipt id. */
export function dispositionInsertStatements(db: Db, rows: (typeof dispositions.$inferInsert)[]) {
  return chunk(rows, DISPOSITION_ROWS_PER_INSERT).map((part) =>
    db.insert(dispositions).values(part).onConflictDoNothing(),
  );
}

/** Rows per latency-sample INSERT (4 bound values each). */
const LATENCY_ROWS_PER_INSERT = 20;

export function latencySampleStatements(db: Db, rows: (typeof latencySamples.$inferInsert)[]) {
  return chunk(rows, LATENCY_ROWS_PER_INSERT).map((part) => db.insert(latencySamples).values(part));
}

/** The upsert's sum of two `tossed` objects, reason by reason. */
const TOSSED_SUM = sql.raw(
  `(select json_group_object(key, total) from (select key, sum(value) as total from (select key, value from json_each(edge_counters.tossed) union all select key, value from json_each(excluded.tossed)) group by key))`,
);

/** The upsert's sums of a counter row's copy counts with what the minute already holds. */
const COUNTS_SUM = {
  received: sql`edge_counters.received + excluded.received`,
  receivedBytes: sql`edge_counters.received_bytes + excluded.received_bytes`,
  crmBound: sql`edge_counters.crm_bound + excluded.crm_bound`,
  crmBoundBytes: sql`edge_counters.crm_bound_bytes + excluded.crm_bound_bytes`,
  tossed: TOSSED_SUM,
};

/** Statements: add per-minute traffic to the region's counters (numbers and tossed reasons summed). */
export function edgeCounterStatements(db: Db, rows: (typeof edgeCounters.$inferInsert)[]) {
  return rows.map((row) =>
    db
      .insert(edgeCounters)
      .values(row)
      .onConflictDoUpdate({
        target: [edgeCounters.region, edgeCounters.minute],
        set: { ...COUNTS_SUM, bytesSent: sql`edge_counters.bytes_sent + excluded.bytes_sent` },
      }),
  );
}

/** One copy's share of its region's per-minute counters (see `newCopyStatements`). */
export interface CopyCount {
  id: string;
  kind: 'item' | 'receipt';
  minute: number;
  bytes: number;
  /** The receipt's reason (tossed counts per reason). */
  reason?: string;
  /** Committed items: the deployment and the edge receipt → commit latency. */
  deployment?: string;
  ms?: number;
}

/** Copies per statement: each travels as about 150 bytes of the one JSON bound value. */
const COPY_JSON_BYTES = 500_000;

/** A copy not counted before: an item with no `counted_ids` row, a receipt with no disposition. */
const NEW_COPY = sql.raw(
  `case when value ->> 'kind' = 'item'
     then not exists (select 1 from counted_ids s where s.id = value ->> 'id')
     else not exists (select 1 from dispositions d where d.id = value ->> 'id') end`,
);

/**
 * Statements: add the copies to the region's per-minute counters and latency samples, each copy
 * once, then remember the items as counted. A copy delivered again (same id) adds nothing. Must
 * run in the batch BEFORE the receipts' dispositions are inserted, since a receipt's disposition
 * is what marks it counted. Copies are deduplicated by id here, so a batch naming one twice
 * counts it once.
 */
export function newCopyStatements(
  db: Db,
  region: string,
  now: number,
  copies: readonly CopyCount[],
): Statement[] {
  const unique = [...new Map(copies.map((c) => [c.id, c])).values()];
  const out: Statement[] = [];
  for (const part of jsonChunks(unique, COPY_JSON_BYTES)) {
    // The SELECTs list every column in the table's order (drizzle's INSERT column list).
    const fresh = sql`select value ->> 'kind' as kind, value ->> 'minute' as minute,
      value ->> 'bytes' as bytes, value ->> 'reason' as reason from jsonb_each(${part}) where ${NEW_COPY}`;
    out.push(
      db.insert(latencySamples).select(
        sql`select ${region}, value ->> 'deployment', ${now}, value ->> 'ms' from jsonb_each(${part})
            where value ->> 'kind' = 'item' and value ->> 'ms' is not null and ${NEW_COPY}`,
      ),
      db
        .insert(edgeCounters)
        .select(
          sql`select ${region}, c.minute, count(*), sum(c.bytes), sum(c.kind = 'item'),
            sum(case when c.kind = 'item' then c.bytes else 0 end), coalesce(t.tossed, '{}'), 0
            from (${fresh}) c
            left join (
              select minute, json_group_object(reason, n) as tossed
              from (select minute, reason, count(*) as n from (${fresh}) where kind = 'receipt' group by minute, reason)
              group by minute
            ) t on t.minute = c.minute
            where true group by c.minute`,
        )
        .onConflictDoUpdate({
          target: [edgeCounters.region, edgeCounters.minute],
          set: COUNTS_SUM,
        }),
      db
        .insert(countedIds)
        .select(sql`select value ->> 'id', ${now} from jsonb_each(${part}) where value ->> 'kind' = 'item'`)
        .onConflictDoNothing(),
    );
  }
  return out;
}

/**
 * Statement: record an edge batch's id, committed with what the batch stores. A plain INSERT: an
 * id seen before fails the whole transaction with SQLite's UNIQUE constraint error (see
 * `isBatchIdTaken`), so a replayed batch stores nothing, and a batch whose write fails leaves its
 * id free for the retry.
 */
export function batchIdClaimStatement(db: Db, row: typeof ingestBatches.$inferInsert) {
  return db.insert(ingestBatches).values(row);
}

/** Whether `err` (from a `batch()` holding `batchIdClaimStatement`) is its batch id already taken. */
export function isBatchIdTaken(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (/UNIQUE constraint failed: ingest_batches\.id/.test(e.message)) return true;
  return false;
}
