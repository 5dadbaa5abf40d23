// The edge worker's entry points: HTTP (http/app.ts), Cloudflare Email Routing, the delivery
// queue and its dead-letter queue (queue-consumer.ts), and the cron.
import { isLoopbackUrl } from '../core/deploy-mode.js';
import { readStreamLimited } from '../core/stream-limit.js';
import { CANARY_CRON, sendCanary } from './canary.js';
import { postBatch } from './central-batch.js';
import { type EdgeBindings, readEdgeConfig } from './config.js';
import { enqueueAll } from './enqueue.js';
import { faultsEnabled, handleFaultRequest, withFaults } from './faults.js';
import { app } from './http/app.js';
import { recoverJournal } from './journal.js';
import { PLATFORM_MAX_BYTES, processMessage, receiptFor } from './pipeline.js';
import { deliverDeadLetters, deliverQueueBatch } from './queue-consumer.js';
import type { QueueMessage } from './queue-messages.js';
import { expireRawCopies } from './raw-expiry.js';
import { collectSnapshotGarbage, currentSnapshot, refreshSnapshot } from './snapshot-store.js';
import { drainSpool } from './spool.js';

export default {
  fetch(request, env, ctx) {
    if (faultsEnabled(env) && isLoopbackUrl(request.url) && new URL(request.url).pathname === '/__faults')
      return handleFaultRequest(request);
    return app.fetch(request, withFaults(env), ctx);
  },

  /** Cloudflare Email Routing. Throwing makes the sending server retry (temporary SMTP failure). */
  async email(message, bindings, ctx) {
    const env = withFaults(bindings);
    const cfg = readEdgeConfig(env);
    const raw = await readStreamLimited(message.raw, PLATFORM_MAX_BYTES, message.rawSize);
    if (!raw) {
      await enqueueAll(env, [
        receiptFor(cfg, undefined, 'oversize', message.rawSize, Date.now(), 'larger than 25 MiB'),
      ]);
      message.setReject(`message exceeds ${PLATFORM_MAX_BYTES} bytes (oversize)`);
      return;
    }
    const result = await processMessage(env, cfg, raw, { from: message.from, to: message.to }, (p) =>
      ctx.waitUntil(p),
    );
    if (result.reject) message.setReject(result.reject);
  },

  async queue(batch, bindings, ctx) {
    const env = withFaults(bindings);
    const cfg = readEdgeConfig(env);
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
    if (batch.queue.endsWith('-dlq')) return deliverDeadLetters(batch, env, cfg, waitUntil);
    return deliverQueueBatch(batch, env, cfg, waitUntil);
  },

  /**
   * Cron: refresh the snapshot, send a heartbeat (so central sees a quiet edge as alive), drain
   * the spool (bounded work per run; the first POST of the drain is the probe of central), expire
   * raw copies and collect the region's superseded snapshot parts (at most every 10 minutes).
   */
  async scheduled(controller, env, ctx) {
    const cfg = readEdgeConfig(env);
    // The canary's cron: one signed synthetic message through the ingress to central, nothing else.
    if (controller.cron === CANARY_CRON) {
      const sent = await sendCanary(env, cfg, ctx);
      if (sent.status !== 202)
        console.error(`canary ${cfg.region}: ingress answered ${sent.status}`, sent.body);
      return;
    }
    // What an earlier process accepted and its in-memory queue lost goes to the spool first.
    await recoverJournal(env, cfg).catch((err) =>
      console.error(`journal recovery ${cfg.region} failed`, err),
    );
    const snapshot =
      (await refreshSnapshot(env, cfg, 'cron')) ??
      (await currentSnapshot(env, cfg, (p) => ctx.waitUntil(p)).catch(() => undefined));
    const drained = await drainSpool(env, cfg).catch((err) => {
      console.error(`spool drain ${cfg.region} failed`, err);
      return undefined;
    });
    if (!drained?.objects)
      ctx.waitUntil(
        postBatch(cfg, { items: [], receipts: [] }, 'heartbeat').catch((err) =>
          console.error('heartbeat failed', err),
        ),
      );
    // The deployments' retention, applied to the copies this region holds (raw-expiry.ts).
    if (snapshot)
      await expireRawCopies(env.RAW, snapshot, Date.now()).catch((err) =>
        console.error(`raw expiry ${cfg.region} failed`, err),
      );
    await collectSnapshotGarbage(env, Date.now()).catch((err) =>
      console.error(`snapshot part collection ${cfg.region} failed`, err),
    );
  },
} satisfies ExportedHandler<EdgeBindings, QueueMessage>;
