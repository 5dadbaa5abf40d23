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

/** Shortest search term the word index serves; shorter ones are matched by a scan. */
export const INDEXED_TERM_CHARS = 3;

/**
 * Scripts written without spaces between words: the index's tokenizer (`unicode61`) takes a whole
 * run of them for one word, so a term in them is matched as a substring by a scan.
 */
const UNSPACED_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Tibetan}]/u;

/** What the tokenizer keeps (letters, digits, private-use characters): a term without any has no word. */
const WORD_CHARACTER = /[\p{L}\p{N}\p{Co}]/u;

/** Whether the word index serves `term` (else it is matched as a substring by a scan). */
export function isIndexedTerm(term: string): boolean {
  return [...term].length >= INDEXED_TERM_CHARS && WORD_CHARACTER.test(term) && !UNSPACED_SCRIPT.test(term);
}

/** `text` as one FTS5 phrase: FTS5's query syntax is never the user's. */
const ftsPhrase = (text: string) => `"${text.replaceAll('"', '""')}"`;

/**
 * The index's query for a term: its words in order, next to each other, the last one a prefix
 * (`"anna smi" *` finds "Anna Smith"; `bob@acme.com` the words bob, acme, com in a row).
 */
export function wordPrefixMatch(term: string): string {
  return `${ftsPhrase(term)} *`;
}

/** A word as the index's tokenizer cuts it (combining marks kept with their letters). */
const WORD = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;

/**
 * What the index is asked for an indexed term. A last word shorter than three characters is no
 * prefix the index serves well (`n*` walks every word that starts with n: 0.5 s at 1 M activities
 * in workerd), so when other words come before it, those words find the candidates and the whole
 * term is checked on each as a substring, as a short term is (`substring`).
 */
export function indexQuery(term: string): { match: string; substring: boolean } {
  const words = term.match(WORD) ?? [];
  const last = words.at(-1) ?? '';
  if (words.length > 1 && [...last].length < INDEXED_TERM_CHARS) {
    const head = term.slice(0, term.lastIndexOf(last));
    return { match: ftsPhrase(head), substring: true };
  }
  return { match: wordPrefixMatch(term), substring: false };
}

/** `pattern` (a LIKE pattern) in the subject or in a party's name or address. */
function substringOf(pattern: string): SQL {
  return or(
    like(activities.subject, pattern),
    // The parties' names and addresses, as the index holds them (migration 0013), not their JSON.
    sql`exists (select 1 from json_each(${activities.parties}) p where p.value ->> 'address' like ${pattern} or p.value ->> 'name' like ${pattern})`,
  ) as SQL;
}

/**
 * Newest first; the cursor is the `seq` of the last item of the previous page (stable under inserts).
 *
 * `q` finds the subject's and the parties' words (the sender is a party: names and addresses,
 * whose `@` and dots separate words): the term's words in a row, each matched whole but the last,
 * matched at its start, case and diacritics folded, through the word index `activities_fts`
 * (migration 0015), walked newest-first by its rowid, the activity's `seq`, so a page stops after
 * `limit` hits whether the term is rare or common (a last word shorter than three characters is
 * checked as a substring on what the other words find: `indexQuery`). A term shorter than three
 * characters, or in a script written without spaces (Han, Kana, Thai, …), is a case-insensitive
 * substring (`%` and `_` dropped) matched with LIKE while walking the activities newest-first. A term can also be a whole
 * Message-ID (with or without its angle brackets), matched through its own index,
 * `activities_message_id`.
 */
export function queryActivities(db: Db, q: ActivityQuery) {
  const where: SQL[] = [];
  if (q.deployment) where.push(eq(activities.deployment, q.deployment));
  if (q.messageId) where.push(eq(activities.messageId, q.messageId));
  if (q.cursor !== undefined) where.push(lt(activities.seq, q.cursor));
  if (q.mailboxes) where.push(sawAny(q.mailboxes));
  const term = q.q?.replace(/[%_]/g, '') ?? '';
  if (q.q && isIndexedTerm(term)) {
    // The index names the candidates newest first (FTS5 walks its rowids in descending order and
    // takes the cursor as a rowid bound); the other filters apply to each candidate in the same
    // walk, which stops at the page's size. Inside the subquery `activities` is the joined row.
    const { match: phrase, substring } = indexQuery(term);
    const checks = substring ? [...where, substringOf(`%${term}%`)] : where;
    const filters = checks.length ? sql`and ${and(...checks)}` : sql``;
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
    where.push(substringOf(`%${term}%`));
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
