// src/db/queries/dead-letters.ts against a migrated D1.
import { describe, expect } from 'vitest';
import * as DeadLetters from '../../src/db/queries/dead-letters.js';
import { runBatch } from '../../src/db/queries/statements.js';
import { ids, dbTest as test } from './fixtures.js';

describe('dead-letter queries', () => {
  test('50 dead letters (350 values) are stored in chunks, once however often reported', async ({ db }) => {
    const rows = ids('dl', 50).map((id, i) => ({
      id,
      region: i % 2 ? 'us' : 'eu',
      deployment: i % 3 ? 'contoso' : null,
      item: { i },
      error: 'boom',
      attempts: 3,
      createdAt: i,
    }));
    await runBatch(db, DeadLetters.deadLetterInsertStatements(db, rows));
    await runBatch(
      db,
      DeadLetters.deadLetterInsertStatements(
        db,
        rows.slice(0, 20).map((r) => ({ ...r, error: 'again' })),
      ),
    );
    const all = await DeadLetters.listDeadLetters(db, { limit: 100 });
    expect(all).toHaveLength(50);
    expect(all.every((d) => d.error === 'boom')).toBe(true);
  });

  test('the listing is newest first, filtered by deployment, region and pending, and limited', async ({
    db,
  }) => {
    await runBatch(
      db,
      DeadLetters.deadLetterInsertStatements(db, [
        { id: 'old', region: 'us', deployment: 'contoso', item: {}, error: 'e', createdAt: 1 },
        { id: 'mid', region: 'eu', deployment: 'contoso', item: {}, error: 'e', createdAt: 2 },
        { id: 'new', region: 'us', deployment: 'fabrikam', item: {}, error: 'e', createdAt: 3 },
      ]),
    );
    await DeadLetters.recordDeadLetterReplay(db, 'old', {
      replayedAt: 10,
      replayResult: 'accepted as x',
      attempts: 2,
    });
    const list = async (q: Parameters<typeof DeadLetters.listDeadLetters>[1]) =>
      (await DeadLetters.listDeadLetters(db, q)).map((d) => d.id);
    expect(await list({ limit: 10 })).toEqual(['new', 'mid', 'old']);
    expect(await list({ deployment: 'contoso', limit: 10 })).toEqual(['mid', 'old']);
    expect(await list({ region: 'us', limit: 10 })).toEqual(['new', 'old']);
    expect(await list({ pending: true, limit: 10 })).toEqual(['new', 'mid']);
    expect(await list({ deployment: 'contoso', pending: true, limit: 10 })).toEqual(['mid']);
    expect(await list({ limit: 2 })).toEqual(['new', 'mid']);
  });

  test('recordDeadLetterReplay stores the result; a failed replay leaves it pending', async ({ db }) => {
    await runBatch(
      db,
      DeadLetters.deadLetterInsertStatements(db, [
        { id: 'd', region: 'us', item: {}, error: 'e', createdAt: 1 },
      ]),
    );
    await DeadLetters.recordDeadLetterReplay(db, 'd', {
      replayedAt: null,
      replayResult: 'rejected: still bad',
      attempts: 2,
    });
    const row = await DeadLetters.findDeadLetter(db, 'd');
    expect([row?.replayedAt, row?.replayResult, row?.attempts]).toEqual([null, 'rejected: still bad', 2]);
    expect((await DeadLetters.listDeadLetters(db, { pending: true, limit: 10 })).map((d) => d.id)).toEqual([
      'd',
    ]);
    expect(await DeadLetters.findDeadLetter(db, 'missing')).toBeUndefined();
  });
});
