import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../client.js';
import { deadLetters } from '../schema.js';
import { chunk } from './statements.js';

export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** Rows per INSERT: 7 bound values each, so 14 rows stay under D1's limit of 100 parameters. */
const DEAD_LETTER_ROWS_PER_INSERT = 14;

/** Statements: store dead letters, idempotent on their id (an edge may report one twice). */
export function deadLetterInsertStatements(db: Db, rows: (typeof deadLetters.$inferInsert)[]) {
  return chunk(rows, DEAD_LETTER_ROWS_PER_INSERT).map((part) =>
    db.insert(deadLetters).values(part).onConflictDoNothing(),
  );
}

/** Newest first, optionally of one deployment or region, or only those not yet replayed. */
export function listDeadLetters(
  db: Db,
  q: { deployment?: string; region?: string; pending?: boolean; limit: number },
) {
  return db
    .select()
    .from(deadLetters)
    .where(
      and(
        q.deployment ? eq(deadLetters.deployment, q.deployment) : undefined,
        q.region ? eq(deadLetters.region, q.region) : undefined,
        q.pending ? isNull(deadLetters.replayedAt) : undefined,
      ),
    )
    .orderBy(desc(deadLetters.createdAt))
    .limit(q.limit)
    .all();
}

export function findDeadLetter(db: Db, id: string) {
  return db.select().from(deadLetters).where(eq(deadLetters.id, id)).get();
}

/** Records a replay attempt: its result, the attempt count, and `replayedAt` when it succeeded. */
export function recordDeadLetterReplay(
  db: Db,
  id: string,
  fields: { replayedAt: number | null; replayResult: string; attempts: number },
) {
  return db.update(deadLetters).set(fields).where(eq(deadLetters.id, id));
}
