import { and, eq, gt, like, type SQL } from 'drizzle-orm';
import type { Db } from '../client.js';
import { mailboxes } from '../schema.js';

export function findMailbox(db: Db, address: string) {
  return db.select().from(mailboxes).where(eq(mailboxes.address, address)).get();
}

export function listMailboxes(
  db: Db,
  q: {
    region?: string;
    deployment?: string;
    userId?: string;
    search?: string;
    limit?: number;
    after?: string;
  },
) {
  const where: SQL[] = [];
  if (q.userId !== undefined) where.push(eq(mailboxes.userId, q.userId));
  if (q.after) where.push(gt(mailboxes.address, q.after));
  if (q.region) where.push(eq(mailboxes.region, q.region));
  if (q.deployment) where.push(eq(mailboxes.deployment, q.deployment));
  if (q.search) where.push(like(mailboxes.address, `%${q.search.toLowerCase()}%`));
  return db
    .select()
    .from(mailboxes)
    .where(where.length ? and(...where) : undefined)
    .orderBy(mailboxes.address)
    .limit(q.limit ?? 1000)
    .all();
}

export function upsertMailbox(db: Db, row: typeof mailboxes.$inferInsert) {
  const { address: _a, createdAt: _c, ...update } = row;
  return db
    .insert(mailboxes)
    .values(row)
    .onConflictDoUpdate({ target: mailboxes.address, set: { ...update, updatedAt: Date.now() } })
    .returning()
    .get();
}

export function deleteMailbox(db: Db, address: string) {
  return db.delete(mailboxes).where(eq(mailboxes.address, address));
}

/** Regions whose snapshot carries this deployment (those with at least one of its mailboxes). */
export async function regionsOfDeployment(db: Db, deployment: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ region: mailboxes.region })
    .from(mailboxes)
    .where(eq(mailboxes.deployment, deployment))
    .all();
  return rows.map((r) => r.region);
}
