// Ingestion's reads and statements (src/central/ingest.ts decides, these touch D1). Lookups take
// one deployment and any number of keys (chunked under D1's 100-parameter limit); the statement
// builders return drizzle statements for the ingest batch's single `batch()` (one transaction).
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { SelectResultFields } from 'drizzle-orm/query-builders/select.types';
import type { SelectedFields, SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';
import {
  activities,
  dispositions,
  edgeCounters,
  ingestBatches,
  latencySamples,
  outbound,
  recordEmails,
} from '../schema.js';
import { chunk, queryInChunks } from './statements.js';

/** The rows of `table` in `deployment` whose `key` is among `keys` (any number: chunked). */
function inDeployment<F extends SelectedFields>(
  db: Db,
  fields: F,
  table: SQLiteTable,
  where: { deployment: SQLiteColumn; key: SQLiteColumn | SQL },
  deployment: string,
  keys: readonly string[],
): Promise<SelectResultFields<F>[]> {
  return queryInChunks(
    keys,
    (part) =>
      db
        .select(fields)
        .from(table)
        .where(and(eq(where.deployment, deployment), inArray(where.key as SQL, part)))
        .all() as Promise<SelectResultFields<F>[]>,
  );
}

/** Every record address row of the deployment among `addresses` (an address may belong to several records). */
export function recordMatches(db: Db, deployment: string, addresses: readonly string[]) {
  const { address, type, recordId, emailEnabled } = recordEmails;
  const scope = { deployment: recordEmails.deployment, key: address };
  return inDeployment(
    db,
    { address, type, recordId, emailEnabled },
    recordEmails,
    scope,
    deployment,
    addresses,
  );
}

/** The deployment's registered outbound messages among `messageIds`, with their regarding record. */
export function outboundByMessageIds(db: Db, deployment: string, messageIds: readonly string[]) {
  const { messageId, regardingType, regardingId } = outbound;
  const scope = { deployment: outbound.deployment, key: messageId };
  return inDeployment(db, { messageId, regardingType, regardingId }, outbound, scope, deployment, messageIds);
}

/** The deployment's outbound messages whose tracking token is among `lowerTokens` (compared case-insensitively). */
export function outboundByTrackingTokens(db: Db, deployment: string, lowerTokens: readonly string[]) {
  const { trackingToken: token, regardingType, regardingId } = outbound;
  const scope = { deployment: outbound.deployment, key: sql`lower(${token})` };
  return inDeployment(db, { token, regardingType, regardingId }, outbound, scope, deployment, lowerTokens);
}

/** Content fingerprints of the deployment's activities with these dedupe keys. */
export function activityFingerprints(db: Db, deployment: string, dedupeKeys: readonly string[]) {
  const { dedupeKey, fingerprint } = activities;
  const scope = { deployment: activities.deployment, key: dedupeKey };
  return inDeployment(db, { dedupeKey, fingerprint }, activities, scope, deployment, dedupeKeys);
}

/** Set union of two JSON arrays in one statement, so concurrent merges cannot lose an element. */
const unionJson = (column: string, objects = false) =>
  sql.raw(
    `(select json_group_array(${objects ? 'json(value)' : 'value'}) from (select value from json_each(activities.${column}) union select value from json_each(excluded.${column})))`,
  );

export type ActivityInsert = Omit<typeof activities.$inferInsert, 'seq' | 'changeSeq' | 'merged'>;

/** The changes feed's next position (see `activities.changeSeq`). */
const nextChangeSeq = sql`(select coalesce(max(change_seq), 0) + 1 from activities)`;

/**
 * Statement: insert the activity, or merge the copy into the deployment's activity with the same
 * dedupe key (union of mailboxes, regions, parties and content). Returns the id of the row it
 * landed in: the new id when it was inserted, the existing one when merged.
 */
export function activityUpsertStatement(db: Db, row: ActivityInsert) {
  return db
    .insert(activities)
    .values({
      ...row,
      seq: sql`(select coalesce(max(seq), 0) + 1 from activities)`,
      changeSeq: nextChangeSeq,
    })
    .onConflictDoUpdate({
      target: [activities.deployment, activities.dedupeKey],
      set: {
        changeSeq: nextChangeSeq,
        merged: true,
        mailboxes: unionJson('mailboxes'),
        regions: unionJson('regions'),
        parties: unionJson('parties', true),
        content: unionJson('content', true),
        updatedAt: row.updatedAt,
      },
    })
    .returning({ id: activities.id });
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

/** Statements: add per-minute traffic to the region's counters (numbers and tossed reasons summed). */
export function edgeCounterStatements(db: Db, rows: (typeof edgeCounters.$inferInsert)[]) {
  return rows.map((row) =>
    db
      .insert(edgeCounters)
      .values(row)
      .onConflictDoUpdate({
        target: [edgeCounters.region, edgeCounters.minute],
        set: {
          received: sql`edge_counters.received + excluded.received`,
          receivedBytes: sql`edge_counters.received_bytes + excluded.received_bytes`,
          crmBound: sql`edge_counters.crm_bound + excluded.crm_bound`,
          crmBoundBytes: sql`edge_counters.crm_bound_bytes + excluded.crm_bound_bytes`,
          bytesSent: sql`edge_counters.bytes_sent + excluded.bytes_sent`,
          tossed: sql.raw(
            `(select json_group_object(key, total) from (select key, sum(value) as total from (select key, value from json_each(edge_counters.tossed) union all select key, value from json_each(excluded.tossed)) group by key))`,
          ),
        },
      }),
  );
}

/** Records a batch id; false when it was seen before (a replayed batch). */
export async function claimBatchId(db: Db, row: typeof ingestBatches.$inferInsert): Promise<boolean> {
  const insert = db.insert(ingestBatches).values(row).onConflictDoNothing();
  return (await insert.returning({ id: ingestBatches.id })).length > 0;
}
