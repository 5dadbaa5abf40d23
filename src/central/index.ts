import { createDb } from '../db/client.js';
import { createApp } from './app.js';
import { readCentralConfig } from './config.js';
import { pruneBookkeeping, pruneRetention } from './services/retention.js';
import type { CentralBindings } from './context.js';
import { deliverOutboxRow, drainWebhookOutbox, type WebhookKick } from './delivery/webhooks.js';
import { snapshotPushEnabled } from './snapshot/edge-notice.js';
import { isSnapshotKick, runSnapshotKick } from './snapshot/snapshot-kicks.js';

const app = createApp();

export default {
  fetch: app.fetch,

  /**
   * Two queues: snapshot kicks (one publish run per batch, however many kicks it holds; a failing
   * run is retried) and onward delivery to CRM webhooks (each message names a webhook outbox row
   * to attempt now).
   */
  async queue(batch, env) {
    const db = createDb(env.DB);
    if (batch.messages.every((m) => isSnapshotKick(m.body))) {
      await runSnapshotKick(env, db);
      batch.ackAll();
      return;
    }
    const config = readCentralConfig(env);
    for (const message of batch.messages) {
      const body = message.body as Partial<WebhookKick>;
      try {
        // Retries are the cron's (the row keeps its schedule); the queue only makes the first try.
        if (typeof body.outboxId === 'string') await deliverOutboxRow(db, body.outboxId, config);
        message.ack();
      } catch (err) {
        console.error('webhook delivery failed', err);
        message.retry({ delaySeconds: 30 });
      }
    }
  },

  /**
   * Cron: prune bookkeeping rows (latency samples, seen batch ids); retry due webhook deliveries;
   * and one snapshot-kick run, which catches a kick that was lost and the once-per-max-stale
   * rebuild of a deployment whose import never goes quiet.
   */
  async scheduled(_controller, env) {
    const db = createDb(env.DB);
    if (snapshotPushEnabled(env))
      await runSnapshotKick(env, db).catch((err) => console.error('snapshot kick run (cron) failed', err));
    await pruneBookkeeping(db, Date.now());
    await pruneRetention(db, env.ARCHIVE, Date.now());
    await drainWebhookOutbox(db, readCentralConfig(env));
  },
} satisfies ExportedHandler<CentralBindings>;
