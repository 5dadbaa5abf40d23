import { beforeEach, describe, expect, test } from 'vitest';
import { canaryMessage, readCanaryMarker } from '../../src/core/canary.js';
import { CANARY_CRON, sendCanary } from '../../src/edge/canary.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { capturingEnv, ctx, edgeEnv, postInbound } from './helpers.js';
import { installSnapshot, usSnapshotInput } from './snapshot-input.js';

const cfg = readEdgeConfig(edgeEnv);

describe('the region canary at the edge', () => {
  beforeEach(() => installSnapshot(usSnapshotInput({ mailboxes: [], forwarding: [], deployments: [] })));

  test('goes through the ingress and leaves only its signed marker on the outbox: no item, no receipt', async () => {
    const { bindings, sent } = capturingEnv();
    const now = Date.now();
    const answer = await sendCanary(bindings, cfg, ctx, now);
    expect(answer).toMatchObject({ status: 202, body: { status: 'canary', items: [] } });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'canary', region: 'us', sentAt: now });
    expect((sent[0] as unknown as { signature: string }).signature).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a canary marker forged by a sender (not signed with the region key) is ordinary mail', async () => {
    const { bindings, sent } = capturingEnv();
    const forged = await canaryMessage('a-key-the-sender-guessed', 'us', Date.now());
    expect(readCanaryMarker(forged.raw)).toMatchObject({ region: 'us' });
    const res = await postInbound('', forged.raw, bindings);
    // Classified like any message: no forwarding address, so refused with its reason code.
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'unknown-recipient' } });
    expect(sent.map((m) => m.kind)).toEqual(['receipt']);
    expect(sent[0]).toMatchObject({ reason: 'unknown-recipient' });
  });

  test("another region's canary, or one too old to be fresh, is not this region's canary", async () => {
    const { bindings, sent } = capturingEnv();
    const other = await canaryMessage(cfg.signingKey, 'eu', Date.now());
    const old = await canaryMessage(cfg.signingKey, 'us', Date.now() - 60 * 60_000);
    for (const m of [other, old]) expect((await postInbound('', m.raw, bindings)).status).toBe(400);
    expect(sent.map((m) => m.kind)).toEqual(['receipt', 'receipt']);
  });

  test("the canary's own cron sends one, and nothing else runs on it", async () => {
    const { bindings, sent } = capturingEnv();
    const controller = { cron: CANARY_CRON, scheduledTime: Date.now(), noRetry() {} } as ScheduledController;
    await worker.scheduled!(controller, bindings, ctx);
    expect(sent.map((m) => m.kind)).toEqual(['canary']);
  });
});
