// src/db/queries/ingest.ts against a migrated D1: the lookups ingestion re-checks and resolves
// parties with, and the statements of its one-transaction batch.
import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import * as Ingest from '../../src/db/queries/ingest.js';
import { runBatch } from '../../src/db/queries/statements.js';
import {
  activities,
  dispositions,
  edgeCounters,
  latencySamples,
  outbound,
  recordEmails,
} from '../../src/db/schema.js';
import { activityRow, ids, insertActivities, dbTest as test } from './fixtures.js';

/** Runs lookup queries (chunks of one lookup) and concatenates their rows. */
const rowsOf = async <R>(queries: PromiseLike<R[]>[]): Promise<R[]> => (await Promise.all(queries)).flat();
const inDeployment = (deployment: string, keys: string[]) =>
  keys.map((key): Ingest.ScopedKey => [deployment, key]);

describe('ingest queries', () => {
  test('recordMatchQueries find every record of an address, only in the deployment asked with it, past 100 addresses', async ({
    db,
  }) => {
    const many = ids('a', 250).map((x) => `${x}@contoso.test`);
    for (let i = 0; i < many.length; i += 20)
      await db.insert(recordEmails).values(
        many.slice(i, i + 20).map((address, j) => ({
          deployment: 'contoso',
          address,
          type: 'contact',
          recordId: `c${i + j}`,
        })),
      );
    await db.insert(recordEmails).values([
      {
        deployment: 'contoso',
        address: 'a0@contoso.test',
        type: 'lead',
        recordId: 'l0',
        emailEnabled: false,
      },
      { deployment: 'fabrikam', address: 'a1@contoso.test', type: 'contact', recordId: 'f1' },
    ]);
    const rows = await rowsOf(
      Ingest.recordMatchQueries(db, inDeployment('contoso', [...many, 'nobody@contoso.test'])),
    );
    expect(rows).toHaveLength(251);
    expect(
      rows
        .filter((r) => r.address === 'a0@contoso.test')
        .map((r) => [r.type, r.emailEnabled])
        .sort(),
    ).toEqual([
      ['contact', true],
      ['lead', false],
    ]);
    expect(rows.find((r) => r.address === 'a1@contoso.test')?.recordId).toBe('c1');
    expect(await rowsOf(Ingest.recordMatchQueries(db, inDeployment('fabrikam', many)))).toEqual([
      {
        deployment: 'fabrikam',
        address: 'a1@contoso.test',
        type: 'contact',
        recordId: 'f1',
        emailEnabled: true,
      },
    ]);
    // Pairs of several deployments in one query: each address is matched in its own deployment only.
    const mixed = await rowsOf(
      Ingest.recordMatchQueries(db, [
        ['fabrikam', 'a1@contoso.test'],
        ['contoso', 'a2@contoso.test'],
        ['fabrikam', 'a2@contoso.test'],
      ]),
    );
    expect(mixed.map((r) => [r.deployment, r.address, r.recordId]).sort()).toEqual([
      ['contoso', 'a2@contoso.test', 'c2'],
      ['fabrikam', 'a1@contoso.test', 'f1'],
    ]);
  });

  test('outbound lookups: by Message-ID exactly, by tracking token case-insensitively, scoped by deployment', async ({
    db,
  }) => {
    await db.insert(outbound).values([
      {
        deployment: 'contoso',
        messageId: '<m1@crm>',
        userId: 'u1',
        trackingToken: 'CRM:0001',
        regardingType: 'account',
        regardingId: 'A1',
      },
      { deployment: 'contoso', messageId: '<m2@crm>', userId: 'u1', trackingToken: 'CRM:0002' },
      {
        deployment: 'fabrikam',
        messageId: '<m3@crm>',
        userId: 'u2',
        trackingToken: 'CRM:0001',
        regardingType: 'lead',
        regardingId: 'L3',
      },
    ]);
    const byId = await rowsOf(
      Ingest.outboundByMessageIdQueries(
        db,
        inDeployment('contoso', ['<m1@crm>', '<m3@crm>', ...ids('<x', 120)]),
      ),
    );
    expect(byId).toEqual([
      { deployment: 'contoso', messageId: '<m1@crm>', regardingType: 'account', regardingId: 'A1' },
    ]);
    const tokens = (keys: Ingest.ScopedKey[]) => rowsOf(Ingest.outboundByTrackingTokenQueries(db, keys));
    expect(await tokens(inDeployment('contoso', ['crm:0001']))).toEqual([
      { deployment: 'contoso', token: 'CRM:0001', regardingType: 'account', regardingId: 'A1' },
    ]);
    expect(await tokens(inDeployment('fabrikam', ['crm:0001', 'crm:0002']))).toEqual([
      { deployment: 'fabrikam', token: 'CRM:0001', regardingType: 'lead', regardingId: 'L3' },
    ]);
  });

  test('activityFingerprintQueries answer per dedupe key in its deployment, past 100 keys', async ({
    db,
  }) => {
    await insertActivities(db, [
      activityRow({ id: 'x1', dedupeKey: '<k1>', fingerprint: 'f1' }),
      activityRow({ id: 'x2', dedupeKey: '<k2>', fingerprint: null }),
      activityRow({ id: 'x3', dedupeKey: '<k1>', deployment: 'fabrikam', fingerprint: 'other' }),
    ]);
    const rows = await rowsOf(
      Ingest.activityFingerprintQueries(db, inDeployment('contoso', [...ids('<n', 150), '<k1>', '<k2>'])),
    );
    expect(rows.sort((a, b) => a.dedupeKey.localeCompare(b.dedupeKey))).toEqual([
      { deployment: 'contoso', dedupeKey: '<k1>', fingerprint: 'f1' },
      { deployment: 'contoso', dedupeKey: '<k2>', fingerprint: null },
    ]);
  });

  test('activityUpsertStatements inserts, then merges a copy into the same row (unions, first id kept)', async ({
    db,
  }) => {
    const upsert = async (row: Ingest.ActivityInsert) =>
      Ingest.landedIds(await runBatch(db, Ingest.activityUpsertStatements(db, [row])));
    const first = activityRow({ id: 'new-1', dedupeKey: '<same>', mailboxes: ['a@x'], regions: ['us'] });
    expect(await upsert(first)).toEqual(['new-1']);
    const changeSeq = async () => (await db.select().from(activities).all())[0]!.changeSeq;
    const inserted = await changeSeq();
    const copy = activityRow({
      id: 'new-2',
      dedupeKey: '<same>',
      mailboxes: ['b@x', 'a@x'],
      regions: ['eu'],
      parties: [{ role: 'to', address: 'b@x' }],
      updatedAt: 2_000,
    });
    expect(await upsert(copy)).toEqual(['new-1']);
    // The merge moved the activity to the newest position of the changes feed.
    expect(await changeSeq()).toBeGreaterThan(inserted);
    const other = activityRow({ id: 'new-3', dedupeKey: '<same>', deployment: 'fabrikam' });
    expect(await upsert(other)).toEqual(['new-3']);
    const rows = await db.select().from(activities).orderBy(activities.seq).all();
    expect(rows.map((r) => r.id)).toEqual(['new-1', 'new-3']);
    const row = rows[0]!;
    expect([...row.mailboxes].sort()).toEqual(['a@x', 'b@x']);
    expect([...row.regions].sort()).toEqual(['eu', 'us']);
    expect(row.parties).toEqual([{ role: 'to', address: 'b@x' }]);
    expect(row.updatedAt).toBe(2_000);
    expect(row.merged).toBe(true);
    expect(rows[1]!.seq).toBeGreaterThan(row.seq);
  });

  test('activityUpsertStatements: 300 rows of one batch, copies of one message among them, land in order with distinct positions', async ({
    db,
  }) => {
    await insertActivities(db, [activityRow({ id: 'old', dedupeKey: '<k7>' })]);
    const rows = ids('n', 300).map((id, i) =>
      activityRow({
        id,
        dedupeKey: `<k${i % 150}>`,
        content: i === 3 ? null : [{ region: 'us', raw: null }],
        // Two rows above the statement's JSON budget: the rows go in more than one statement.
        bodyText: i % 150 === 0 ? 'x'.repeat(Ingest.ACTIVITY_JSON_BYTES / 2) : null,
      }),
    );
    const statements = Ingest.activityUpsertStatements(db, rows);
    expect(statements.length).toBeGreaterThan(1);
    const landed = Ingest.landedIds(await runBatch(db, statements));
    // Row i and row i + 150 are one message: the later copy lands in the first's activity; <k7> was stored before.
    expect(landed).toEqual(rows.map((_, i) => (i % 150 === 7 ? 'old' : rows[i % 150]!.id)));
    const stored = await db.select().from(activities).all();
    expect(stored).toHaveLength(150);
    expect(new Set(stored.map((r) => r.seq)).size).toBe(150);
    expect(new Set(stored.map((r) => r.changeSeq)).size).toBe(150);
    expect(stored.find((r) => r.id === 'n3')?.content).toEqual([{ region: 'us', raw: null }]);
    expect(stored.find((r) => r.id === 'n4')?.bodyText).toBeNull();
    // Every copy moved its activity: the last copies (rows 150–299) hold the newest positions, in order.
    const byPosition = [...stored].sort((a, b) => a.changeSeq - b.changeSeq).map((r) => r.id);
    expect(byPosition).toEqual(rows.slice(0, 150).map((r, i) => (i === 7 ? 'old' : r.id)));
    expect(stored.every((r) => r.merged)).toBe(true);
  });

  test('dispositions: 30 receipts (300 values) in chunked INSERTs, idempotent on the receipt id', async ({
    db,
  }) => {
    const rows = ids('r', 30).map((id, i) => ({
      id,
      region: 'us',
      reason: 'no-route',
      deployment: 'contoso',
      sizeBytes: i,
      at: i,
    }));
    const statements = Ingest.dispositionInsertStatements(db, rows);
    expect(statements.length).toBeGreaterThan(1);
    await runBatch(db, statements);
    await runBatch(db, Ingest.dispositionInsertStatements(db, [{ ...rows[0]!, reason: 'changed' }]));
    const stored = await db.select().from(dispositions).all();
    expect(stored).toHaveLength(30);
    expect(stored.find((d) => d.id === 'r0')?.reason).toBe('no-route');
  });

  test('latency samples: 45 rows land whole', async ({ db }) => {
    await runBatch(
      db,
      Ingest.latencySampleStatements(
        db,
        ids('', 45).map((_, i) => ({ region: 'us', deployment: 'contoso', at: i, ms: i })),
      ),
    );
    expect(await db.select().from(latencySamples).all()).toHaveLength(45);
  });

  test('edge counters add up per region and minute, tossed reasons summed by key', async ({ db }) => {
    const zero = { received: 0, receivedBytes: 0, crmBound: 0, crmBoundBytes: 0, bytesSent: 0 };
    await runBatch(
      db,
      Ingest.edgeCounterStatements(db, [
        { ...zero, region: 'us', minute: 7, received: 2, receivedBytes: 20, tossed: { 'no-route': 1 } },
        { ...zero, region: 'eu', minute: 7, received: 1, tossed: {} },
      ]),
    );
    await runBatch(
      db,
      Ingest.edgeCounterStatements(db, [
        {
          ...zero,
          region: 'us',
          minute: 7,
          received: 3,
          crmBound: 1,
          bytesSent: 9,
          tossed: { 'no-route': 2, loop: 1 },
        },
      ]),
    );
    const us = await db.select().from(edgeCounters).all();
    const row = us.find((r) => r.region === 'us')!;
    expect([row.received, row.receivedBytes, row.crmBound, row.bytesSent]).toEqual([5, 20, 1, 9]);
    expect(row.tossed).toEqual({ 'no-route': 3, loop: 1 });
    expect(us.find((r) => r.region === 'eu')?.received).toBe(1);
  });

  test('a batch id claims once: a second claim fails its whole transaction, which stores nothing', async ({
    db,
  }) => {
    const row = { id: 'batch-1', region: 'us', receivedAt: 1, items: 3 };
    const withRow = (claim: typeof row, id: string) =>
      runBatch(db, [
        Ingest.batchIdClaimStatement(db, claim),
        ...Ingest.activityUpsertStatements(db, [activityRow({ id, dedupeKey: `<${id}>` })]),
      ]);
    await withRow(row, 'x1');
    const replay = await withRow({ ...row, region: 'eu' }, 'x2').catch((err: unknown) => err);
    expect(Ingest.isBatchIdTaken(replay)).toBe(true);
    expect(Ingest.isBatchIdTaken(new Error('UNIQUE constraint failed: activities.id'))).toBe(false);
    await withRow({ ...row, id: 'batch-2' }, 'x3');
    const stored = await db.select({ id: activities.id }).from(activities).all();
    expect(stored.map((r) => r.id).sort()).toEqual(['x1', 'x3']);
  });

  test('the full-text index merges its segments 8 at a time, not 4 (migration 0012)', async ({ db }) => {
    const row = await db.get<{ v: number }>(sql`select v from activities_fts_config where k = 'automerge'`);
    expect(row?.v).toBe(8);
  });
});
