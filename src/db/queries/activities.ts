import { and, asc, desc, eq, gt, like, lt, or, type SQL, sql } from 'drizzle-orm';
import { normaliseMessageId } from '../../core/keyed-hash.js';
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

/** Shortest search term the trigram index serves; shorter ones are matched by a scan. */
export const INDEXED_TERM_CHARS = 3;

/**
 * Newest first; the cursor is the `seq` of the last item of the previous page (stable under inserts).
 *
 * `q` is a case-insensitive substring of the subject or of a party's name or address (the sender
 * is a party; `%` and `_` are dropped), or a whole Message-ID (with or without its angle brackets).
 * A term of at least three characters is served by the trigram index `activities_fts` (migrations
 * 0005, 0013, 0014), walked newest-first by its rowid, the activity's `seq`, so a page stops after
 * `limit` hits whether the term is rare or common; a shorter term cannot use a trigram index and
 * is matched with LIKE while walking the activities newest-first. The Message-ID is matched
 * through its own index, `activities_message_id`.
 */
export function queryActivities(db: Db, q: ActivityQuery) {
  const where: SQL[] = [];
  if (q.deployment) where.push(eq(activities.deployment, q.deployment));
  if (q.messageId) where.push(eq(activities.messageId, q.messageId));
  if (q.cursor !== undefined) where.push(lt(activities.seq, q.cursor));
  if (q.mailboxes) where.push(sawAny(q.mailboxes));
  const term = q.q?.replace(/[%_]/g, '') ?? '';
  if (q.q && [...term].length >= INDEXED_TERM_CHARS) {
    // The index names the candidates newest first (FTS5 walks its rowids in descending order and
    // takes the cursor as a rowid bound); the other filters apply to each candidate in the same
    // walk, which stops at the page's size. Inside the subquery `activities` is the joined row.
    const phrase = `"${term.replaceAll('"', '""')}"`;
    const filters = where.length ? sql`and ${and(...where)}` : sql``;
    const seqs = sql`select activities_fts.rowid from activities_fts cross join ${activities}
      on ${activities.seq} = activities_fts.rowid
      where activities_fts match ${phrase}
      ${q.cursor !== undefined ? sql`and activities_fts.rowid < ${q.cursor}` : sql``}
      ${filters}
      order by activities_fts.rowid desc limit ${q.limit + 1}`;
    where.push(sql`${activities.seq} in (${seqs})`);
    // A term that can be a Message-ID (it has an `@`) also finds the activities of that Message-ID,
    // through its own index: a second arm of the statement, so each arm keeps its plan (an `IN` of
    // a compound select made SQLite walk every activity: 15 → 530 ms at 1 M).
    const messageId = normaliseMessageId(q.q);
    if (messageId.includes('@')) {
      const byMessageId = [...where.slice(0, -1), eq(activities.messageId, messageId)];
      return db
        .select()
        .from(activities)
        .where(and(...where))
        .union(
          db
            .select()
            .from(activities)
            .where(and(...byMessageId)),
        )
        .orderBy(desc(activities.seq))
        .limit(q.limit + 1)
        .all();
    }
  } else if (q.q) {
    const pattern = `%${term}%`;
    where.push(
      or(
        like(activities.subject, pattern),
        // The parties' names and addresses, as the index holds them (migration 0013), not their JSON.
        sql`exists (select 1 from json_each(${activities.parties}) p where p.value ->> 'address' like ${pattern} or p.value ->> 'name' like ${pattern})`,
      ) as SQL,
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

/** Only activities that one of these mailboxes saw (user-scoped tokens). */
function sawAny(mailboxes: string[]): SQL {
  const list = JSON.stringify(mailboxes);
  return sql`exists (select 1 from json_each(${activities.mailboxes}) m where m.value in (select value from json_each(${list})))`;
}

export interface ActivityChangesQuery {
  deployment?: string;
  mailboxes?: string[];
  /** The `changeSeq` of the last change already read (0: from the beginning). */
  after: number;
  limit: number;
}

/**
 * The changes feed: activities whose latest change (insert or merge) comes after `after`, oldest
 * change first, `limit + 1` rows (the extra one tells whether there is more).
 */
export function activityChanges(db: Db, q: ActivityChangesQuery) {
  const where: SQL[] = [gt(activities.changeSeq, q.after)];
  if (q.deployment) where.push(eq(activities.deployment, q.deployment));
  if (q.mailboxes) where.push(sawAny(q.mailboxes));
  return db
    .select()
    .from(activities)
    .where(and(...where))
    .orderBy(asc(activities.changeSeq))
    .limit(q.limit + 1)
    .all();
}

export function findActivity(db: Db, id: string) {
  return db.select().from(activities).where(eq(activities.id, id)).get();
}
