// The webhook outbox (src/central/delivery/webhooks.ts delivers from it): one row per delivery of an
// activity to its deployment's CRM, written in the same D1 batch as the activity.
import { and, desc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { sha256Hex } from '../../core/keyed-hash.js';
import type { IngestItem } from '../../core/wire.js';
import type { Db } from '../client.js';
import { activities, connectors, deployments, webhookOutbox } from '../schema.js';
import { jsonChunks } from './statements.js';

export type OutboxRow = typeof webhookOutbox.$inferSelect;

/** Outbox rows per statement, as JSON (about 150 bytes each; see `jsonChunks`). */
const OUTBOX_JSON_BYTES = 500_000;

const utf8 = new TextEncoder();

/**
 * The delivery row id of one ingested copy, derived from the edge's item id: a copy that arrives
 * again (a queue redelivery, a spool re-send, a journal hand-over — all keep the item id) meets its
 * own row and adds no second delivery to the CRM. Region and deployment are part of it, so two
 * edges' item ids never meet. Also the CRM's dedupe key (`x-crm-router-delivery`).
 */
export function webhookDeliveryId(item: Pick<IngestItem, 'region' | 'deployment' | 'id'>): string {
  const key = `webhook\0${item.region}\0${item.deployment}\0${item.id}`;
  return sha256Hex(utf8.encode(key)).slice(0, 32);
}

/**
 * Statements for ingested copies, run in the same `batch()` after their activities' upserts:
 * each copy gets a pending row `id` for the activity it landed in (found by its dedupe key) when
 * the deployment has a delivery target (a webhook URL, or a connector of another kind), none
 * otherwise. The event is `activity.accepted` when the copy created the activity (its id is
 * `newActivityId`), else `activity.merged`. A row of the same id (the copy delivered again, see
 * `webhookDeliveryId`) is left as it is. Each statement returns the ids of the rows it wrote
 * (`{ id }`), which the webhook queue is kicked with. The joins are in a fixed order (CROSS JOIN):
 * a copy's deployment is checked for a target before its activity is looked up, so a batch of a
 * deployment without one costs a lookup per copy in `deployments` only.
 */
export function webhookOutboxStatements(
  db: Db,
  rows: readonly { id: string; deployment: string; dedupeKey: string; newActivityId: string }[],
  now: number,
) {
  const values = rows.map((r) => [r.id, r.deployment, r.dedupeKey, r.newActivityId]);
  return jsonChunks(values, OUTBOX_JSON_BYTES).map((part) =>
    db
      .insert(webhookOutbox)
      // In the table's column order (drizzle's INSERT column list).
      .select(
        sql`select r.value ->> 0, a.id, a.deployment,
          case when a.id = r.value ->> 3 then 'activity.accepted' else 'activity.merged' end,
          'pending', 0, ${now}, null, null, null, null, ${now}, ${now}, null
        from json_each(${part}) r
        cross join ${deployments} d on d.id = r.value ->> 1
        cross join ${activities} a on a.deployment = d.id and a.dedupe_key = r.value ->> 2
        where (d.webhook_url is not null and d.webhook_url != '')
          or exists (select 1 from ${connectors} c where c.deployment = d.id and c.kind != 'webhook')`,
      )
      .onConflictDoNothing()
      .returning({ id: webhookOutbox.id }),
  );
}

/** Pending, due and not leased (or its lease ran out). */
const dueAt = (now: number) =>
  and(
    eq(webhookOutbox.state, 'pending'),
    lte(webhookOutbox.nextAttemptAt, now),
    or(isNull(webhookOutbox.leaseUntil), lt(webhookOutbox.leaseUntil, now)),
  );

/** Takes the lease on a due row; the row, or undefined when it is not due or someone else holds it. */
export async function claimOutboxRow(
  db: Db,
  id: string,
  now: number,
  leaseMs: number,
): Promise<OutboxRow | undefined> {
  const claimed = await db
    .update(webhookOutbox)
    .set({ leaseUntil: now + leaseMs })
    .where(and(eq(webhookOutbox.id, id), dueAt(now)))
    .returning();
  return claimed[0];
}

/** Records an attempt's outcome and releases the lease. */
export function finishOutboxRow(
  db: Db,
  id: string,
  fields: Pick<OutboxRow, 'state' | 'attempts' | 'updatedAt'> &
    Partial<Pick<OutboxRow, 'lastStatus' | 'lastError' | 'lastOutcome' | 'deliveredAt' | 'nextAttemptAt'>>,
) {
  return db
    .update(webhookOutbox)
    .set({ ...fields, leaseUntil: null })
    .where(eq(webhookOutbox.id, id));
}

/**
 * Ids of the due rows, soonest first. Rows of a paused connector are left where they are: they
 * become due again, with nothing lost, when the connector is resumed.
 */
export async function dueOutboxIds(db: Db, now: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: webhookOutbox.id })
    .from(webhookOutbox)
    .where(
      and(
        dueAt(now),
        sql`not exists (select 1 from ${connectors} where ${connectors.deployment} = ${webhookOutbox.deployment} and ${connectors.state} = 'paused')`,
      ),
    )
    .orderBy(webhookOutbox.nextAttemptAt)
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** An activity's deliveries, newest first. */
export function deliveriesOfActivity(db: Db, activityId: string) {
  return db
    .select()
    .from(webhookOutbox)
    .where(eq(webhookOutbox.activityId, activityId))
    .orderBy(desc(webhookOutbox.createdAt))
    .all();
}

/** Deliveries that failed, or are still retrying after at least one failed attempt; latest change first. */
export function listFailingDeliveries(db: Db, q: { deployment?: string; limit: number }) {
  return db
    .select()
    .from(webhookOutbox)
    .where(
      and(
        or(
          eq(webhookOutbox.state, 'failed'),
          and(eq(webhookOutbox.state, 'pending'), sql`${webhookOutbox.attempts} > 0`),
        ),
        q.deployment ? eq(webhookOutbox.deployment, q.deployment) : undefined,
      ),
    )
    .orderBy(desc(webhookOutbox.updatedAt))
    .limit(q.limit)
    .all();
}

export function findDelivery(db: Db, id: string) {
  return db.select().from(webhookOutbox).where(eq(webhookOutbox.id, id)).get();
}

/**
 * Makes a failed (or retrying) delivery due now with a fresh retry window; false when the row
 * does not exist or was delivered.
 */
export async function rearmDelivery(db: Db, id: string, now: number): Promise<boolean> {
  const updated = await db
    .update(webhookOutbox)
    .set({ state: 'pending', nextAttemptAt: now, leaseUntil: null, updatedAt: now, createdAt: now })
    .where(and(eq(webhookOutbox.id, id), inArray(webhookOutbox.state, ['failed', 'pending'])))
    .returning({ id: webhookOutbox.id });
  return updated.length > 0;
}
