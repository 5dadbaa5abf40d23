// Token lookups, dashboard session revocation and rate-limit windows (src/db/queries/tokens.ts,
// sessions.ts, rate-limits.ts) against a migrated D1.
import { describe, expect } from 'vitest';
import { countInWindow, findRateLimit } from '../../src/db/queries/rate-limits.js';
import { isSessionRevoked, revokeSessionId } from '../../src/db/queries/sessions.js';
import * as Tokens from '../../src/db/queries/tokens.js';
import { dbTest as test } from './fixtures.js';

describe('access queries', () => {
  test('findActiveTokenByHash finds an unrevoked token by its hash only', async ({ db }) => {
    await Tokens.insertToken(db, { id: 't1', hash: 'h1', scope: 'deployment:contoso', label: null });
    await Tokens.insertToken(db, { id: 't2', hash: 'h2', scope: 'admin', label: null });
    await Tokens.revokeToken(db, 't2', 5);
    expect(await Tokens.findActiveTokenByHash(db, 'h1')).toEqual({
      id: 't1',
      scope: 'deployment:contoso',
      lastUsedAt: null,
    });
    expect(await Tokens.findActiveTokenByHash(db, 'h2')).toBeUndefined();
    expect(await Tokens.findActiveTokenByHash(db, 't1')).toBeUndefined();
  });

  test('touchTokenLastUsed writes at most once per resolution', async ({ db }) => {
    await Tokens.insertToken(db, { id: 't1', hash: 'h1', scope: 'admin', label: null });
    await Tokens.touchTokenLastUsed(db, 't1', 1_000, 60_000);
    expect((await Tokens.findToken(db, 't1'))?.lastUsedAt).toBe(1_000);
    await Tokens.touchTokenLastUsed(db, 't1', 30_000, 60_000);
    expect((await Tokens.findToken(db, 't1'))?.lastUsedAt).toBe(1_000);
    await Tokens.touchTokenLastUsed(db, 't1', 61_001, 60_000);
    expect((await Tokens.findToken(db, 't1'))?.lastUsedAt).toBe(61_001);
  });

  test('a revoked session id stays revoked; revoking twice is fine; others are not', async ({ db }) => {
    expect(await isSessionRevoked(db, 's1')).toBe(false);
    await revokeSessionId(db, 's1', 100);
    await revokeSessionId(db, 's1', 200);
    expect(await isSessionRevoked(db, 's1')).toBe(true);
    expect(await isSessionRevoked(db, 's2')).toBe(false);
  });

  test('countInWindow counts per key within a window and starts a new one when it is over', async ({
    db,
  }) => {
    await countInWindow(db, 'ip-a', 1_000, 10_000);
    await countInWindow(db, 'ip-a', 1_000, 10_500);
    await countInWindow(db, 'ip-b', 1_000, 10_500);
    expect(await findRateLimit(db, 'ip-a')).toEqual({ key: 'ip-a', windowStart: 10_000, count: 2 });
    await countInWindow(db, 'ip-a', 1_000, 11_000);
    expect(await findRateLimit(db, 'ip-a')).toEqual({ key: 'ip-a', windowStart: 11_000, count: 1 });
    expect((await findRateLimit(db, 'ip-b'))?.count).toBe(1);
    expect(await findRateLimit(db, 'ip-c')).toBeUndefined();
  });
});
