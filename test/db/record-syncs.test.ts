// src/db/queries/record-syncs.ts against a migrated D1.
import { describe, expect } from 'vitest';
import * as Syncs from '../../src/db/queries/record-syncs.js';
import { dbTest as test } from './fixtures.js';

describe('record sync queries', () => {
  test('a new sync supersedes the deployment’s open one only', async ({ db }) => {
    const first = await Syncs.insertSupersedingSync(db, 'contoso', 's1', 1);
    expect([first.id, first.status, first.received]).toEqual(['s1', 'open', 0]);
    await Syncs.insertSupersedingSync(db, 'fabrikam', 'f1', 2);
    await Syncs.updateSync(db, 's1', { status: 'completing' });
    await Syncs.insertSupersedingSync(db, 'contoso', 's2', 3);
    await Syncs.insertSupersedingSync(db, 'contoso', 's3', 4);
    const status = async (deployment: string, id: string) =>
      (await Syncs.findSyncOf(db, deployment, id))?.status;
    expect(await status('contoso', 's1')).toBe('completing');
    expect(await status('contoso', 's2')).toBe('superseded');
    expect(await status('contoso', 's3')).toBe('open');
    expect(await status('fabrikam', 'f1')).toBe('open');
  });

  test('findSyncOf does not find another deployment’s sync; latestSyncId is the last started', async ({
    db,
  }) => {
    await Syncs.insertSupersedingSync(db, 'contoso', 's1', 5);
    await Syncs.insertSupersedingSync(db, 'contoso', 's2', 9);
    await Syncs.insertSupersedingSync(db, 'fabrikam', 'f1', 20);
    expect(await Syncs.findSyncOf(db, 'fabrikam', 's1')).toBeUndefined();
    expect(await Syncs.latestSyncId(db, 'contoso')).toBe('s2');
    expect(await Syncs.latestSyncId(db, 'nobody')).toBeUndefined();
  });

  test('addSyncReceived adds up; updateSync sets removal progress and completion', async ({ db }) => {
    await Syncs.insertSupersedingSync(db, 'contoso', 's1', 1);
    await Promise.all([Syncs.addSyncReceived(db, 's1', 500), Syncs.addSyncReceived(db, 's1', 250)]);
    await Syncs.updateSync(db, 's1', { status: 'completed', removed: 12, completedAt: 99 });
    const row = await Syncs.findSyncOf(db, 'contoso', 's1');
    expect([row?.received, row?.removed, row?.status, row?.completedAt]).toEqual([750, 12, 'completed', 99]);
  });
});
