import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, test } from 'vitest';
import type { Receipt } from '../../src/core/wire.js';
import type { EdgeBindings } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { MAX_RETRY_DELAY_SECONDS, type OutboxMessage, retryDelaySeconds } from '../../src/edge/outbox.js';

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

describe('queue() delivery', () => {
  test('when central is unreachable every message is retried and none is acked', async () => {
    const receipt = (i: number): Receipt => ({
      kind: 'receipt',
      id: `receipt-${i}-abcdef`,
      region: 'us',
      reason: 'bulk',
      sizeBytes: 10,
      at: Date.now(),
    });
    const batch = createMessageBatch<OutboxMessage>('crm-outbox-us', [
      { id: 'm1', timestamp: new Date(), attempts: 1, body: receipt(1) },
      { id: 'm2', timestamp: new Date(), attempts: 4, body: receipt(2) },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, env as unknown as EdgeBindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.retryMessages.map((r) => r.msgId).sort()).toEqual(['m1', 'm2']);
  });
});
