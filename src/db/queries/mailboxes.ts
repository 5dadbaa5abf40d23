import { and, eq, gt, inArray, like, type SQL } from 'drizzle-orm';
import type { Db } from '../client.js';
import { mailboxes } from '../schema.js';
import { chunk, queryInChunks } from './statements.js';

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

/** Distinct values of one column of the mailboxes whose other column equals `value`. */
async function distinctOf(
  db: Db,
  column: 'region' | 'deployment',
  where: 'region' | 'deployment',
  value: string,
) {
  const rows = await db
    .selectDistinct({ v: mailboxes[column] })
    .from(mailboxes)
    .where(eq(mailboxes[where], value))
    .all();
  return rows.map((r) => r.v);
}

/** Regions whose snapshot carries this deployment (those with at least one of its mailboxes). */
export function regionsOfDeployment(db: Db, deployment: string): Promise<string[]> {
  return distinctOf(db, 'region', 'deployment', deployment);
}

/** Deployments with at least one mailbox routed in the region. */
export function deploymentsRoutedIn(db: Db, region: string): Promise<string[]> {
  return distinctOf(db, 'deployment', 'region', region);
}

/** The region's routed mailboxes, in no particular order. */
export function mailboxesInRegion(db: Db, region: string) {
  return db.select().from(mailboxes).where(eq(mailboxes.region, region)).all();
}

/** The mailbox rows of these addresses (those that are routed). */
export function findMailboxes(db: Db, addresses: readonly string[]) {
  return queryInChunks(addresses, (part) =>
    db.select().from(mailboxes).where(inArray(mailboxes.address, part)).all(),
  );
}

/** Routes per statement of a bulk write (each route travels inside one JSON parameter). */
const ROUTES_PER_STATEMENT = 200;

/**
 * Statements: upsert routes, `ROUTES_PER_STATEMENT` per statement (the routes travel as one JSON
 * parameter expanded with `json_each`, so the 100-parameter limit does not bound the chunk).
 * Run them in one `d1.batch()`: one transaction.
 */
export function upsertRoutesStatements(
  db: Db,
  routes: Array<{ address: string; region: string; deployment: string; userId: string; filter: string }>,
  now: number,
): D1PreparedStatement[] {
  return chunk(routes, ROUTES_PER_STATEMENT).map((part) =>
    db.$client
      .prepare(
        `insert into mailboxes (address, region, deployment, user_id, filter, created_at, updated_at)
           select json_extract(value, '$.address'), json_extract(value, '$.region'), json_extract(value, '$.deployment'),
                  json_extract(value, '$.userId'), json_extract(value, '$.filter'), ?2, ?2
           from json_each(?1) where true
           on conflict (address) do update set region = excluded.region, deployment = excluded.deployment,
             user_id = excluded.user_id, filter = excluded.filter, updated_at = excluded.updated_at`,
      )
      .bind(JSON.stringify(part), now),
  );
}

/** Upserts routes in one transaction (see {@link upsertRoutesStatements}). */
export async function upsertRoutes(
  db: Db,
  routes: Parameters<typeof upsertRoutesStatements>[1],
  now: number,
): Promise<void> {
  const statements = upsertRoutesStatements(db, routes, now);
  if (statements.length) await db.$client.batch(statements);
}
