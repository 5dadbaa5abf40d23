// Revoked dashboard sessions: a signed-out session id stays refused until its cookie would expire.
import { eq } from 'drizzle-orm';
import type { Db } from '../client.js';
import { revokedSessions } from '../schema.js';

/** Revokes a session id (idempotent). */
export async function revokeSessionId(db: Db, sid: string, expiresAt: number): Promise<void> {
  await db.insert(revokedSessions).values({ sid, expiresAt }).onConflictDoNothing();
}

export async function isSessionRevoked(db: Db, sid: string): Promise<boolean> {
  return !!(await db.select().from(revokedSessions).where(eq(revokedSessions.sid, sid)).get());
}
