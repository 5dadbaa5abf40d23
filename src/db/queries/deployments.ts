import { eq, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { deployments } from '../schema.js';

export type DeploymentRow = typeof deployments.$inferSelect;

export function findDeployment(db: Db, id: string) {
  return db.select().from(deployments).where(eq(deployments.id, id)).get();
}

export function listDeployments(db: Db) {
  return db.select().from(deployments).orderBy(deployments.id).all();
}

export function findDeploymentByBase(db: Db, base: number) {
  return db.select().from(deployments).where(eq(deployments.tokenBase, base)).get();
}

/** The smallest base number no deployment uses yet. */
export async function nextFreeTokenBase(db: Db): Promise<number> {
  const rows = await db.select({ base: deployments.tokenBase }).from(deployments).all();
  const used = new Set(rows.map((r) => r.base));
  let base = 0;
  while (used.has(base)) base++;
  return base;
}

export function upsertDeployment(db: Db, row: typeof deployments.$inferInsert) {
  const { id: _id, createdAt: _c, ...update } = row;
  return db
    .insert(deployments)
    .values(row)
    .onConflictDoUpdate({ target: deployments.id, set: { ...update, updatedAt: sql`${Date.now()}` } })
    .returning()
    .get();
}
