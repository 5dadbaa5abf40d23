import { eq, inArray } from 'drizzle-orm';
import { hmacHex } from '../core/request-signature.js';
import type { Db } from '../db/client.js';
import { activities, deployments, webhookDeliveries } from '../db/schema.js';
import type { CentralBindings } from './context.js';
import { serializeActivity } from './serializers.js';

export interface WebhookJob {
  activityId: string;
  deployment: string;
  status: string;
}

/** Queues onward delivery for activities of deployments that have a webhook URL. */
export async function enqueueWebhook(env: CentralBindings, db: Db, jobs: WebhookJob[]): Promise<void> {
  if (!jobs.length) return;
  const ids = [...new Set(jobs.map((j) => j.deployment))];
  const withHooks = new Set(
    (
      await db
        .select({ id: deployments.id, url: deployments.webhookUrl })
        .from(deployments)
        .where(inArray(deployments.id, ids))
        .all()
    )
      .filter((d) => d.url)
      .map((d) => d.id),
  );
  const due = jobs.filter((j) => withHooks.has(j.deployment));
  for (let i = 0; i < due.length; i += 100)
    await env.WEBHOOKS.sendBatch(due.slice(i, i + 100).map((body) => ({ body })));
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

/** Backoff for onward delivery retries: exponential from the attempt count, capped at 10 minutes. */
export function webhookRetryDelaySeconds(attempts: number): number {
  return Math.min(600, 2 ** Math.min(attempts, 10));
}

/**
 * Delivers one activity to its deployment's webhook, signed like edge requests:
 * `x-crm-router-signature` = hex HMAC-SHA-256 over `timestamp.body` with the deployment's webhook secret.
 */
export async function deliverWebhook(env: CentralBindings, db: Db, job: WebhookJob, edgeKeySecret: string) {
  const deployment = await db.select().from(deployments).where(eq(deployments.id, job.deployment)).get();
  const activity = await db.select().from(activities).where(eq(activities.id, job.activityId)).get();
  if (!deployment?.webhookUrl || !activity) return { ok: true, skipped: true };
  const body = JSON.stringify({ event: `activity.${job.status}`, activity: serializeActivity(activity) });
  const timestamp = Date.now();
  const signature = await hmacHex(
    await webhookSecret(edgeKeySecret, job.deployment, deployment.webhookSecretGeneration),
    `${timestamp}.${body}`,
  );
  const res = await fetch(deployment.webhookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-crm-router-timestamp': String(timestamp),
      'x-crm-router-signature': signature,
    },
    body,
  });
  await db
    .insert(webhookDeliveries)
    .values({
      id: `${job.activityId}:${job.status}:${timestamp}`,
      activityId: job.activityId,
      deployment: job.deployment,
      status: res.ok ? 'delivered' : `http ${res.status}`,
      attempts: 1,
      updatedAt: timestamp,
    })
    .onConflictDoNothing();
  void env;
  return { ok: res.ok, status: res.status };
}
