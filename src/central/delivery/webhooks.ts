// Onward delivery of activities to each deployment's CRM webhook, through the webhook outbox
// (`webhook_outbox`): ingestion writes the row in the same D1 transaction as the activity, the
// webhook queue makes the first attempt right away, and the cron retries what is due with
// exponential backoff (30 s doubling to 1 h) for 4 days. 2xx ⇒ delivered; a redirect (never
// followed: the tenant chose the URL, not where it points next), 410 or any 4xx other than 408/429
// ⇒ failed (not retried; replayable); anything else (5xx, 408, 429, network error, timeout) ⇒
// retried. The CRM's answer body is never read: a row keeps the status and a fixed phrase of ours,
// since a tenant (or an endpoint's redirect target) must not read answers back through central. A
// row is claimed with a lease so that the queue and the cron never deliver it concurrently.
import { hmacHex } from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { findActivity } from '../../db/queries/activities.js';
import { findDeployment } from '../../db/queries/deployments.js';
import {
  claimOutboxRow,
  dueOutboxIds,
  finishOutboxRow,
  type OutboxRow,
  rearmDelivery,
} from '../../db/queries/webhook-outbox.js';
import type { CentralBindings } from '../context.js';
import { serializeActivity } from '../api/serializers.js';
import { type WebhookUrlPolicy, webhookUrlProblem } from './webhook-url.js';

export {
  deliveriesOfActivity,
  findDelivery,
  listFailingDeliveries,
} from '../../db/queries/webhook-outbox.js';

/** Queue message of the webhook queue: the outbox row to attempt. */
export interface WebhookKick {
  outboxId: string;
}

/** Retries stop this long after the activity was committed (the row is then `failed`). */
export const WEBHOOK_RETRY_WINDOW_MS = 4 * 24 * 60 * 60 * 1000;
const LEASE_MS = 60_000;
const TIMEOUT_MS = 15_000;
/** Messages per `sendBatch` (Cloudflare Queues: at most 100 messages per batch). */
const QUEUE_SEND_BATCH = 100;

/** What a delivery needs of central's configuration (a CentralConfig is one). */
export interface DeliveryConfig extends WebhookUrlPolicy {
  edgeKeySecret: string;
}

/**
 * After a commit: asks the webhook queue to attempt these new outbox rows (as ingest wrote them)
 * now. Losing this kick (a crash, a restart, a queue failure) delays delivery to the next cron
 * run; the row in D1 is what guarantees it.
 */
export async function enqueueWebhook(env: CentralBindings, outboxIds: readonly string[]): Promise<void> {
  try {
    for (let i = 0; i < outboxIds.length; i += QUEUE_SEND_BATCH)
      await env.WEBHOOKS.sendBatch(
        outboxIds.slice(i, i + QUEUE_SEND_BATCH).map((outboxId) => ({ body: { outboxId } })),
      );
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

/**
 * A redirect (never followed), 410 Gone and every 4xx but 408 and 429 are permanent: the CRM will
 * not take it by retrying.
 */
export function isPermanentWebhookStatus(status: number): boolean {
  if (status >= 300 && status < 400) return true;
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
  config: DeliveryConfig,
  now = Date.now(),
): Promise<DeliveryOutcome> {
  const row = await claimOutboxRow(db, id, now, LEASE_MS);
  if (!row) return 'not-due';
  const deployment = await findDeployment(db, row.deployment);
  const activity = await findActivity(db, row.activityId);
  const attempts = row.attempts + 1;
  const finish = async (
    state: 'delivered' | 'failed' | 'pending',
    fields: { lastStatus?: number | null; lastError?: string | null },
  ) => {
    const at = Date.now();
    await finishOutboxRow(db, id, {
      state,
      attempts,
      updatedAt: at,
      ...fields,
      ...(state === 'delivered' ? { deliveredAt: at } : {}),
      ...(state === 'pending' ? { nextAttemptAt: at + webhookRetryDelaySeconds(attempts) * 1000 } : {}),
    });
  };
  if (!deployment?.webhookUrl || !activity) {
    await finish('failed', { lastError: !activity ? 'activity no longer exists' : 'webhook URL removed' });
    return 'failed';
  }
  // Checked again here: a URL stored under an older rule (or by a development central) is not sent to.
  const refused = webhookUrlProblem(deployment.webhookUrl, config);
  if (refused) {
    await finish('failed', { lastStatus: null, lastError: `webhook URL refused: ${refused}` });
    return 'failed';
  }
  const body = JSON.stringify({
    event: row.event,
    delivery: row.id,
    activity: serializeActivity(activity),
  });
  const timestamp = Date.now();
  const signature = await hmacHex(
    await webhookSecret(config.edgeKeySecret, row.deployment, deployment.webhookSecretGeneration),
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
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel();
    if (status >= 300 && status < 400)
      error = `the CRM answered with a redirect (HTTP ${status}); redirects are not followed`;
    else if (!res.ok) error = `the CRM answered HTTP ${status}`;
  } catch (err) {
    error =
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : 'no answer (the connection failed)';
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
export async function drainWebhookOutbox(db: Db, config: DeliveryConfig, now = Date.now(), limit = 100) {
  const due = await dueOutboxIds(db, now, limit);
  const outcomes: DeliveryOutcome[] = [];
  for (let i = 0; i < due.length; i += 5)
    outcomes.push(
      ...(await Promise.all(
        due.slice(i, i + 5).map((outboxId) => deliverOutboxRow(db, outboxId, config, now)),
      )),
    );
  return outcomes;
}

/**
 * A delivery as the API shows it. `lastError` (our own phrase, never the CRM's answer) only with
 * `withError`: user tokens see the state of a delivery, not why it failed.
 */
export function serializeWebhookDelivery(r: OutboxRow, { withError = true }: { withError?: boolean } = {}) {
  return {
    id: r.id,
    activityId: r.activityId,
    deployment: r.deployment,
    event: r.event,
    state: r.state as 'pending' | 'delivered' | 'failed',
    attempts: r.attempts,
    lastStatus: r.lastStatus ?? null,
    ...(withError ? { lastError: r.lastError ?? null } : {}),
    nextAttemptAt: r.state === 'pending' ? r.nextAttemptAt : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deliveredAt: r.deliveredAt ?? null,
  };
}

/** Replay: a failed (or retrying) delivery becomes due now; the next attempt is made right away. */
export async function replayDelivery(db: Db, id: string, config: DeliveryConfig, now = Date.now()) {
  if (!(await rearmDelivery(db, id, now))) return undefined;
  return deliverOutboxRow(db, id, config, now);
}
