import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  type IngestBatch,
  type IngestItem,
  MAX_RECEIPTS_PER_BATCH,
  type Receipt,
} from '../../src/core/wire.js';
import { type EdgeBindings, readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import {
  JOURNAL_PREFIX,
  journalDepth,
  journalItems,
  journalKey,
  OTHER_BOOT_GRACE_MS,
  recoverJournal,
  STUCK_MS,
  settleJournal,
} from '../../src/edge/journal.js';
import {
  MAX_RETRY_DELAY_SECONDS,
  REQUEUE_DELAY_SECONDS,
  retryDelaySeconds,
} from '../../src/edge/queue-consumer.js';
import type { QueueMessage } from '../../src/edge/queue-messages.js';
import { drainSpool, SPOOL_PREFIX, type SpoolEntry, spool } from '../../src/edge/spool.js';

describe('retry backoff', () => {
  test('grows with the attempt count and never exceeds the cap', () => {
    const delays = Array.from({ length: 12 }, (_, i) => retryDelaySeconds(i + 1, 'msg-1'));
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(MAX_RETRY_DELAY_SECONDS);
    }
    expect(delays[5]!).toBeGreaterThan(delays[0]!);
    expect(Math.max(...delays.slice(8))).toBeGreaterThanOrEqual(MAX_RETRY_DELAY_SECONDS / 2);
  });

  test('is deterministic per message and attempt, and jittered across messages', () => {
    expect(retryDelaySeconds(6, 'a')).toBe(retryDelaySeconds(6, 'a'));
    const spread = new Set(Array.from({ length: 50 }, (_, i) => retryDelaySeconds(6, `m-${i}`)));
    expect(spread.size).toBeGreaterThan(3);
  });
});

const edgeEnv = env as unknown as EdgeBindings;

const receipt = (i: number): Receipt => ({
  kind: 'receipt',
  id: `receipt-${i}-${crypto.randomUUID().slice(0, 8)}`,
  region: 'us',
  reason: 'bulk',
  sizeBytes: 10,
  at: Date.now(),
});

async function clearSpool() {
  const listing = await edgeEnv.RAW.list({ prefix: SPOOL_PREFIX, limit: 1000 });
  if (listing.objects.length) await edgeEnv.RAW.delete(listing.objects.map((o) => o.key));
}

async function spooledIds(): Promise<string[]> {
  const listing = await edgeEnv.RAW.list({ prefix: SPOOL_PREFIX, limit: 1000 });
  const ids: string[] = [];
  for (const o of listing.objects) {
    const entry = (await (await edgeEnv.RAW.get(o.key))!.json()) as SpoolEntry;
    ids.push(...entry.items.map((i) => i.id), ...entry.receipts.map((r) => r.id));
  }
  return ids.sort();
}

/** The real R2 binding, whose put fails on command (fault injection). */
function failingPuts(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      if (prop === 'put') return async () => Promise.reject(new Error('injected: R2 put failed'));
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('queue() delivery', () => {
  beforeEach(clearSpool);

  test('when central is unreachable every message is spooled to regional R2 and acked, none retried', async () => {
    // Fault: central unreachable (http://central.test does not resolve). Before the spool, the
    // messages were retried until the queue's budget ran out and then dead-lettered.
    const bodies = [receipt(1), receipt(2)];
    const batch = createMessageBatch<QueueMessage>('crm-outbox-us', [
      { id: 'm1', timestamp: new Date(), attempts: 1, body: bodies[0]! },
      { id: 'm2', timestamp: new Date(), attempts: 100, body: bodies[1]! },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, edgeEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(['m1', 'm2']);
    expect(await spooledIds()).toEqual(bodies.map((b) => b.id).sort());
  });

  test('when the spool write fails too, the messages are retried (never acked unsaved)', async () => {
    // Fault: central unreachable and R2 put failing.
    const batch = createMessageBatch<QueueMessage>('crm-outbox-us', [
      { id: 'm1', timestamp: new Date(), attempts: 1, body: receipt(3) },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, { ...edgeEnv, RAW: failingPuts(edgeEnv.RAW) }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(['m1']);
    expect(await spooledIds()).toEqual([]);
  });

  test('the dead-letter queue consumer spools as well instead of dropping', async () => {
    const body = receipt(4);
    const batch = createMessageBatch<QueueMessage>('crm-outbox-us-dlq', [
      { id: 'd1', timestamp: new Date(), attempts: 100, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, edgeEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['d1']);
    expect(await spooledIds()).toEqual([body.id]);
  });

  test('a drain while central is unreachable keeps every spooled object', async () => {
    await spool(edgeEnv, [], [receipt(5), receipt(6)]);
    const before = await spooledIds();
    const result = await drainSpool(edgeEnv, readEdgeConfig(edgeEnv));
    expect(result).toMatchObject({ objects: 0, centralDown: true, remaining: true });
    expect(await spooledIds()).toEqual(before);
  });
});

describe('the dead-letter queue hands back what it cannot deliver or spool', () => {
  beforeEach(clearSpool);

  test('central unreachable and R2 failing: acked in the DLQ, re-sent to the main queue with a delay', async () => {
    // Before: the DLQ consumer retried until its budget ran out, and the queue deleted the message.
    // A stub producer: what was sent, with which delay, is what this test checks, and a local
    // queue shows neither to a test.
    const sent: { body: unknown; delaySeconds?: number }[] = [];
    const outbox = {
      send: async () => {},
      sendBatch: async (msgs: Iterable<{ body: unknown; delaySeconds?: number }>) => void sent.push(...msgs),
    } as unknown as EdgeBindings['OUTBOX'];
    const body = receipt(7);
    const batch = createMessageBatch<QueueMessage>('crm-outbox-us-dlq', [
      { id: 'd2', timestamp: new Date(), attempts: 100, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, { ...edgeEnv, RAW: failingPuts(edgeEnv.RAW), OUTBOX: outbox }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(['d2']);
    expect(sent).toEqual([{ body, contentType: 'json', delaySeconds: REQUEUE_DELAY_SECONDS }]);
  });

  test('when handing back fails as well, the DLQ message is retried, not acked', async () => {
    // A stub producer that fails: a local queue cannot be made to refuse a send.
    const outbox = {
      sendBatch: async () => Promise.reject(new Error('injected: queue send failed')),
    } as unknown as EdgeBindings['OUTBOX'];
    const batch = createMessageBatch<QueueMessage>('crm-outbox-us-dlq', [
      { id: 'd3', timestamp: new Date(), attempts: 100, body: receipt(8) },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, { ...edgeEnv, RAW: failingPuts(edgeEnv.RAW), OUTBOX: outbox }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(['d3']);
  });
});

describe('the accept journal (where the queue is not durable)', () => {
  const cfg = readEdgeConfig(edgeEnv);
  const entry = (id: string) => ({ kind: 'item', id }) as unknown as IngestItem;

  beforeEach(async () => {
    await clearSpool();
    const listing = await edgeEnv.RAW.list({ prefix: JOURNAL_PREFIX, limit: 1000 });
    if (listing.objects.length) await edgeEnv.RAW.delete(listing.objects.map((o) => o.key));
  });

  test('is on outside production unless ACCEPT_JOURNAL says otherwise', () => {
    expect(cfg.acceptJournal).toBe(true);
    expect(readEdgeConfig({ ...edgeEnv, ACCEPT_JOURNAL: 'off' }).acceptJournal).toBe(false);
  });

  test('an earlier process’s entries go to the spool; this process’s young ones wait for its consumer', async () => {
    await journalItems(edgeEnv, cfg, [entry('mine')]);
    await edgeEnv.RAW.put(journalKey('orphan'), JSON.stringify(entry('orphan')), {
      customMetadata: { boot: 'an-earlier-process' },
    });
    // Right away the orphan is within its grace (its consumer could still be finishing).
    expect(await recoverJournal(edgeEnv, cfg)).toBe(0);
    const later = Date.now() + OTHER_BOOT_GRACE_MS + 1000;
    expect(await recoverJournal(edgeEnv, cfg, later)).toBe(1);
    expect(await spooledIds()).toEqual(['orphan']);
    expect(await journalDepth(edgeEnv)).toBe(1);
    // Stuck for longer than any healthy round trip: handed over too.
    expect(await recoverJournal(edgeEnv, cfg, Date.now() + STUCK_MS + 1000)).toBe(1);
    expect(await spooledIds()).toEqual(['mine', 'orphan']);
    expect(await journalDepth(edgeEnv)).toBe(0);
  });

  test('the consumer settles the entries of what central answered for or the spool took', async () => {
    const id = `settle-${crypto.randomUUID().slice(0, 8)}`;
    await journalItems(edgeEnv, cfg, [entry(id)]);
    expect(await journalDepth(edgeEnv)).toBe(1);
    await settleJournal(edgeEnv, cfg, [id]);
    expect(await journalDepth(edgeEnv)).toBe(0);
  });
});

describe('a spool drain packs objects into batches central takes (packBySize on the listing)', () => {
  const cfg = readEdgeConfig(edgeEnv);
  const posted: IngestBatch[] = [];
  /** Central, which cannot run in the edge project: answers every batch, records what it got. */
  function fakeCentral() {
    posted.length = 0;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      const gunzipped = new Blob([init!.body as Uint8Array<ArrayBuffer>])
        .stream()
        .pipeThrough(new DecompressionStream('gzip'));
      const batch = (await new Response(gunzipped).json()) as IngestBatch;
      posted.push(batch);
      return Response.json({
        batchId: batch.batchId,
        snapshotVersion: 0,
        results: [],
        receipts: batch.receipts.length,
      });
    });
  }
  beforeEach(clearSpool);
  afterEach(() => vi.restoreAllMocks());

  test('three objects of 800 receipts: two posts within the receipt limit (1,600 + 800), all deleted', async () => {
    for (let o = 0; o < 3; o++)
      await spool(
        edgeEnv,
        [],
        Array.from({ length: 800 }, (_, k) => receipt(o * 1000 + k)),
      );
    fakeCentral();
    const result = await drainSpool(edgeEnv, cfg);
    expect(posted.map((b) => b.receipts.length)).toEqual([1600, 800]);
    for (const b of posted) expect(b.receipts.length).toBeLessThanOrEqual(MAX_RECEIPTS_PER_BATCH);
    expect(result).toMatchObject({ objects: 3, receipts: 2400, centralDown: false, remaining: false });
    expect(await spooledIds()).toEqual([]);
  });

  test('objects without their counts in the metadata go one per post, never over a limit unseen', async () => {
    for (let o = 0; o < 2; o++)
      await edgeEnv.RAW.put(
        `${SPOOL_PREFIX}00000000000000${o}-x.json`,
        JSON.stringify({ spooledAt: 1, items: [], receipts: [receipt(o)] } satisfies SpoolEntry),
      );
    fakeCentral();
    const result = await drainSpool(edgeEnv, cfg);
    expect(posted.map((b) => b.receipts.length)).toEqual([1, 1]);
    expect(result).toMatchObject({ objects: 2, receipts: 2 });
  });
});
