// The webhook outbox (src/central/delivery/webhooks.ts delivers from it): one row per delivery of an
// activity to its deployment's CRM, written in the same D1 batch as the activity.
import { and, desc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { activities, connectors, deployments, webhookOutbox } from '../schema.js';
import { queryInChunks } from './statements.js';

export type OutboxRow = typeof webhookOutbox.$inferSelect;

/**
 * Statement for one ingested copy, run in the same `batch()` as the activity upsert: inserts a
 * pending row for the activity the copy landed in (found by its dedupe key) when the deployment
 * has a delivery target: a webhook URL, or a connector of another kind (src/central/connectors);
 * none otherwise. The event is `activity.accepted` when the copy created the
 * activity (its id is `newActivityId`), else `activity.merged`.
 */
export function webhookOutboxStatement(
  db: Db,
  row: { id: string; deployment: string; dedupeKey: string; newActivityId: string; now: number },
) {
  return db
    .insert(webhookOutbox)
    .select(
      db
        .select({
          id: sql<string>`${row.id}`.as('id'),
          activityId: activities.id,
          deployment: activities.deployment,
          event:
            sql<string>`case when ${activities.id} = ${row.newActivityId} then 'activity.accepted' else 'activity.merged' end`.as(
              'event',
            ),
          state: sql<string>`'pending'`.as('state'),
          attempts: sql<number>`0`.as('attempts'),
          nextAttemptAt: sql<number>`${row.now}`.as('next_attempt_at'),
          leaseUntil: sql<number | null>`null`.as('lease_until'),
          lastStatus: sql<number | null>`null`.as('last_status'),
          lastError: sql<string | null>`null`.as('last_error'),
          lastOutcome: sql<string | null>`null`.as('last_outcome'),
          createdAt: sql<number>`${row.now}`.as('created_at'),
          updatedAt: sql<number>`${row.now}`.as('updated_at'),
          deliveredAt: sql<number | null>`null`.as('delivered_at'),
        })
        .from(activities)
        .innerJoin(deployments, eq(deployments.id, activities.deployment))
        .where(
          and(
            eq(activities.deployment, row.deployment),
            eq(activities.dedupeKey, row.dedupeKey),
            sql`((${deployments.webhookUrl} is not null and ${deployments.webhookUrl} != '') or exists (select 1 from ${connectors} where ${connectors.deployment} = ${deployments.id} and ${connectors.kind} != 'webhook'))`,
          ),
        ),
    )
    .onConflictDoNothing();
}

/** Ids of the not yet attempted pending rows of these activities (what the webhook queue is kicked with). */
export async function unattemptedOutboxIds(db: Db, activityIds: readonly string[]): Promise<string[]> {
  const rows = await queryInChunks(activityIds, (part) =>
    db
      .select({ id: webhookOutbox.id })
      .from(webhookOutbox)
      .where(
        and(
          inArray(webhookOutbox.activityId, part),
          eq(webhookOutbox.state, 'pending'),
          eq(webhookOutbox.attempts, 0),
        ),
      )
      .all(),
  );
  return rows.map((r) => r.id);
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
