// What the edge tests share: the real bindings with a recording queue producer and an email()
// message (the snapshots they install: ./snapshot-input.ts).
import { env } from 'cloudflare:test';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import type { ItemRef } from '../../src/edge/queue-messages.js';
import type { EdgeBindings } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';

export const edgeEnv = env as unknown as EdgeBindings;

export const ctx = { waitUntil: () => {}, passThroughOnException: () => {} } as unknown as ExecutionContext;

/** The real bindings, with the queue producer recording what the edge enqueues. */
export function capturingEnv() {
  const sent: (IngestItem | Receipt)[] = [];
  const outbox = {
    send: async (body: IngestItem | Receipt) => {
      sent.push(body);
    },
    sendBatch: async (msgs: Iterable<{ body: IngestItem | Receipt }>) => {
      for (const m of msgs) sent.push(m.body);
    },
  };
  const bindings = { ...edgeEnv, OUTBOX: outbox as unknown as Queue };
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
