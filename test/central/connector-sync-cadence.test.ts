// The record sync's cadence at the per-minute cron (issue 20: "a one-contact change in the CRM
// reaches every edge's snapshot in ≤ 90 s"): a change in the CRM is read at the next cron tick,
// not two or three ticks later. Fixture-verified against the HubSpot fake (fakes/hubspot.ts).
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { readCentralConfig } from '../../src/central/config.js';
import { runConnectorSync, runDueSyncs, SYNC_INTERVAL_MS } from '../../src/central/connectors/sync.js';
import { createDb } from '../../src/db/client.js';
import { fakeControl } from '../support/connector-context.js';
import { connectHubspotTenant, recordIdsOf as recordIdsOfDeployment } from './helpers.js';

const DEPLOYMENT = 'contoso';
const db = () => createDb((env as unknown as { DB: D1Database }).DB);
const config = () => readCentralConfig(env as never);

/** One cron run's syncs at `now` (the tick's time), its background work awaited. */
async function cronTick(now: number) {
  const ctx = createExecutionContext();
  const results = await runDueSyncs(db(), { env: env as never, ctx }, config(), { now });
  await waitOnExecutionContext(ctx);
  return results;
}

const recordIdsOf = (address: string) => recordIdsOfDeployment(DEPLOYMENT, address);

describe('record sync at the per-minute cron (fixture-verified, HubSpot fake)', () => {
  let base: string;

  beforeEach(async () => {
    base = await connectHubspotTenant(DEPLOYMENT, inject('hubspotFake'));
  });

  /** The first full sync, run to its end as the API's sync would; the time it completed. */
  async function fullSync() {
    for (let i = 0; i < 20; i++) {
      const ctx = createExecutionContext();
      const r = await runConnectorSync(db(), { env: env as never, ctx }, config(), DEPLOYMENT);
      await waitOnExecutionContext(ctx);
      expect(r.error).toBeUndefined();
      if (r.done) return Date.now();
    }
    throw new Error('the full sync never completed');
  }

  it('an incremental run with nothing new completes within one cron run', async () => {
    await fullSync();
    const [run] = await cronTick(Date.now() + SYNC_INTERVAL_MS);
    expect(run).toMatchObject({ done: true });
    expect(run?.error).toBeUndefined();
  });

  it('a sync that completed after its tick runs again at the next tick, one interval after that tick', async () => {
    // The tick that ran the sync started before the sync completed (as every cron run does).
    const tick = Date.now();
    await fullSync();
    const [id] = (
      await fakeControl<{ contacts: string[] }>(base, 'seed', {
        contacts: [{ email: 'new@customer.example' }],
      })
    ).contacts;
    expect(await cronTick(tick + SYNC_INTERVAL_MS)).toHaveLength(1);
    expect(await recordIdsOf('new@customer.example')).toEqual([id]);
  });

  it('a connector synced moments before a tick waits for the tick after', async () => {
    const completed = await fullSync();
    expect(await cronTick(completed + 10_000)).toEqual([]);
  });
});
