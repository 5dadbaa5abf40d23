// A deployment's CRM connector (src/central/connectors/service.ts) and the outbox facts its health
// is computed from.
import { and, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { activities, connectors, webhookOutbox } from '../schema.js';

export type ConnectorRow = typeof connectors.$inferSelect;

export function findConnector(db: Db, deployment: string) {
  return db.select().from(connectors).where(eq(connectors.deployment, deployment)).get();
}

export async function upsertConnector(db: Db, row: typeof connectors.$inferInsert): Promise<ConnectorRow> {
  const { deployment: _, createdAt: __, ...update } = row;
  const [saved] = await db
    .insert(connectors)
    .values(row)
    .onConflictDoUpdate({ target: connectors.deployment, set: update })
    .returning();
  return saved!;
}

export async function updateConnector(
  db: Db,
  deployment: string,
  fields: Partial<Omit<ConnectorRow, 'deployment' | 'createdAt'>>,
) {
  await db.update(connectors).set(fields).where(eq(connectors.deployment, deployment));
}

/**
 * Claims a connector's sync lease for `holder` until `until` when no pass holds it (none did, or the
 * holder's lease ran out: it died). One conditional UPDATE, so of passes claiming at once exactly
 * one wins. False when another pass holds it, or there is no connector.
 */
export async function claimSyncLease(
  db: Db,
  deployment: string,
  holder: string,
  now: number,
  until: number,
): Promise<boolean> {
  const claimed = await db
    .update(connectors)
    .set({ syncLeaseHolder: holder, syncLeaseUntil: until })
    .where(
      and(
        eq(connectors.deployment, deployment),
        or(isNull(connectors.syncLeaseUntil), lte(connectors.syncLeaseUntil, now)),
      ),
    )
    .returning({ deployment: connectors.deployment });
  return claimed.length === 1;
}

/**
 * Writes `fields` only while `holder` still holds the lease (a pass whose lease was taken over must
 * not move the cursor back); false when it no longer does.
 */
export async function updateConnectorUnderLease(
  db: Db,
  deployment: string,
  holder: string,
  fields: Partial<Omit<ConnectorRow, 'deployment' | 'createdAt' | 'syncLeaseHolder'>>,
): Promise<boolean> {
  const updated = await db
    .update(connectors)
    .set(fields)
    .where(and(eq(connectors.deployment, deployment), eq(connectors.syncLeaseHolder, holder)))
    .returning({ deployment: connectors.deployment });
  return updated.length === 1;
}

/** Ends `holder`'s lease (a no-op when another pass took it over). */
export async function releaseSyncLease(db: Db, deployment: string, holder: string) {
  await db
    .update(connectors)
    .set({ syncLeaseHolder: null, syncLeaseUntil: null })
    .where(and(eq(connectors.deployment, deployment), eq(connectors.syncLeaseHolder, holder)));
}

/** Connectors of these kinds (the ones whose adapters pull), for the cron's sync pass. */
export function connectorsOfKinds(db: Db, kinds: readonly string[]) {
  if (!kinds.length) return Promise.resolve([] as ConnectorRow[]);
  return db.select().from(connectors).where(inArray(connectors.kind, kinds)).all();
}

export function setActivityCrmObject(
  db: Db,
  activityId: string,
  crmObject: { kind: string; id: string; url?: string },
) {
  return db.update(activities).set({ crmObject }).where(eq(activities.id, activityId));
}

/**
 * Whether an earlier delivery of the same activity is still pending: a later copy (a merge) waits
 * for it, so that it updates the CRM object the first one makes instead of making a second.
 */
export async function earlierPendingDelivery(
  db: Db,
  row: { id: string; activityId: string; createdAt: number },
): Promise<number | undefined> {
  const earlier = await db
    .select({ nextAttemptAt: webhookOutbox.nextAttemptAt })
    .from(webhookOutbox)
    .where(
      and(
        eq(webhookOutbox.activityId, row.activityId),
        eq(webhookOutbox.state, 'pending'),
        ne(webhookOutbox.id, row.id),
        or(
          lt(webhookOutbox.createdAt, row.createdAt),
          and(eq(webhookOutbox.createdAt, row.createdAt), lt(webhookOutbox.id, row.id)),
        ),
      ),
    )
    .orderBy(webhookOutbox.nextAttemptAt)
    .limit(1)
    .get();
  return earlier?.nextAttemptAt;
}

/** Rows waiting to be delivered (pending, attempted or not). */
export async function outboxBacklog(db: Db, deployment: string): Promise<number> {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(webhookOutbox)
    .where(and(eq(webhookOutbox.deployment, deployment), eq(webhookOutbox.state, 'pending')))
    .get();
  return row?.n ?? 0;
}

/**
 * The latest deliveries: when each landed and, for first deliveries (`activity.accepted`), the lag
 * from the activity's commit at central (`ingestedAt`) to the CRM's acceptance. A merge's lag is not
 * counted: its activity was committed long before the later copy arrived.
 */
export function recentDeliveries(db: Db, deployment: string, limit: number) {
  return db
    .select({
      deliveredAt: webhookOutbox.deliveredAt,
      lagMs: sql<
        number | null
      >`case when ${webhookOutbox.event} = 'activity.accepted' then ${webhookOutbox.deliveredAt} - ${activities.ingestedAt} end`,
    })
    .from(webhookOutbox)
    .innerJoin(activities, eq(activities.id, webhookOutbox.activityId))
    .where(and(eq(webhookOutbox.deployment, deployment), isNotNull(webhookOutbox.deliveredAt)))
    .orderBy(desc(webhookOutbox.deliveredAt))
    .limit(limit)
    .all();
}

/** Failed rows, and pending rows whose last attempt failed, counted by how that attempt ended. */
export async function outboxErrorsByReason(db: Db, deployment: string): Promise<Record<string, number>> {
  const rows = await db
    .select({ reason: webhookOutbox.lastOutcome, n: sql<number>`count(*)` })
    .from(webhookOutbox)
    .where(
      and(
        eq(webhookOutbox.deployment, deployment),
        or(
          eq(webhookOutbox.state, 'failed'),
          and(eq(webhookOutbox.state, 'pending'), gt(webhookOutbox.attempts, 0)),
        ),
      ),
    )
    .groupBy(webhookOutbox.lastOutcome)
    .all();
  return Object.fromEntries(rows.map((r) => [r.reason ?? 'failed', r.n]));
}
