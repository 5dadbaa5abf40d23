// Enqueueing within Cloudflare Queues' limits, by construction: a message is at most 128 KB and a
// `sendBatch` at most 100 messages and 256 KB. Sizes are UTF-8 bytes of the JSON actually sent.
// An item too large for one message is stored in the region's R2 and enqueued as a reference
// (the consumer, in the same region, reads it back); nothing is truncated to make it fit.
import type { IngestItem, Receipt } from '../core/wire.js';
import type { EdgeBindings } from './config.js';
import type { ItemRef, OutboxMessage } from './outbox.js';
import { utf8Length } from './outbox.js';

/** Largest message body sent inline (headroom under the 128 KB limit for the queue's envelope). */
export const MAX_MESSAGE_BYTES = 100 * 1024;
/** Per `sendBatch`: at most this many messages and this many bytes (limit 256 KB). */
export const MAX_BATCH_MESSAGES = 100;
export const MAX_BATCH_BYTES = 200 * 1024;

export function itemKey(item: IngestItem): string {
  return `items/${new Date(item.receivedAt).toISOString().slice(0, 10)}/${item.id}.json`;
}

/** Items that do not fit a queue message become references to a copy in R2. */
export async function queueBodies(env: EdgeBindings, items: (IngestItem | Receipt)[]) {
  const out: { body: OutboxMessage; bytes: number }[] = [];
  for (const item of items) {
    const json = JSON.stringify(item);
    const bytes = utf8Length(json);
    if (item.kind !== 'item' || bytes <= MAX_MESSAGE_BYTES) {
      out.push({ body: item, bytes });
      continue;
    }
    const key = itemKey(item);
    await env.RAW.put(key, json, { httpMetadata: { contentType: 'application/json' } });
    const ref: ItemRef = {
      kind: 'item-ref',
      id: item.id,
      deployment: item.deployment,
      ref: { region: item.region, key, size: bytes },
    };
    out.push({ body: ref, bytes: utf8Length(JSON.stringify(ref)) });
  }
  return out;
}

/** Splits into `sendBatch` calls of at most 100 messages and `MAX_BATCH_BYTES`. */
export function planBatches<T extends { bytes: number }>(bodies: T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const b of bodies) {
    if (b.bytes > MAX_MESSAGE_BYTES) throw new Error(`queue message of ${b.bytes} bytes exceeds the limit`);
    if (current.length && (current.length >= MAX_BATCH_MESSAGES || size + b.bytes > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(b);
    size += b.bytes;
  }
  if (current.length) batches.push(current);
  return batches;
}

/** Enqueues everything or throws (the sender then retries; items are idempotent at central). */
export async function enqueueAll(env: EdgeBindings, messages: (IngestItem | Receipt)[]): Promise<void> {
  if (!messages.length) return;
  const bodies = await queueBodies(env, messages);
  for (const batch of planBatches(bodies))
    await env.OUTBOX.sendBatch(batch.map((b) => ({ body: b.body, contentType: 'json' as const })));
}
