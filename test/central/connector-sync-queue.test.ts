// A sync under way continues through the connector-sync queue, not the next cron minute, and a lease
// on the connector row lets only one pass (cron, API, queue) apply a connector's pages at a time.
// Fixture-verified against the HubSpot fake (fakes/hubspot.ts).
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { readCentralConfig } from '../../src/central/config.js';
import {
  runConnectorSync,
  runSyncPass,
  SYNC_LEASE_MS,
  SYNC_PAGES_PER_RUN,
  type SyncContinuation,
} from '../../src/central/connectors/sync.js';
import type { CentralBindings } from '../../src/central/context.js';
import worker from '../../src/central/index.js';
import { CONNECTOR_SYNC_QUEUE } from '../../src/central/queue-names.js';
import { createDb } from '../../src/db/client.js';
import { fakeControl } from '../support/connector-context.js';
import { connectHubspotTenant } from './helpers.js';

const DEPLOYMENT = 'contoso';
const central = env as unknown as CentralBindings;
const db = () => createDb(central.DB);
const config = () => readCentralConfig(env as never);

/** Central's bindings with the connector-sync producer recording what is sent instead of queueing it. */
function recordingQueue() {
  const sent: SyncContinuation[] = [];
  const bindings = {
    ...central,
    CONNECTOR_SYNCS: {
      send: async (body: SyncContinuation) => void sent.push(body),
      sendBatch: async () => {
        throw new Error('not used');
      },
    } as unknown as Queue,
  } as CentralBindings;
  return { sent, bindings };
}

async function contactCount(): Promise<number> {
  const row = await central.DB.prepare(
    "select count(*) as n from records where deployment = ? and type = 'contact' and active = 1",
  )
    .bind(DEPLOYMENT)
    .first<{ n: number }>();
  return row!.n;
}

async function connectorRow() {
  return (await central.DB.prepare('select * from connectors where deployment = ?')
    .bind(DEPLOYMENT)
    .first<Record<string, unknown>>())!;
}

describe('connector sync lease and queue continuations (fixture-verified, HubSpot fake)', () => {
  let base: string;

  beforeEach(async () => {
    base = await connectHubspotTenant(DEPLOYMENT, inject('hubspotFake'));
  });

  it('of two passes started at once, one runs and the other skips', async () => {
    const ctx = createExecutionContext();
    const site = { env: central, ctx };
    const runs = await Promise.all([
      runConnectorSync(db(), site, config(), DEPLOYMENT),
      runConnectorSync(db(), site, config(), DEPLOYMENT),
    ]);
    expect(runs.filter((r) => r.skipped)).toHaveLength(1);
    const ran = runs.find((r) => !r.skipped)!;
    expect(ran.error).toBeUndefined();
    expect(ran.pages).toBeGreaterThan(0);
    expect(runs.find((r) => r.skipped)!.pages).toBe(0);
    // Released at the end of the pass: the next one runs.
    expect((await connectorRow()).sync_lease_until).toBeNull();
    expect((await runConnectorSync(db(), site, config(), DEPLOYMENT)).skipped).toBeUndefined();
  });

  it('a pass skips while another holds the lease, and takes over a lease whose holder died', async () => {
    const site = { env: central, ctx: createExecutionContext() };
    const hold = (until: number) =>
      central.DB.prepare(
        'update connectors set sync_lease_holder = ?, sync_lease_until = ? where deployment = ?',
      )
        .bind('dead-or-alive', until, DEPLOYMENT)
        .run();
    await hold(Date.now() + SYNC_LEASE_MS);
    expect(await runConnectorSync(db(), site, config(), DEPLOYMENT)).toMatchObject({
      skipped: true,
      pages: 0,
    });
    expect(await contactCount()).toBe(0);

    await hold(Date.now() - 1);
    const taken = await runConnectorSync(db(), site, config(), DEPLOYMENT);
    expect(taken.skipped).toBeUndefined();
    expect(taken.error).toBeUndefined();
    expect(taken.pages).toBeGreaterThan(0);
    expect(await contactCount()).toBe(1);
    expect((await connectorRow()).sync_lease_holder).toBeNull();
  });

  it('a pass whose lease was taken over mid-run stops without moving the cursor', async () => {
    await fakeControl(base, 'seed', {
      bulkContacts: { count: 1_000, from: Date.now() - 86_400_000, to: Date.now() - 60_000 },
    });
    const site = { env: central, ctx: createExecutionContext() };
    // The first page lands, then another pass takes the lease over (this one's ran out).
    const first = await runConnectorSync(db(), site, config(), DEPLOYMENT, { maxPages: 1 });
    const cursor = (await connectorRow()).sync_cursor;
    const stolen = runConnectorSync(db(), site, config(), DEPLOYMENT, {
      adapters: {
        hubspot: {
          ...(await import('../../src/central/connectors/hubspot.js')).hubspotAdapter,
          pull: async (ctx, raw) => {
            await central.DB.prepare('update connectors set sync_lease_holder = ? where deployment = ?')
              .bind('the-new-holder', DEPLOYMENT)
              .run();
            const { hubspotAdapter } = await import('../../src/central/connectors/hubspot.js');
            return hubspotAdapter.pull!(ctx, raw);
          },
        },
      },
    });
    expect(first.done).toBe(false);
    expect(await stolen).toMatchObject({ leaseLost: true, pages: 1 });
    expect((await connectorRow()).sync_cursor).toBe(cursor);
    // The new holder's lease is not released by the pass that lost it.
    expect((await connectorRow()).sync_lease_holder).toBe('the-new-holder');
  });

  it('a first sync of more pages than one cron run completes through queue continuations, no cron tick', async () => {
    const count = 2_000;
    await fakeControl(base, 'seed', {
      bulkContacts: { count, from: Date.now() - 86_400_000, to: Date.now() - 60_000 },
    });
    const { sent, bindings } = recordingQueue();
    // The API's pass (`POST …/connector/sync` runs this in waitUntil).
    const first = await runSyncPass(
      db(),
      { env: bindings, ctx: createExecutionContext() },
      config(),
      DEPLOYMENT,
    );
    expect(first).toMatchObject({ pages: SYNC_PAGES_PER_RUN, done: false });
    expect(sent).toEqual([{ deployment: DEPLOYMENT, syncId: first.syncId }]);

    let consumed = 0;
    while (sent.length) {
      expect(consumed++).toBeLessThan(10);
      const batch = createMessageBatch(CONNECTOR_SYNC_QUEUE, [
        { id: `m${consumed}`, timestamp: new Date(), attempts: 1, body: sent.shift() },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, bindings, ctx);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`m${consumed}`]);
    }
    expect(consumed).toBeGreaterThan(0);
    const row = await connectorRow();
    expect(row.sync_id).toBeNull();
    expect(row.last_sync_at).not.toBeNull();
    expect(await contactCount()).toBe(count + 1);
  });

  it('a continuation of a sync that is no longer under way is acked and runs nothing; a malformed one is retried', async () => {
    const { sent, bindings } = recordingQueue();
    const batch = createMessageBatch(CONNECTOR_SYNC_QUEUE, [
      { id: 'stale', timestamp: new Date(), attempts: 1, body: { deployment: DEPLOYMENT, syncId: 'old' } },
      { id: 'bad', timestamp: new Date(), attempts: 1, body: { deployment: DEPLOYMENT } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, bindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['stale']);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['bad']);
    expect(sent).toEqual([]);
    expect(await contactCount()).toBe(0);
  });
});
