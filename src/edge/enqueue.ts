// The queue producer: every item and receipt the edge accepts enters the delivery queue here,
// within Cloudflare Queues' limits by construction — a message at most 128 KB, a `sendBatch` at most
// 100 messages and 256 KB (developers.cloudflare.com/queues/platform/limits/). Sizes are UTF-8
// bytes of the JSON actually sent. An item too large for one message is stored in the region's R2
// and enqueued as a reference (the consumer, in the same region, reads it back); nothing is
// truncated to make it fit.

import { utf8Length } from '../core/utf8.js';
import type { IngestItem, Receipt } from '../core/wire.js';
import { noteEnqueued } from './backlog.js';
import type { EdgeBindings } from './config.js';
import { type ItemRef, jsonBytes, packBySize, type QueueMessage } from './queue-messages.js';

/** Largest message body sent inline (headroom under the 128 KB limit for the queue's envelope). */
export const MAX_MESSAGE_BYTES = 100 * 1024;
/** Per `sendBatch`: at most this many messages (limit 100) … */
export const MAX_SEND_BATCH_MESSAGES = 100;
/** … and this many bytes (limit 256 KB, headroom for the per-message envelope). */
export const MAX_SEND_BATCH_BYTES = 200 * 1024;

export function itemKey(item: IngestItem): string {
  return `items/${new Date(item.receivedAt).toISOString().slice(0, 10)}/${item.id}.json`;
}

/** Items that do not fit a queue message become references to a copy in R2. */
export async function queueBodies(env: Pick<EdgeBindings, 'RAW'>, values: (IngestItem | Receipt)[]) {
  const out: { body: QueueMessage; bytes: number }[] = [];
  for (const value of values) {
    const json = JSON.stringify(value);
    const bytes = utf8Length(json);
    if (value.kind !== 'item' || bytes <= MAX_MESSAGE_BYTES) {
      out.push({ body: value, bytes });
      continue;
    }
    const key = itemKey(value);
    await env.RAW.put(key, json, { httpMetadata: { contentType: 'application/json' } });
    const ref: ItemRef = {
      kind: 'item-ref',
      id: value.id,
      deployment: value.deployment,
      ref: { region: value.region, key, size: bytes },
    };
    out.push({ body: ref, bytes: jsonBytes(ref) });
  }
  return out;
}

/**
 * Sends queue messages in as few `sendBatch` calls as the limits allow; throws on the first failing
 * call. Messages are sized already (`queueBodies`); one over `MAX_MESSAGE_BYTES` is refused here.
 */
export async function sendMessages(
  queue: EdgeBindings['OUTBOX'],
  bodies: { body: QueueMessage; bytes: number }[],
  opts: { delaySeconds?: number } = {},
): Promise<void> {
  for (const b of bodies)
    if (b.bytes > MAX_MESSAGE_BYTES) throw new Error(`queue message of ${b.bytes} bytes exceeds the limit`);
  const limits = { bytes: MAX_SEND_BATCH_BYTES, messages: MAX_SEND_BATCH_MESSAGES };
  for (const batch of packBySize(bodies, limits, (b) => ({ bytes: b.bytes, messages: 1 })))
    await queue.sendBatch(
      batch.map((b) => ({
        body: b.body,
        contentType: 'json' as const,
        ...(opts.delaySeconds ? { delaySeconds: opts.delaySeconds } : {}),
      })),
    );
}

/**
 * Enqueues everything or throws (the sender then gets a temporary failure and retries; central
 * deduplicates items and receipts, so a retried message never doubles).
 */
export async function enqueueAll(env: EdgeBindings, values: (IngestItem | Receipt)[]): Promise<void> {
  if (!values.length) return;
  await sendMessages(env.OUTBOX, await queueBodies(env, values));
  noteEnqueued(values.length);
}
