// What the edge tests share: the real bindings with a recording queue producer, a snapshot
// installed as the edge's current one, and an email() message.
import { env } from 'cloudflare:test';
import { buildSnapshot, encodeSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import type { EdgeBindings } from '../../src/edge/config.js';
import { forgetHeldSnapshot } from '../../src/edge/snapshot-store.js';

export const edgeEnv = env as unknown as EdgeBindings;

export const HASH_KEY = '000102030405060708090a0b0c0d0e0f';

/** A deployment of a test snapshot: the default token format, nothing suppressed, no records. */
export function deploymentInput(
  id: string,
  over: Partial<SnapshotInput['deployments'][number]> = {},
): SnapshotInput['deployments'][number] {
  return {
    id,
    token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
    maxMessageBytes: 1_000_000,
    attachmentPolicy: 'regional',
    smartMatch: false,
    suppressions: [],
    records: [],
    outbound: [],
    ...over,
  };
}

/** A region us snapshot with rules on and full egress; the test names its routes and deployments. */
export function usSnapshotInput(
  over: Pick<SnapshotInput, 'mailboxes' | 'forwarding' | 'deployments'> & Partial<SnapshotInput>,
): SnapshotInput {
  return {
    region: 'us',
    version: 1,
    builtAt: 1,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    ...over,
  };
}

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

/** Builds the snapshot and makes it the edge's current one (as a fetch from central would). */
export async function installSnapshot(input: SnapshotInput) {
  forgetHeldSnapshot();
  const snapshot = buildSnapshot(input);
  await edgeEnv.SNAPSHOTS.put('snapshot:current', encodeSnapshot(snapshot), {
    metadata: { etag: `"${snapshot.etag}"`, checkedAt: Date.now() },
  });
  return snapshot;
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
