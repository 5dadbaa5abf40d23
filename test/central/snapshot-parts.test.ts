// Snapshot parts (issue 13): built per deployment, kept in R2, partial rebuilds of dirty shards,
// the debounce, and the assembled region snapshot.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { buildDeploymentPart, type PublisherContext } from '../../src/central/snapshot/snapshot-publisher.js';
import { createDb } from '../../src/db/client.js';
import { api, edgeSnapshot, freshBasics, snapshotHasRecord } from './helpers.js';

const R = '/api/v1/deployments/contoso/records';
const addr = (i: number) => `person${i}@corp${i % 7}.example`;

async function put(from: number, to: number) {
  for (let s = from; s < to; s += 2000) {
    const records = [];
    for (let i = s; i < Math.min(to, s + 2000); i++)
      records.push({ type: 'contact', id: `c-${i}`, emails: [addr(i)] });
    const res = await api('POST', R, { body: { records } });
    if (res.status !== 200) throw new Error(res.text);
  }
}

function ctx(over: Partial<PublisherContext> = {}): PublisherContext {
  return {
    db: createDb(env.DB),
    bucket: env.SNAPSHOTS,
    tuning: { quietMs: 0, maxStaleMs: 0 },
    forwarding: { edgeKeySecret: 'test-edge-secret', edgeMailDomain: 'crm-router.example' },
    shardTargetKeys: 500,
    ...over,
  };
}

describe('deployment parts', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
  });

  test('a large deployment is split into shards; a one-record change rebuilds one shard; no false negatives', async () => {
    await put(0, 6000);
    const first = await buildDeploymentPart(ctx(), 'contoso');
    expect(first).toMatchObject({ shardBits: 4, rebuiltShards: 16, records: 6000 });
    await put(6000, 6001);
    const second = await buildDeploymentPart(ctx(), 'contoso');
    expect(second).toMatchObject({ shardBits: 4, rebuiltShards: 1 });
    await api('DELETE', `${R}/contact/c-17`);
    expect(await buildDeploymentPart(ctx(), 'contoso')).toMatchObject({ rebuiltShards: 1 });
    const s = await edgeSnapshot('eu');
    const missing = [];
    for (let i = 0; i <= 6000; i++)
      if (i !== 17 && !snapshotHasRecord(s, 'contoso', addr(i))) missing.push(i);
    expect(missing).toEqual([]);
    expect(snapshotHasRecord(s, 'contoso', addr(17))).toBe(false);
    // Nothing dirty is left, so there is nothing to build.
    expect(await buildDeploymentPart(ctx(), 'contoso')).toBeUndefined();
  });

  test('a deployment that outgrows its shards is re-sharded', async () => {
    await put(0, 400);
    expect(await buildDeploymentPart(ctx(), 'contoso')).toMatchObject({ shardBits: 0 });
    await put(400, 2200);
    expect(await buildDeploymentPart(ctx(), 'contoso')).toMatchObject({ shardBits: 3, records: 2200 });
  });

  test('the debounce waits for a quiet period, or for the part to be too stale', async () => {
    await put(0, 10);
    let now = 1_000_000;
    const tuning = { quietMs: 3000, maxStaleMs: 20_000 };
    await env.DB.prepare('update snapshot_parts set changed_at = ?').bind(now).run();
    // Never built: builds at once.
    expect(await buildDeploymentPart(ctx({ tuning, now: () => now }), 'contoso')).toBeDefined();
    // A change 1 s ago: not yet; 3 s after it: yes.
    await put(10, 11);
    await env.DB.prepare('update snapshot_parts set changed_at = ?')
      .bind(now + 1000)
      .run();
    now += 2000;
    expect(await buildDeploymentPart(ctx({ tuning, now: () => now }), 'contoso')).toBeUndefined();
    now += 2000;
    expect(await buildDeploymentPart(ctx({ tuning, now: () => now }), 'contoso')).toBeDefined();
    // A continuous import (a change every second) is built once per maxStaleMs.
    let builds = 0;
    for (let t = 0; t < 60; t++) {
      now += 1000;
      await put(100 + t, 101 + t);
      await env.DB.prepare('update snapshot_parts set changed_at = ?').bind(now).run();
      if (await buildDeploymentPart(ctx({ tuning, now: () => now }), 'contoso')) builds++;
    }
    expect(builds).toBe(3);
  });

  test('parts live in R2: the region snapshot is assembled from them, replaced parts are deleted', async () => {
    // R2 keeps what earlier tests of this file wrote (only D1 is reset): compare before and after.
    const keys = async (prefix: string) => (await env.SNAPSHOTS.list({ prefix })).objects.map((o) => o.key);
    await put(0, 100);
    await edgeSnapshot('eu');
    const parts1 = (await keys('parts/contoso/')).filter((k) => k.includes('/part-'));
    const regions1 = await keys('regions/eu/');
    await put(100, 101);
    await edgeSnapshot('eu');
    const parts2 = (await keys('parts/contoso/')).filter((k) => k.includes('/part-'));
    const regions2 = await keys('regions/eu/');
    const newest = parts2.filter((k) => !parts1.includes(k));
    expect(newest).toHaveLength(1);
    expect(parts2.length).toBe(parts1.length);
    expect(regions2.length).toBe(regions1.length);
    expect(regions2.filter((k) => !regions1.includes(k))).toHaveLength(1);
  });
});
