import { and, asc, eq, isNull, like, lt, or } from 'drizzle-orm';
import type { Db } from '../client.js';
import { apiTokens } from '../schema.js';

export function insertToken(db: Db, row: { id: string; hash: string; scope: string; label: string | null }) {
  return db.insert(apiTokens).values(row).returning().get();
}

export function listTokens(db: Db) {
  return db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id)).all();
}

export function findToken(db: Db, id: string) {
  return db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
}

export function revokeToken(db: Db, id: string, at: number) {
  return db.update(apiTokens).set({ revokedAt: at }).where(eq(apiTokens.id, id)).returning().get();
}

/** The unrevoked tokens whose scope starts with `prefix` (the relay tokens a snapshot carries). */
export function listActiveTokensByScopePrefix(db: Db, prefix: string) {
  return db
    .select({ id: apiTokens.id, hash: apiTokens.hash, scope: apiTokens.scope })
    .from(apiTokens)
    .where(and(like(apiTokens.scope, `${prefix}%`), isNull(apiTokens.revokedAt)))
    .orderBy(asc(apiTokens.id))
    .all();
}

/** The unrevoked token with this hash (its id, scope and when it was last used). */
export function findActiveTokenByHash(db: Db, hash: string) {
  return db
    .select({ id: apiTokens.id, scope: apiTokens.scope, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(and(eq(apiTokens.hash, hash), isNull(apiTokens.revokedAt)))
    .get();
}

/** Sets `lastUsedAt` to `now` unless it was written within the last `resolutionMs`. */
export async function touchTokenLastUsed(
  db: Db,
  id: string,
  now: number,
  resolutionMs: number,
): Promise<void> {
  await db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiTokens.id, id),
        or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, now - resolutionMs)),
      ),
    );
}
