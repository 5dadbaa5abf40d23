// The search index's backfill (migrations 0014, 0015): the activities stored before the index was rebuilt
// are indexed in steps, newest first, by central's cron. `search_backfill` holds the watermark:
// activities at or above `below_seq` are indexed (by the backfill or by the triggers), those below
// are not yet, and the triggers leave them alone, so no activity is indexed twice. The row goes
// when the last step is done.
import { and, eq, sql } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { Db } from '../client.js';

/**
 * An activity's indexed text, as the triggers of migrations 0014 and 0015 compute it (one text: the subject,
 * a line feed, then each distinct party's name and address). `test/central/search-backfill.test.ts`
 * checks that the backfill and the triggers index the same text.
 */
const SEARCH_TEXT = sql.raw(`concat_ws(char(10), a.subject,
  (select group_concat(party, ' ') from (select distinct concat_ws(' ', value ->> 'name', value ->> 'address') as party from json_each(a.parties))))`);

/** The watermark's table (migration 0014, reset by 0015; not in schema.ts: a migration's bookkeeping, dropped with it). */
const searchBackfill = sqliteTable('search_backfill', {
  id: integer('id').primaryKey(),
  belowSeq: integer('below_seq').notNull(),
  fromSeq: integer('from_seq').notNull(),
  startedAt: integer('started_at').notNull(),
});

/** The full-text index (a virtual table: its rowid and its one column, as INSERT sees them). */
const activitiesFts = sqliteTable('activities_fts', { rowid: integer('rowid'), text: text('text') });

/** Activities (by `seq`) per step: about 150 ms of D1's time, well under its 30 s per statement. */
export const SEARCH_BACKFILL_STEP = 5_000;

export interface SearchBackfillState {
  /** Activities with a `seq` below this are not indexed yet. */
  belowSeq: number;
  /** The watermark when the backfill began (its share done is `(fromSeq - belowSeq) / (fromSeq - 1)`). */
  fromSeq: number;
  startedAt: number;
}

/** The backfill still to do, or undefined when every activity is indexed. */
export async function searchBackfillState(db: Db): Promise<SearchBackfillState | undefined> {
  return db.get<SearchBackfillState | undefined>(
    sql`select below_seq as belowSeq, from_seq as fromSeq, started_at as startedAt from search_backfill where id = 1`,
  );
}

/**
 * Indexes the `step` activities below the watermark and lowers it, in one transaction that does
 * nothing when another step moved the watermark first (concurrent crons index nothing twice).
 * `from` is the state last read (the previous step's answer), else it is read first. Returns the
 * state after the step, undefined once the backfill is done.
 */
export async function searchBackfillStep(
  db: Db,
  step = SEARCH_BACKFILL_STEP,
  from?: SearchBackfillState,
): Promise<SearchBackfillState | undefined> {
  const state = from ?? (await searchBackfillState(db));
  if (!state) return undefined;
  const hi = state.belowSeq;
  const lo = Math.max(1, hi - step);
  const still = sql`exists (select 1 from search_backfill where id = 1 and below_seq = ${hi})`;
  const at = and(eq(searchBackfill.id, 1), eq(searchBackfill.belowSeq, hi));
  await db.batch([
    db
      .insert(activitiesFts)
      .select(
        sql`select a.seq, ${SEARCH_TEXT} from activities a where a.seq >= ${lo} and a.seq < ${hi} and ${still}`,
      ),
    lo <= 1 ? db.delete(searchBackfill).where(at) : db.update(searchBackfill).set({ belowSeq: lo }).where(at),
  ]);
  return searchBackfillState(db);
}

/**
 * Steps until the backfill is done or `budgetMs` has passed (the cron's share of its run); the
 * state left, undefined when done.
 */
export async function runSearchBackfill(
  db: Db,
  { budgetMs, now = () => Date.now(), step }: { budgetMs: number; now?: () => number; step?: number },
): Promise<SearchBackfillState | undefined> {
  const until = now() + budgetMs;
  let state = await searchBackfillState(db);
  while (state && now() < until) state = await searchBackfillStep(db, step, state);
  return state;
}
