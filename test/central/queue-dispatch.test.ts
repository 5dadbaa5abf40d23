// Central's queue() dispatches by the queue a batch comes from (wrangler.toml's consumers, named
// once in src/central/queue-names.ts), and a message that is neither a snapshot kick nor a webhook job
// is logged and retried, so it ends in that queue's dead-letter queue instead of being acked away.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import worker from '../../src/central/index.js';
import { ingest } from '../../src/central/ingest/ingest.js';
import { SNAPSHOT_KICK_QUEUE, WEBHOOK_QUEUE } from '../../src/central/queue-names.js';
import { createDb } from '../../src/db/client.js';
import { itemMaker } from './edge-batch.js';
import { api, freshBasics } from './helpers.js';

const central = env as unknown as CentralBindings;
const db = () => createDb(central.DB);
const receiver = inject('crmReceiver');
const item = itemMaker('queue');

/** Runs central's queue() on a batch of `queue` and returns what it acked and retried. */
async function consume(queue: string, bodies: unknown[], bindings: CentralBindings = central) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings);
  const result = await getQueueResult(batch, ctx);
  return {
    acked: result.ackAll ? bodies.map((_, i) => `m${i}`) : result.explicitAcks.sort(),
    retried: result.retryBatch.retry
      ? bodies.map((_, i) => `m${i}`)
      : result.retryMessages.map((r) => r.msgId).sort(),
  };
}

async function pendingDelivery(messageId: string) {
  await env.DB.prepare('update deployments set webhook_url = ? where id = ?')
    .bind(`${receiver}/hook`, 'contoso')
    .run();
  const out = await ingest(
    { db: db(), region: 'us', now: Date.now() },
    [item({ deployment: 'contoso', messageId })],
    [],
  );
  const activityId = out.results[0]!.activityId!;
  const [row] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
  return { activityId, outboxId: row.id as string };
}

describe('central queue dispatch', () => {
  beforeEach(freshBasics);

  test('a webhook job still delivers its outbox row and is acked', async () => {
    const { activityId, outboxId } = await pendingDelivery('job@customer.example');
    expect(await consume(WEBHOOK_QUEUE, [{ outboxId }])).toEqual({ acked: ['m0'], retried: [] });
    const [delivery] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 1 });
  });

  test('a malformed webhook message is retried (towards the dead-letter queue), not acked; its neighbours deliver', async () => {
    const { activityId, outboxId } = await pendingDelivery('beside@customer.example');
    const result = await consume(WEBHOOK_QUEUE, [{ outboxId }, {}, { outboxId: 7 }, 'x', null]);
    expect(result).toEqual({ acked: ['m0'], retried: ['m1', 'm2', 'm3', 'm4'] });
    const [delivery] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
    expect(delivery.state).toBe('delivered');
  });

  test('a snapshot kick on the webhook queue is not run as a kick: it is malformed there', async () => {
    const result = await consume(WEBHOOK_QUEUE, [{ kind: 'snapshot-kick', at: Date.now() }]);
    expect(result).toEqual({ acked: [], retried: ['m0'] });
  });

  test('a kick batch still runs one publish and is acked; a malformed message in it is retried', async () => {
    const pushOn = { ...central, SNAPSHOT_PUSH: 'on' } as CentralBindings;
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    const published = async () =>
      (
        await env.DB.prepare("select published_version as v from regions where id = 'eu'").first<{
          v: number | null;
        }>()
      )?.v ?? null;
    const before = await published();
    const kick = { kind: 'snapshot-kick', at: Date.now() };
    expect(await consume(SNAPSHOT_KICK_QUEUE, [kick, kick], pushOn)).toEqual({
      acked: ['m0', 'm1'],
      retried: [],
    });
    const after = await published();
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(await consume(SNAPSHOT_KICK_QUEUE, [kick, { outboxId: 'x' }], pushOn)).toEqual({
      acked: ['m0'],
      retried: ['m1'],
    });
  });

  test('a batch from a queue central does not consume is retried whole', async () => {
    expect(await consume('crm-unknown', [{ outboxId: 'x' }, { kind: 'snapshot-kick', at: 1 }])).toEqual({
      acked: [],
      retried: ['m0', 'm1'],
    });
  });
});
