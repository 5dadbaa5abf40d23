// src/db/queries/stats.ts against a migrated D1: the windows, the per-deployment scoping and the
// per-region / per-minute grouping the stats are built from.
import { describe, expect } from 'vitest';
import * as Stats from '../../src/db/queries/stats.js';
import { dispositions, edgeCounters, latencySamples } from '../../src/db/schema.js';
import { activityRow, insertActivities, dbTest as test } from './fixtures.js';

const MIN = 60_000;

describe('stats queries', () => {
  test('edgeCountersSince returns the counter rows from that minute on', async ({ db }) => {
    const zero = { received: 1, receivedBytes: 0, crmBound: 0, crmBoundBytes: 0, bytesSent: 0, tossed: {} };
    await db.insert(edgeCounters).values([
      { ...zero, region: 'us', minute: 9 },
      { ...zero, region: 'us', minute: 10 },
      { ...zero, region: 'eu', minute: 11 },
    ]);
    expect((await Stats.edgeCountersSince(db, 10)).map((r) => `${r.region}:${r.minute}`).sort()).toEqual([
      'eu:11',
      'us:10',
    ]);
  });

  test('a deployment’s activities count once per region they came through, per minute, since the window start', async ({
    db,
  }) => {
    await insertActivities(db, [
      activityRow({ id: 'a', regions: ['us', 'eu'], receivedAt: 10 * MIN + 5, sizeBytes: 100 }),
      activityRow({ id: 'b', regions: ['us'], receivedAt: 10 * MIN + 9, sizeBytes: 50 }),
      activityRow({ id: 'c', regions: ['us'], receivedAt: 12 * MIN, sizeBytes: 7 }),
      activityRow({ id: 'early', regions: ['us'], receivedAt: 9 * MIN, sizeBytes: 1 }),
      activityRow({ id: 'theirs', regions: ['us'], receivedAt: 10 * MIN, deployment: 'fabrikam' }),
    ]);
    const rows = await Stats.deploymentActivityTraffic(db, 'contoso', 10 * MIN);
    expect(rows.map((r) => [r.region, r.minute, r.n, r.bytes]).sort()).toEqual([
      ['eu', 10, 1, 100],
      ['us', 10, 2, 150],
      ['us', 12, 1, 7],
    ]);
  });

  test('a deployment’s dispositions count per region, reason and minute', async ({ db }) => {
    const d = (id: string, over: Partial<typeof dispositions.$inferInsert>) => ({
      id,
      region: 'us',
      reason: 'no-route',
      deployment: 'contoso',
      sizeBytes: 10,
      at: 5 * MIN,
      ...over,
    });
    await db
      .insert(dispositions)
      .values([
        d('1', {}),
        d('2', { at: 5 * MIN + 1 }),
        d('3', { reason: 'loop' }),
        d('4', { region: 'eu' }),
        d('5', { at: 4 * MIN }),
        d('6', { deployment: 'fabrikam' }),
        d('7', { deployment: null }),
      ]);
    const rows = await Stats.deploymentDispositionTraffic(db, 'contoso', 5 * MIN);
    expect(rows.map((r) => [r.region, r.reason, r.minute, r.n, r.bytes]).sort()).toEqual([
      ['eu', 'no-route', 5, 1, 10],
      ['us', 'loop', 5, 1, 10],
      ['us', 'no-route', 5, 2, 20],
    ]);
  });

  test('recentLatencies: newest first, since the window, limited, optionally one deployment’s', async ({
    db,
  }) => {
    await db.insert(latencySamples).values([
      { region: 'us', deployment: 'contoso', at: 1, ms: 1 },
      { region: 'us', deployment: 'contoso', at: 3, ms: 3 },
      { region: 'eu', deployment: 'fabrikam', at: 4, ms: 4 },
      { region: 'us', deployment: 'contoso', at: 2, ms: 2 },
    ]);
    expect((await Stats.recentLatencies(db, { since: 2, limit: 10 })).map((r) => r.ms)).toEqual([4, 3, 2]);
    expect((await Stats.recentLatencies(db, { since: 0, limit: 2 })).map((r) => r.ms)).toEqual([4, 3]);
    expect(
      (await Stats.recentLatencies(db, { since: 0, deployment: 'contoso', limit: 10 })).map((r) => r.ms),
    ).toEqual([3, 2, 1]);
  });
});
