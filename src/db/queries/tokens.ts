import { asc, eq } from 'drizzle-orm';
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
