// The queue consumer: delivers the delivery queue's items and receipts to central in batches
// (central-batch.ts) and acks per item from central's answer. Whatever central does not take —
// unreachable, timeout, 5xx, 429, any other non-answer — goes to the regional spool (spool.ts) on
// the first failure and is acked; only a failing spool write retries the queue message. So
// "central down" never exhausts the queue's retries and never makes an item a dead letter; dead
// letters are items central answered `rejected` (central stores those itself, replayable from the
// dashboard).
import type { CanaryReport, IngestItem, IngestResponse, Receipt } from '../core/wire.js';
import { noteSettled } from './backlog.js';
import { batchShare, CENTRAL_BATCH_LIMITS, postBatch } from './central-batch.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { sendMessages } from './enqueue.js';
import { settleJournal } from './journal.js';
import { type ItemRef, jsonBytes, packBySize, type QueueMessage } from './queue-messages.js';
import { noteCentralVersion } from './snapshot-store.js';
import { drainSpool, spool } from './spool.js';

/** Retry delays (only used when the spool itself cannot be written) are capped at 30 s. */
export const MAX_RETRY_DELAY_SECONDS = 30;
/** Seconds a message handed back from the dead-letter queue waits in the main queue. */
export const REQUEUE_DELAY_SECONDS = 60;

/**
 * Exponential backoff with jitter, computed from the attempt count and the message id so that a
 * retried batch spreads out deterministically: min(cap, 2^(attempt-1)) scaled into [50 %, 100 %].
 */
export function retryDelaySeconds(attempts: number, id: string): number {
  const base = Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** Math.max(0, attempts - 1));
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  h = Math.imul(h ^ attempts, 16777619) >>> 0;
  const jitter = 0.5 + (h / 0xffffffff) * 0.5;
  return Math.max(1, Math.round(base * jitter));
}

type Resolved = { message: Message<QueueMessage>; body: IngestItem | Receipt | CanaryReport };

/**
 * Turns item references back into items (R2 in this region). A failing read retries the message;
 * a missing object (deleted by hand) is reported to central as a dead letter, never dropped silently.
 */
async function resolve(
  messages: readonly Message<QueueMessage>[],
  env: EdgeBindings,
  cfg: EdgeConfig,
  giveBack: GiveBack,
) {
  const resolved: Resolved[] = [];
  const missing: { message: Message<QueueMessage>; ref: ItemRef }[] = [];
  for (const message of messages) {
    const body = message.body;
    if (body.kind !== 'item-ref') {
      resolved.push({ message, body });
      continue;
    }
    try {
      const object = await env.RAW.get(body.ref.key);
      if (object) resolved.push({ message, body: (await object.json()) as IngestItem });
      else missing.push({ message, ref: body });
    } catch (err) {
      console.error(`delivery ${cfg.region}: reading ${body.ref.key} failed, will retry`, err);
      await giveBack([message]);
    }
  }
  if (missing.length) {
    try {
      await postBatch(
        cfg,
        {
          items: [],
          receipts: [],
          deadLetters: missing.map(({ ref, message }) => ({
            id: ref.id,
            item: ref,
            error: `item body ${ref.ref.key} is missing from the region's store`,
            attempts: message.attempts,
          })),
        },
        'ingest',
      );
      for (const m of missing) m.message.ack();
    } catch {
      for (const m of missing)
        m.message.retry({ delaySeconds: retryDelaySeconds(m.message.attempts, m.message.id) });
    }
  }
  return resolved;
}

/** What to do with messages this run could neither deliver nor spool. */
type GiveBack = (messages: Message<QueueMessage>[]) => Promise<void>;

/** The main queue retries them with backoff (its retries are the budget before the DLQ). */
const retryLater: GiveBack = async (messages) => {
  for (const m of messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts, m.id) });
};

/**
 * The dead-letter queue has no queue behind it: a message that exhausts its retries is deleted.
 * So what it cannot deliver or spool (R2 and central both failing) goes back to the main queue,
 * with a fresh retry budget, and is acked here; only a failing send retries the DLQ message.
 */
function requeueTo(env: EdgeBindings): GiveBack {
  return async (messages) => {
    try {
      await sendMessages(
        env.OUTBOX,
        messages.map((m) => ({ body: m.body, bytes: jsonBytes(m.body) })),
        { delaySeconds: REQUEUE_DELAY_SECONDS },
      );
      for (const m of messages) m.ack();
      console.warn(`delivery dlq: handed ${messages.length} message(s) back to the main queue`);
    } catch (err) {
      console.error('delivery dlq: handing messages back to the main queue failed, will retry', err);
      await retryLater(messages);
    }
  };
}

export async function deliverQueueBatch(
  batch: MessageBatch<QueueMessage>,
  env: EdgeBindings,
  cfg: EdgeConfig,
  waitUntil: (p: Promise<unknown>) => void,
  giveBack: GiveBack = retryLater,
): Promise<void> {
  const resolved = await resolve(batch.messages, env, cfg, giveBack);
  const groups = packBySize(resolved, CENTRAL_BATCH_LIMITS, (r) => batchShare(r.body));
  let delivered = false;
  for (const group of groups) {
    const items = group.filter((r): r is Resolved & { body: IngestItem } => r.body.kind === 'item');
    const receipts = group.filter((r): r is Resolved & { body: Receipt } => r.body.kind === 'receipt');
    // Canaries are never spooled or retried: one that cannot get through now shows as a stale canary.
    const canaries = group.filter((r): r is Resolved & { body: CanaryReport } => r.body.kind === 'canary');
    let answer: IngestResponse | undefined;
    try {
      answer = await postBatch(
        cfg,
        {
          items: items.map((r) => r.body),
          receipts: receipts.map((r) => r.body),
          canaries: canaries.map((r) => r.body),
        },
        canaries.length === group.length ? 'canary' : 'ingest',
      );
    } catch (err) {
      console.error(`delivery ${cfg.region}: central did not take ${group.length} messages; spooling`, err);
    }
    // accepted, merged and rejected are all final answers (central dead-letters rejected items).
    const answered = new Set(answer?.results.map((r) => r.id) ?? []);
    const left = answer ? items.filter((r) => !answered.has(r.body.id)) : items;
    const leftReceipts = answer ? [] : receipts;
    if (left.length || leftReceipts.length) {
      try {
        await spool(
          env,
          left.map((r) => r.body),
          leftReceipts.map((r) => r.body),
        );
      } catch (err) {
        console.error(`delivery ${cfg.region}: spool write failed, the queue retries`, err);
        const retried = new Set<Resolved>([...left, ...leftReceipts]);
        for (const r of group) if (!retried.has(r)) r.message.ack();
        await giveBack([...retried].map((r) => r.message));
        await settleJournal(
          env,
          cfg,
          items.filter((r) => !retried.has(r)).map((r) => r.body.id),
        );
        continue;
      }
    }
    for (const r of group) r.message.ack();
    // Central answered for each item or the spool holds it: the journal entries are done.
    await settleJournal(
      env,
      cfg,
      items.map((r) => r.body.id),
    );
    noteSettled(group.length);
    if (answer) {
      delivered = true;
      const refresh = noteCentralVersion(env, cfg, answer.snapshotVersion);
      if (refresh) waitUntil(refresh);
    }
  }
  // Central answers again: drain what waited in the spool without waiting for the next cron tick.
  if (delivered) waitUntil(drainSpool(env, cfg, { onlyIfPending: true }).catch(() => {}));
}

/**
 * The dead-letter queue only receives messages whose spool write kept failing. Nothing is dropped
 * here either: deliver straight to central if it answers, else spool, else back to the main queue.
 */
export async function deliverDeadLetters(
  batch: MessageBatch<QueueMessage>,
  env: EdgeBindings,
  cfg: EdgeConfig,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<void> {
  return deliverQueueBatch(batch, env, cfg, waitUntil, requeueTo(env));
}
