// src/db/queries/retention.ts against a migrated D1: what retention may prune, and that deleting
// takes the activity's delivery rows with it.
import { describe, expect } from 'vitest';
import { schema } from '../../src/db/client.js';
import * as Retention from '../../src/db/queries/retention.js';
import { activityRow, ids, insertActivities, dbTest as test } from './fixtures.js';

const outbox = (id: string, activityId: string, state: string) => ({
  id,
  activityId,
  deployment: 'contoso',
  event: 'activity.accepted',
  state,
  nextAttemptAt: 0,
  createdAt: 0,
  updatedAt: 0,
});

describe('retention queries', () => {
  test('expiredActivities: the deployment’s oldest before the cutoff first, not while a delivery is pending', async ({
    db,
  }) => {
    await insertActivities(db, [
      activityRow({ id: 'old-2', receivedAt: 20 }),
      activityRow({ id: 'old-1', receivedAt: 10 }),
      activityRow({ id: 'old-pending', receivedAt: 5 }),
      activityRow({ id: 'old-delivered', receivedAt: 30 }),
      activityRow({ id: 'recent', receivedAt: 500 }),
      activityRow({ id: 'other', receivedAt: 1, deployment: 'fabrikam' }),
    ]);
    await db
      .insert(schema.webhookOutbox)
      .values([outbox('o1', 'old-pending', 'pending'), outbox('o2', 'old-delivered', 'delivered')]);
    const ids = async (limit: number) =>
      (await Retention.expiredActivities(db, 'contoso', 100, limit)).map((r) => r.id);
    expect(await ids(10)).toEqual(['old-1', 'old-2', 'old-delivered']);
    expect(await ids(2)).toEqual(['old-1', 'old-2']);
  });

  test('deleteActivities removes 150 activities with their outbox and delivery rows, nothing else', async ({
    db,
  }) => {
    const gone = ids('gone', 150);
    await insertActivities(
      db,
      [...gone, 'kept'].map((id) => activityRow({ id })),
    );
    await db
      .insert(schema.webhookOutbox)
      .values([outbox('o-gone', 'gone7', 'delivered'), outbox('o-kept', 'kept', 'delivered')]);
    await db.insert(schema.webhookDeliveries).values([
      { id: 'w-gone', activityId: 'gone149', deployment: 'contoso', status: 'ok', updatedAt: 0 },
      { id: 'w-kept', activityId: 'kept', deployment: 'contoso', status: 'ok', updatedAt: 0 },
    ]);
    await Retention.deleteActivities(db, gone);
    expect(
      (await db.select({ id: schema.activities.id }).from(schema.activities).all()).map((r) => r.id),
    ).toEqual(['kept']);
    expect(
      (await db.select({ id: schema.webhookOutbox.id }).from(schema.webhookOutbox).all()).map((r) => r.id),
    ).toEqual(['o-kept']);
    expect(
      (await db.select({ id: schema.webhookDeliveries.id }).from(schema.webhookDeliveries).all()).map(
        (r) => r.id,
      ),
    ).toEqual(['w-kept']);
  });

  test('expiredDispositions and deleteDispositions: oldest first, scoped, any number of ids', async ({
    db,
  }) => {
    const rows = ids('d', 120).map((id, i) => ({
      id,
      region: 'us',
      reason: 'no-route',
      deployment: 'contoso',
      at: 1_000 - i,
    }));
    for (let i = 0; i < rows.length; i += 9)
      await db.insert(schema.dispositions).values(rows.slice(i, i + 9));
    await db.insert(schema.dispositions).values([
      { id: 'late', region: 'us', reason: 'no-route', deployment: 'contoso', at: 5_000 },
      { id: 'theirs', region: 'us', reason: 'no-route', deployment: 'fabrikam', at: 1 },
    ]);
    const expired = await Retention.expiredDispositions(db, 'contoso', 2_000, 500);
    expect(expired).toHaveLength(120);
    expect(expired[0]?.id).toBe('d119');
    expect((await Retention.expiredDispositions(db, 'contoso', 2_000, 3)).map((d) => d.at)).toEqual([
      881, 882, 883,
    ]);
    await Retention.deleteDispositions(
      db,
      expired.map((d) => d.id),
    );
    expect(
      (await db.select({ id: schema.dispositions.id }).from(schema.dispositions).all())
        .map((r) => r.id)
        .sort(),
    ).toEqual(['late', 'theirs']);
  });

  test('pruneBookkeepingRows drops samples, batch ids, counted ids and counter minutes before their cutoffs only', async ({
    db,
  }) => {
    await db.insert(schema.edgeCounters).values([
      { region: 'us', minute: 9, tossed: {} },
      { region: 'us', minute: 10, tossed: {} },
    ]);
    await db.insert(schema.crossRegionCounters).values([
      { region: 'us', minute: 9, kind: 'ingest' },
      { region: 'us', minute: 10, kind: 'ingest' },
    ]);
    await db.insert(schema.latencySamples).values([
      { region: 'us', at: 99, ms: 1 },
      { region: 'us', at: 100, ms: 2 },
    ]);
    await db.insert(schema.ingestBatches).values([
      { id: 'b-old', region: 'us', receivedAt: 49 },
      { id: 'b-new', region: 'us', receivedAt: 50 },
    ]);
    await db.insert(schema.countedIds).values([
      { id: 'c-old', at: 99 },
      { id: 'c-new', at: 100 },
    ]);
    await Retention.pruneBookkeepingRows(db, {
      samplesBefore: 100,
      batchIdsBefore: 50,
      countersBeforeMinute: 10,
      countedIdsBefore: 100,
    });
    expect((await db.select().from(schema.countedIds).all()).map((r) => r.id)).toEqual(['c-new']);
    expect((await db.select().from(schema.latencySamples).all()).map((r) => r.at)).toEqual([100]);
    expect((await db.select().from(schema.ingestBatches).all()).map((r) => r.id)).toEqual(['b-new']);
    expect((await db.select().from(schema.edgeCounters).all()).map((r) => r.minute)).toEqual([10]);
    expect((await db.select().from(schema.crossRegionCounters).all()).map((r) => r.minute)).toEqual([10]);
  });
});
