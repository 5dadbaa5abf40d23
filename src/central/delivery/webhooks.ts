// Onward delivery of activities to each deployment's CRM webhook, through the webhook outbox
// (`webhook_outbox`): ingestion writes the row in the same D1 transaction as the activity, the
// webhook queue makes the first attempt right away, and the cron retries what is due with
// exponential backoff (30 s doubling to 1 h) for 4 days. 2xx ⇒ delivered; 410 or any 4xx other
// than 408/429 ⇒ failed (not retried; replayable); anything else (5xx, 408, 429, network error,
// timeout) ⇒ retried. A row is claimed with a lease so that the queue and the cron never deliver
// it concurrently.
import { and, desc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { hmacHex } from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { activities, deployments, webhookOutbox } from '../../db/schema.js';
import type { CentralBindings } from '../context.js';
import { serializeActivity } from '../api/serializers.js';

export interface WebhookJob {
  activityId: string;
  deployment: string;
  status: string;
}

/** Queue message of the webhook queue: the outbox row to attempt. */
export interface WebhookKick {
  outboxId: string;
}

/** Retries stop this long after the activity was committed (the row is then `failed`). */
export const WEBHOOK_RETRY_WINDOW_MS = 4 * 24 * 60 * 60 * 1000;
const LEASE_MS = 60_000;
const TIMEOUT_MS = 15_000;

/**
 * The outbox statement for one ingested copy, run in the same `batch()` as the activity upsert:
 * inserts a pending row when the deployment has a webhook URL (none otherwise).
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
            sql`${deployments.webhookUrl} is not null and ${deployments.webhookUrl} != ''`,
          ),
        ),
    )
    .onConflictDoNothing();
}

/**
 * After a commit: asks the webhook queue to attempt the new outbox rows of these activities now.
 * Losing this kick (a crash, a restart, a queue failure) delays delivery to the next cron run;
 * the row in D1 is what guarantees it.
 */
export async function enqueueWebhook(env: CentralBindings, db: Db, jobs: WebhookJob[]): Promise<void> {
  if (!jobs.length) return;
  try {
    const ids = [...new Set(jobs.map((j) => j.activityId))];
    const rows: { id: string }[] = [];
    for (let i = 0; i < ids.length; i += 90)
      rows.push(
        ...(await db
          .select({ id: webhookOutbox.id })
          .from(webhookOutbox)
          .where(
            and(
              inArray(webhookOutbox.activityId, ids.slice(i, i + 90)),
              eq(webhookOutbox.state, 'pending'),
              eq(webhookOutbox.attempts, 0),
            ),
          )
          .all()),
      );
    for (let i = 0; i < rows.length; i += 100)
      await env.WEBHOOKS.sendBatch(rows.slice(i, i + 100).map((r) => ({ body: { outboxId: r.id } })));
  } catch (err) {
    console.error('webhook kick failed; the cron will deliver', err);
  }
}

/**
 * The key a deployment's CRM uses to verify webhook signatures: derived from the central secret and
 * the deployment's secret generation (never stored). Shown to admins only, once: when the webhook
 * URL is first set and on rotation (POST /api/v1/deployments/:id/webhook-secret/rotate).
 */
export function webhookSecret(edgeKeySecret: string, deployment: string, generation = 0): Promise<string> {
  return hmacHex(
    edgeKeySecret,
    generation === 0 ? `webhook:${deployment}` : `webhook:${deployment}:${generation}`,
  );
}

/** Backoff after the n-th failed attempt: 30 s, 60 s, 2 min, … capped at 1 hour. */
export function webhookRetryDelaySeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.min(Math.max(0, attempts - 1), 10));
}

/** 410 Gone and every 4xx but 408 and 429 are permanent: the CRM will not take it by retrying. */
export function isPermanentWebhookStatus(status: number): boolean {
  return status === 410 || (status >= 400 && status < 500 && status !== 408 && status !== 429);
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'retry' | 'not-due';

/**
 * Claims one outbox row (pending, due, lease free) and attempts it. Signed like edge requests:
 * `x-crm-router-signature` = hex HMAC-SHA-256 over `timestamp.body` with the deployment's webhook
 * secret; `x-crm-router-delivery` is the outbox row id, stable across retries (for dedupe).
 */
export async function deliverOutboxRow(
  db: Db,
  id: string,
  edgeKeySecret: string,
  now = Date.now(),
): Promise<DeliveryOutcome> {
  const claimed = await db
    .update(webhookOutbox)
    .set({ leaseUntil: now + LEASE_MS })
    .where(
      and(
        eq(webhookOutbox.id, id),
        eq(webhookOutbox.state, 'pending'),
        lte(webhookOutbox.nextAttemptAt, now),
        or(isNull(webhookOutbox.leaseUntil), lt(webhookOutbox.leaseUntil, now)),
      ),
    )
    .returning();
  const row = claimed[0];
  if (!row) return 'not-due';
  const deployment = await db.select().from(deployments).where(eq(deployments.id, row.deployment)).get();
  const activity = await db.select().from(activities).where(eq(activities.id, row.activityId)).get();
  const attempts = row.attempts + 1;
  const finish = async (
    state: 'delivered' | 'failed' | 'pending',
    fields: { lastStatus?: number | null; lastError?: string | null },
  ) => {
    const at = Date.now();
    await db
      .update(webhookOutbox)
      .set({
        state,
        attempts,
        leaseUntil: null,
        updatedAt: at,
        ...fields,
        ...(state === 'delivered' ? { deliveredAt: at } : {}),
        ...(state === 'pending' ? { nextAttemptAt: at + webhookRetryDelaySeconds(attempts) * 1000 } : {}),
      })
      .where(eq(webhookOutbox.id, id));
  };
  if (!deployment?.webhookUrl || !activity) {
    await finish('failed', { lastError: !activity ? 'activity no longer exists' : 'webhook URL removed' });
    return 'failed';
  }
  const body = JSON.stringify({
    event: row.event,
    delivery: row.id,
    activity: serializeActivity(activity),
  });
  const timestamp = Date.now();
  const signature = await hmacHex(
    await webhookSecret(edgeKeySecret, row.deployment, deployment.webhookSecretGeneration),
    `${timestamp}.${body}`,
  );
  let status: number | undefined;
  let error: string | undefined;
  try {
    const res = await fetch(deployment.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-crm-router-timestamp': String(timestamp),
        'x-crm-router-signature': signature,
        'x-crm-router-delivery': row.id,
      },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = res.status;
    if (!res.ok) error = `HTTP ${res.status}: ${(await res.text().catch(() => '')).slice(0, 300)}`;
    else await res.body?.cancel();
  } catch (err) {
    error = `no answer: ${(err as Error).message}`.slice(0, 500);
  }
  if (status !== undefined && status >= 200 && status < 300) {
    await finish('delivered', { lastStatus: status, lastError: null });
    return 'delivered';
  }
  if (status !== undefined && isPermanentWebhookStatus(status)) {
    await finish('failed', { lastStatus: status, lastError: error ?? null });
    return 'failed';
  }
  if (Date.now() - row.createdAt > WEBHOOK_RETRY_WINDOW_MS) {
    await finish('failed', { lastStatus: status ?? null, lastError: `gave up after 4 days: ${error}` });
    return 'failed';
  }
  await finish('pending', { lastStatus: status ?? null, lastError: error ?? null });
  return 'retry';
}

/** Cron: attempts every due pending row (bounded per run), a few at a time. */
export async function drainWebhookOutbox(db: Db, edgeKeySecret: string, now = Date.now(), limit = 100) {
  const due = await db
    .select({ id: webhookOutbox.id })
    .from(webhookOutbox)
    .where(
      and(
        eq(webhookOutbox.state, 'pending'),
        lte(webhookOutbox.nextAttemptAt, now),
        or(isNull(webhookOutbox.leaseUntil), lt(webhookOutbox.leaseUntil, now)),
      ),
    )
    .orderBy(webhookOutbox.nextAttemptAt)
    .limit(limit)
    .all();
  const outcomes: DeliveryOutcome[] = [];
  for (let i = 0; i < due.length; i += 5)
    outcomes.push(
      ...(await Promise.all(due.slice(i, i + 5).map((r) => deliverOutboxRow(db, r.id, edgeKeySecret, now)))),
    );
  return outcomes;
}

export function serializeWebhookDelivery(r: typeof webhookOutbox.$inferSelect) {
  return {
    id: r.id,
    activityId: r.activityId,
    deployment: r.deployment,
    event: r.event,
    state: r.state as 'pending' | 'delivered' | 'failed',
    attempts: r.attempts,
    lastStatus: r.lastStatus ?? null,
    lastError: r.lastError ?? null,
    nextAttemptAt: r.state === 'pending' ? r.nextAttemptAt : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deliveredAt: r.deliveredAt ?? null,
  };
}

export function deliveriesOfActivity(db: Db, activityId: string) {
  return db
    .select()
    .from(webhookOutbox)
    .where(eq(webhookOutbox.activityId, activityId))
    .orderBy(desc(webhookOutbox.createdAt))
    .all();
}

/** Deliveries that failed, or are still retrying after at least one failed attempt. */
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

/** Replay: a failed (or retrying) delivery becomes due now; the next attempt is made right away. */
export async function replayDelivery(db: Db, id: string, edgeKeySecret: string, now = Date.now()) {
  const updated = await db
    .update(webhookOutbox)
    .set({ state: 'pending', nextAttemptAt: now, leaseUntil: null, updatedAt: now, createdAt: now })
    .where(and(eq(webhookOutbox.id, id), inArray(webhookOutbox.state, ['failed', 'pending'])))
    .returning({ id: webhookOutbox.id });
  if (!updated.length) return undefined;
  return deliverOutboxRow(db, id, edgeKeySecret, now);
}
