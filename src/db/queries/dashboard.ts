// Read-only aggregates the dashboard shows beside what the API already returns.
import { and, count, eq, gt, inArray, like, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';
import { mailboxes, records, rowCounts, suppressions } from '../schema.js';

const where = (conds: (SQL | undefined)[]) => {
  const list = conds.filter((c): c is SQL => c !== undefined);
  return list.length ? and(...list) : undefined;
};

/** Records per deployment and type (the trigger-kept `row_counts`: no scan of the records). */
export async function recordCounts(db: Db, deployment?: string) {
  const rows = await db
    .select({ deployment: rowCounts.deployment, kind: rowCounts.kind, n: rowCounts.n })
    .from(rowCounts)
    .where(
      where([
        deployment ? eq(rowCounts.deployment, deployment) : undefined,
        like(rowCounts.kind, 'record:%'),
      ]),
    )
    .all();
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    if (r.n === 0) continue;
    const m = out.get(r.deployment) ?? {};
    m[r.kind.slice('record:'.length)] = r.n;
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

/** Activities per deployment (the trigger-kept `row_counts`). */
export async function activityCounts(db: Db, deployment?: string) {
  const filter = where([
    deployment ? eq(rowCounts.deployment, deployment) : undefined,
    eq(rowCounts.kind, 'activity'),
    gt(rowCounts.n, 0),
  ]);
  const rows = await db
    .select({ key: rowCounts.deployment, n: rowCounts.n })
    .from(rowCounts)
    .where(filter)
    .all();
  return new Map(rows.map((r) => [r.key, r.n]));
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
