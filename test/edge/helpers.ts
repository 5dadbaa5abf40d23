// What the edge tests share: the real bindings with a recording real queue producer and an email()
// message (the snapshots they install: ./snapshot-input.ts).
import { env } from 'cloudflare:test';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import type { EdgeBindings } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import type { ItemRef } from '../../src/edge/queue-messages.js';

export const edgeEnv = env as unknown as EdgeBindings;

export const ctx = { waitUntil: () => {}, passThroughOnException: () => {} } as unknown as ExecutionContext;

/**
 * The real bindings, with the real queue producer (wrangler.edge.toml's OUTBOX, a local Cloudflare
 * Queue: its message and batch limits apply) recording what the edge enqueues on the way through.
 * The messages are really delivered: this file's queue consumer takes them, finds central
 * unreachable (CENTRAL_URL is http://central.test) and spools them to R2 under `spool/`, so a test
 * that lists the whole bucket must not use it.
 */
export function capturingEnv() {
  const sent: (IngestItem | Receipt)[] = [];
  const queue = edgeEnv.OUTBOX;
  const recording = {
    send: async (body: IngestItem | Receipt, options?: QueueSendOptions) => {
      await queue.send(body, options);
      sent.push(body);
    },
    sendBatch: async (
      msgs: Iterable<MessageSendRequest<IngestItem | Receipt>>,
      options?: QueueSendBatchOptions,
    ) => {
      const list = [...msgs];
      await queue.sendBatch(list, options);
      sent.push(...list.map((m) => m.body));
    },
  };
  const bindings = { ...edgeEnv, OUTBOX: recording as unknown as Queue };
  return { bindings, sent };
}

/** A message for email(); `out.rejected` holds what it was setReject-ed with. */
export function emailMessage(from: string, to: string, raw: Uint8Array) {
  const out: { rejected?: string } = {};
  const message = {
    from,
    to,
    raw: new Blob([raw as Uint8Array<ArrayBuffer>]).stream(),
    rawSize: raw.byteLength,
    headers: new Headers(),
    setReject: (r: string) => {
      out.rejected = r;
    },
    forward: async () => ({ messageId: '' }),
    reply: async () => ({ messageId: '' }),
  } as unknown as ForwardableEmailMessage;
  return { message, out };
}

/** `POST /api/v1/inbound?<query>` of the raw message, with the local inbound token. */
export function postInbound(query: string, body: Uint8Array, bindings: EdgeBindings) {
  return worker.fetch!(
    new Request(`http://edge.localhost/api/v1/inbound?${query}`, {
      method: 'POST',
      headers: { authorization: 'Bearer local-inbound-token' },
      body,
    }) as unknown as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );
}

/** What the edge enqueued as items, item references read back from R2. */
export async function itemsOf(sent: (IngestItem | Receipt)[]): Promise<IngestItem[]> {
  const out: IngestItem[] = [];
  for (const m of sent as (IngestItem | Receipt | ItemRef)[]) {
    if (m.kind === 'item') out.push(m);
    if (m.kind === 'item-ref') out.push((await (await edgeEnv.RAW.get(m.ref.key))!.json()) as IngestItem);
  }
  return out;
}
