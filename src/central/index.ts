import { createDb } from '../db/client.js';
import { createApp } from './app.js';
import { readCentralConfig } from './config.js';
import { pruneBookkeeping } from './retention.js';
import type { CentralBindings } from './context.js';
import { deliverWebhook, type WebhookJob, webhookRetryDelaySeconds } from './webhooks.js';

const app = createApp();

export default {
  fetch: app.fetch,

  /** Onward delivery to CRM webhooks; failures retry with backoff through the queue. */
  async queue(batch, env) {
    const db = createDb(env.DB);
    const secret = readCentralConfig(env).edgeKeySecret;
    for (const message of batch.messages) {
      try {
        const result = await deliverWebhook(env, db, message.body as WebhookJob, secret);
        if (result.ok) message.ack();
        else message.retry({ delaySeconds: webhookRetryDelaySeconds(message.attempts) });
      } catch (err) {
        console.error('webhook delivery failed', err);
        message.retry({ delaySeconds: webhookRetryDelaySeconds(message.attempts) });
      }
    }
  },

  /** Cron: prune bookkeeping rows (latency samples, seen batch ids). */
  async scheduled(_controller, env) {
    await pruneBookkeeping(createDb(env.DB), Date.now());
  },
} satisfies ExportedHandler<CentralBindings>;
