import { and, desc, eq, like, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { activities } from '../schema.js';

export interface ActivityQuery {
  deployment?: string;
  messageId?: string;
  q?: string;
  /** Only activities that one of these mailboxes saw (user-scoped tokens). */
  mailboxes?: string[];
  cursor?: number;
  limit: number;
}

/** Newest first; the cursor is the `seq` of the last item of the previous page (stable under inserts). */
export function queryActivities(db: Db, q: ActivityQuery) {
  const where: SQL[] = [];
  if (q.deployment) where.push(eq(activities.deployment, q.deployment));
  if (q.messageId) where.push(eq(activities.messageId, q.messageId));
  if (q.cursor !== undefined) where.push(lt(activities.seq, q.cursor));
  if (q.q) {
    const pattern = `%${q.q.replace(/[%_]/g, '')}%`;
    where.push(
      or(
        like(activities.subject, pattern),
        like(activities.fromAddress, pattern),
        like(activities.messageId, pattern),
        sql`${activities.parties} like ${pattern}`,
      ) as SQL,
    );
  }
  if (q.mailboxes) {
    const list = JSON.stringify(q.mailboxes);
    where.push(
      sql`exists (select 1 from json_each(${activities.mailboxes}) m where m.value in (select value from json_each(${list})))`,
    );
  }
  return db
    .select()
    .from(activities)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(activities.seq))
    .limit(q.limit + 1)
    .all();
}

export function findActivity(db: Db, id: string) {
  return db.select().from(activities).where(eq(activities.id, id)).get();
}
