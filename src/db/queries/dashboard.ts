// Read-only aggregates the dashboard shows beside what the API already returns.
import { and, count, eq, inArray, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';
import { activities, mailboxes, records, suppressions } from '../schema.js';

const where = (conds: (SQL | undefined)[]) => {
  const list = conds.filter((c): c is SQL => c !== undefined);
  return list.length ? and(...list) : undefined;
};

/** Records per deployment and type. */
export async function recordCounts(db: Db, deployment?: string) {
  const rows = await db
    .select({ deployment: records.deployment, type: records.type, n: count() })
    .from(records)
    .where(where([deployment ? eq(records.deployment, deployment) : undefined]))
    .groupBy(records.deployment, records.type)
    .all();
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const m = out.get(r.deployment) ?? {};
    m[r.type] = r.n;
    out.set(r.deployment, m);
  }
  return out;
}

/** Rows per value of `key` in `table`, only the deployment's when one is given. */
async function countBy(
  db: Db,
  table: SQLiteTable,
  key: SQLiteColumn,
  deploymentColumn: SQLiteColumn,
  deployment?: string,
): Promise<Map<string, number>> {
  const rows = await db
    .select({ key, n: count() })
    .from(table)
    .where(deployment ? eq(deploymentColumn, deployment) : undefined)
    .groupBy(key)
    .all();
  return new Map(rows.map((r) => [r.key as string, r.n]));
}

export function mailboxCountsByRegion(db: Db, deployment?: string) {
  return countBy(db, mailboxes, mailboxes.region, mailboxes.deployment, deployment);
}

export function mailboxCountsByDeployment(db: Db, deployment?: string) {
  return countBy(db, mailboxes, mailboxes.deployment, mailboxes.deployment, deployment);
}

export function suppressionCounts(db: Db, deployment?: string) {
  return countBy(db, suppressions, suppressions.deployment, suppressions.deployment, deployment);
}

export function activityCounts(db: Db, deployment?: string) {
  return countBy(db, activities, activities.deployment, activities.deployment, deployment);
}

/** Display names of CRM records, keyed `type\0id`, for the parties of one activity. */
export async function recordNames(db: Db, deployment: string, refs: { type: string; id: string }[]) {
  const ids = [...new Set(refs.map((r) => r.id))].slice(0, 90);
  const out = new Map<string, string | null>();
  if (!ids.length) return out;
  const rows = await db
    .select({ type: records.type, id: records.id, name: records.name })
    .from(records)
    .where(and(eq(records.deployment, deployment), inArray(records.id, ids)))
    .all();
  for (const r of rows) out.set(`${r.type}\0${r.id}`, r.name);
  return out;
}

/** The region each of these mailboxes is routed to now (for "seen by"). */
export async function mailboxRegions(db: Db, addresses: string[]) {
  const list = [...new Set(addresses)].slice(0, 90);
  if (!list.length) return new Map<string, string>();
  const rows = await db
    .select({ address: mailboxes.address, region: mailboxes.region })
    .from(mailboxes)
    .where(inArray(mailboxes.address, list))
    .all();
  return new Map(rows.map((r) => [r.address, r.region]));
}
