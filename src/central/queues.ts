// Central's queue consumer: dispatch on the queue a batch comes from (queue-names.ts). A message
// central cannot read is logged and retried, never acked: after the consumer's max_retries the
// platform moves it to the queue's dead-letter queue (wrangler.toml), where it can be inspected.
import type { Db } from '../db/client.js';
import { readCentralConfig } from './config.js';
import { continueConnectorSync, isSyncContinuation } from './connectors/sync.js';
import type { CentralBindings } from './context.js';
import { deliverOutboxRow, type WebhookKick } from './delivery/webhooks.js';
import { CONNECTOR_SYNC_QUEUE, SNAPSHOT_KICK_QUEUE, WEBHOOK_QUEUE } from './queue-names.js';
import { isSnapshotKick, runSnapshotKick } from './snapshot/snapshot-kicks.js';

/** A failed first delivery attempt waits this long before the queue tries again. */
const WEBHOOK_RETRY_DELAY_SECONDS = 30;
/** A sync continuation whose pass threw (D1 failing) waits this long before the queue tries again. */
const SYNC_RETRY_DELAY_SECONDS = 30;

function isWebhookKick(body: unknown): body is WebhookKick {
  return (
    typeof body === 'object' && body !== null && typeof (body as { outboxId?: unknown }).outboxId === 'string'
  );
}

function retryUnreadable(queue: string, message: Message) {
  console.error(`queue ${queue}: unreadable message ${message.id} retried towards the dead-letter queue`);
  message.retry();
}

export async function consumeQueue(
  batch: MessageBatch,
  env: CentralBindings,
  db: Db,
  ctx?: Pick<ExecutionContext, 'waitUntil'>,
): Promise<void> {
  switch (batch.queue) {
    case CONNECTOR_SYNC_QUEUE:
      return consumeSyncContinuations(batch, env, db, ctx);
    case SNAPSHOT_KICK_QUEUE:
      return consumeSnapshotKicks(batch, env, db);
    case WEBHOOK_QUEUE:
      return consumeWebhookKicks(batch, env, db);
    default:
      console.error(`queue ${batch.queue}: not a queue central consumes; batch retried`);
      batch.retryAll();
  }
}

/** One publish run per batch, however many kicks it holds; a failing run throws (the batch is retried). */
async function consumeSnapshotKicks(batch: MessageBatch, env: CentralBindings, db: Db) {
  const kicks = batch.messages.filter((m) => isSnapshotKick(m.body));
  for (const m of batch.messages) if (!isSnapshotKick(m.body)) retryUnreadable(batch.queue, m);
  if (!kicks.length) return;
  await runSnapshotKick(env, db);
  for (const m of kicks) m.ack();
}

/** Each message names a connector sync under way: its next pass runs now. */
async function consumeSyncContinuations(
  batch: MessageBatch,
  env: CentralBindings,
  db: Db,
  ctx?: Pick<ExecutionContext, 'waitUntil'>,
) {
  const config = readCentralConfig(env);
  // Tests call queue() without a context: the pass's snapshot kicks then run unawaited.
  const waitUntil = ctx
    ? (p: Promise<unknown>) => ctx.waitUntil(p)
    : (p: Promise<unknown>) => void p.catch(() => {});
  for (const message of batch.messages) {
    if (!isSyncContinuation(message.body)) {
      retryUnreadable(batch.queue, message);
      continue;
    }
    try {
      await continueConnectorSync(db, { env, ctx: { waitUntil } }, config, message.body);
      message.ack();
    } catch (err) {
      console.error(`connector sync continuation of ${message.body.deployment} failed`, (err as Error)?.name);
      message.retry({ delaySeconds: SYNC_RETRY_DELAY_SECONDS });
    }
  }
}

/** Each message names a webhook outbox row to attempt now. */
async function consumeWebhookKicks(batch: MessageBatch, env: CentralBindings, db: Db) {
  const config = readCentralConfig(env);
  for (const message of batch.messages) {
    if (!isWebhookKick(message.body)) {
      retryUnreadable(batch.queue, message);
      continue;
    }
    try {
      // Retries are the cron's (the row keeps its schedule); the queue only makes the first try.
      await deliverOutboxRow(db, message.body.outboxId, config, Date.now(), { env });
      message.ack();
    } catch (err) {
      console.error('webhook delivery failed', err);
      message.retry({ delaySeconds: WEBHOOK_RETRY_DELAY_SECONDS });
    }
  }
}
