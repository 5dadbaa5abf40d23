import { eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { deployments } from '../schema.js';
import { queryInChunks } from './statements.js';

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

/** Which of `ids` are existing deployments. */
export async function existingDeploymentIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const rows = await queryInChunks(ids, (part) =>
    db.select({ id: deployments.id }).from(deployments).where(inArray(deployments.id, part)).all(),
  );
  return new Set(rows.map((r) => r.id));
}

/** Every deployment id. */
export async function allDeploymentIds(db: Db): Promise<Set<string>> {
  const rows = await db.select({ id: deployments.id }).from(deployments).all();
  return new Set(rows.map((r) => r.id));
}

/** Deployments with a retention period, and its days. */
export function deploymentsWithRetention(db: Db) {
  return db
    .select({ id: deployments.id, days: deployments.retentionDays })
    .from(deployments)
    .where(isNotNull(deployments.retentionDays))
    .all() as Promise<{ id: string; days: number }[]>;
}

/** Issues the next forwarding-address generation (rotation); the row after it, if the deployment exists. */
export function bumpForwardingGeneration(db: Db, id: string, now: number) {
  return db
    .update(deployments)
    .set({
      forwardingGeneration: sql`${deployments.forwardingGeneration} + 1`,
      forwardingRotatedAt: now,
      updatedAt: now,
    })
    .where(eq(deployments.id, id))
    .returning()
    .get();
}

/** Issues the next webhook-secret generation; the row after it, if the deployment exists. */
export function bumpWebhookSecretGeneration(db: Db, id: string, now: number) {
  return db
    .update(deployments)
    .set({ webhookSecretGeneration: sql`${deployments.webhookSecretGeneration} + 1`, updatedAt: now })
    .where(eq(deployments.id, id))
    .returning()
    .get();
}
