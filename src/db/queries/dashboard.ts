// Read-only aggregates the dashboard shows beside what the API already returns.
import { and, count, eq, gt, inArray, like, type SQL } from 'drizzle-orm';
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

const toMap = (rows: { key: string; n: number }[]) => new Map(rows.map((r) => [r.key, r.n]));

export async function mailboxCountsByRegion(db: Db, deployment?: string) {
  const filter = where([deployment ? eq(mailboxes.deployment, deployment) : undefined]);
  return toMap(
    await db
      .select({ key: mailboxes.region, n: count() })
      .from(mailboxes)
      .where(filter)
      .groupBy(mailboxes.region)
      .all(),
  );
}

export async function mailboxCountsByDeployment(db: Db, deployment?: string) {
  const filter = where([deployment ? eq(mailboxes.deployment, deployment) : undefined]);
  return toMap(
    await db
      .select({ key: mailboxes.deployment, n: count() })
      .from(mailboxes)
      .where(filter)
      .groupBy(mailboxes.deployment)
      .all(),
  );
}

export async function suppressionCounts(db: Db, deployment?: string) {
  const filter = where([deployment ? eq(suppressions.deployment, deployment) : undefined]);
  return toMap(
    await db
      .select({ key: suppressions.deployment, n: count() })
      .from(suppressions)
      .where(filter)
      .groupBy(suppressions.deployment)
      .all(),
  );
}

/** Activities per deployment (the trigger-kept `row_counts`). */
export async function activityCounts(db: Db, deployment?: string) {
  const filter = where([
    deployment ? eq(rowCounts.deployment, deployment) : undefined,
    eq(rowCounts.kind, 'activity'),
    gt(rowCounts.n, 0),
  ]);
  return toMap(
    await db.select({ key: rowCounts.deployment, n: rowCounts.n }).from(rowCounts).where(filter).all(),
  );
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
