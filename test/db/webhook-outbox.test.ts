// src/db/queries/webhook-outbox.ts against a migrated D1: the outbox row written with the activity,
// the lease that keeps the queue and the cron from delivering one row twice, and the listings.
import { describe, expect } from 'vitest';
import { runBatch } from '../../src/db/queries/statements.js';
import * as Outbox from '../../src/db/queries/webhook-outbox.js';
import { webhookOutbox } from '../../src/db/schema.js';
import { activityRow, insertActivities, dbTest as test } from './fixtures.js';

type OutboxInsert = typeof webhookOutbox.$inferInsert;
const outboxRow = (over: Partial<OutboxInsert> & { id: string }): OutboxInsert => ({
  activityId: 'a1',
  deployment: 'contoso',
  event: 'activity.accepted',
  nextAttemptAt: 100,
  createdAt: 100,
  updatedAt: 100,
  ...over,
});

describe('webhook outbox queries', () => {
  test('the outbox statement writes a row only where the deployment has a webhook URL, naming accepted or merged', async ({
    db,
  }) => {
    await insertActivities(db, [
      activityRow({ id: 'c1', dedupeKey: '<c1>' }),
      activityRow({ id: 'f1', dedupeKey: '<f1>', deployment: 'fabrikam' }),
    ]);
    const written = await runBatch(
      db,
      Outbox.webhookOutboxStatements(
        db,
        [
          { id: 'o1', deployment: 'contoso', dedupeKey: '<c1>', newActivityId: 'c1' },
          // A copy that merged into c1: its new id was never stored.
          { id: 'o2', deployment: 'contoso', dedupeKey: '<c1>', newActivityId: 'gone' },
          { id: 'o3', deployment: 'fabrikam', dedupeKey: '<f1>', newActivityId: 'f1' },
          // The same dedupe key in another deployment is not this activity.
          { id: 'o4', deployment: 'contoso', dedupeKey: '<f1>', newActivityId: 'f1' },
        ],
        5,
      ),
    );
    // The ids written are what the webhook queue is kicked with.
    expect(written.flat()).toEqual([{ id: 'o1' }, { id: 'o2' }]);
    const rows = await db.select().from(webhookOutbox).orderBy(webhookOutbox.id).all();
    expect(rows.map((r) => [r.id, r.activityId, r.event, r.state, r.attempts, r.nextAttemptAt])).toEqual([
      ['o1', 'c1', 'activity.accepted', 'pending', 0, 5],
      ['o2', 'c1', 'activity.merged', 'pending', 0, 5],
    ]);
  });

  test('a due row is claimed once: a second claim inside the lease gets nothing, after it the row is claimable', async ({
    db,
  }) => {
    await db
      .insert(webhookOutbox)
      .values([outboxRow({ id: 'o1' }), outboxRow({ id: 'later', nextAttemptAt: 10_000 })]);
    expect((await Outbox.claimOutboxRow(db, 'o1', 1_000, 60_000))?.id).toBe('o1');
    expect(await Outbox.claimOutboxRow(db, 'o1', 2_000, 60_000)).toBeUndefined();
    expect(await Outbox.claimOutboxRow(db, 'later', 1_000, 60_000)).toBeUndefined();
    expect((await Outbox.claimOutboxRow(db, 'o1', 61_001, 60_000))?.leaseUntil).toBe(121_001);
  });

  test('dueOutboxIds: pending, due and unleased, soonest first, at most the limit', async ({ db }) => {
    await db
      .insert(webhookOutbox)
      .values([
        outboxRow({ id: 'b', nextAttemptAt: 200 }),
        outboxRow({ id: 'a', nextAttemptAt: 50 }),
        outboxRow({ id: 'c', nextAttemptAt: 300 }),
        outboxRow({ id: 'future', nextAttemptAt: 5_000 }),
        outboxRow({ id: 'leased', nextAttemptAt: 10, leaseUntil: 2_000 }),
        outboxRow({ id: 'lease-over', nextAttemptAt: 10, leaseUntil: 500 }),
        outboxRow({ id: 'failed', nextAttemptAt: 10, state: 'failed' }),
      ]);
    expect(await Outbox.dueOutboxIds(db, 1_000, 10)).toEqual(['lease-over', 'a', 'b', 'c']);
    expect(await Outbox.dueOutboxIds(db, 1_000, 2)).toEqual(['lease-over', 'a']);
  });

  test('finishOutboxRow records the outcome and frees the lease; listings and replay follow the state', async ({
    db,
  }) => {
    await db
      .insert(webhookOutbox)
      .values([
        outboxRow({ id: 'o1', activityId: 'a1', createdAt: 1 }),
        outboxRow({ id: 'o2', activityId: 'a1', createdAt: 2, deployment: 'contoso' }),
        outboxRow({ id: 'f1', activityId: 'b1', deployment: 'fabrikam' }),
      ]);
    await Outbox.claimOutboxRow(db, 'o1', 1_000, 60_000);
    await Outbox.finishOutboxRow(db, 'o1', {
      state: 'failed',
      attempts: 1,
      updatedAt: 1_500,
      lastStatus: 410,
      lastError: 'gone',
    });
    await Outbox.finishOutboxRow(db, 'o2', {
      state: 'pending',
      attempts: 2,
      updatedAt: 1_400,
      nextAttemptAt: 9_000,
      lastStatus: 503,
    });
    await Outbox.finishOutboxRow(db, 'f1', { state: 'failed', attempts: 1, updatedAt: 1_600 });
    const o1 = await Outbox.findDelivery(db, 'o1');
    expect([o1?.state, o1?.leaseUntil, o1?.lastStatus, o1?.lastError]).toEqual(['failed', null, 410, 'gone']);
    expect((await Outbox.deliveriesOfActivity(db, 'a1')).map((r) => r.id)).toEqual(['o2', 'o1']);
    // Failing: failed, or pending after a failed attempt; latest change first; scoped by deployment.
    expect((await Outbox.listFailingDeliveries(db, { limit: 10 })).map((r) => r.id)).toEqual([
      'f1',
      'o1',
      'o2',
    ]);
    expect(
      (await Outbox.listFailingDeliveries(db, { deployment: 'contoso', limit: 10 })).map((r) => r.id),
    ).toEqual(['o1', 'o2']);
    expect((await Outbox.listFailingDeliveries(db, { limit: 1 })).map((r) => r.id)).toEqual(['f1']);

    expect(await Outbox.rearmDelivery(db, 'o1', 20_000)).toBe(true);
    const again = await Outbox.findDelivery(db, 'o1');
    expect([again?.state, again?.nextAttemptAt, again?.createdAt]).toEqual(['pending', 20_000, 20_000]);
    await Outbox.finishOutboxRow(db, 'o1', {
      state: 'delivered',
      attempts: 2,
      updatedAt: 20_001,
      deliveredAt: 20_001,
    });
    expect(await Outbox.rearmDelivery(db, 'o1', 30_000)).toBe(false);
    expect(await Outbox.rearmDelivery(db, 'missing', 30_000)).toBe(false);
  });
});
