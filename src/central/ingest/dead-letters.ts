import { and, desc, eq, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { deadLetters } from '../../db/schema.js';
import type { DeadLetterReport } from '../../core/wire.js';
import { ingest } from './ingest.js';

/** Rows per INSERT: 7 bound values each, so 14 rows stay under D1's limit of 100 parameters. */
const DEAD_LETTER_ROWS_PER_INSERT = 14;

/** Stores dead letters an edge reported (idempotent on id), in one transaction of chunked INSERTs. */
export async function storeReportedDeadLetters(
  db: Db,
  region: string,
  reports: DeadLetterReport[],
  now: number,
) {
  const rows = reports.map((d) => ({
    id: d.id,
    region,
    deployment:
      d.item &&
      typeof d.item === 'object' &&
      typeof (d.item as { deployment?: unknown }).deployment === 'string'
        ? (d.item as { deployment: string }).deployment
        : null,
    item: d.item ?? null,
    error: d.error,
    attempts: d.attempts,
    createdAt: now,
  }));
  const statements = [];
  for (let i = 0; i < rows.length; i += DEAD_LETTER_ROWS_PER_INSERT)
    statements.push(
      db
        .insert(deadLetters)
        .values(rows.slice(i, i + DEAD_LETTER_ROWS_PER_INSERT))
        .onConflictDoNothing(),
    );
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

export function listDeadLetters(
  db: Db,
  q: { deployment?: string; region?: string; pending?: boolean; limit: number },
) {
  const where: SQL[] = [];
  if (q.deployment) where.push(eq(deadLetters.deployment, q.deployment));
  if (q.region) where.push(eq(deadLetters.region, q.region));
  if (q.pending) where.push(isNull(deadLetters.replayedAt));
  return db
    .select()
    .from(deadLetters)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(deadLetters.createdAt))
    .limit(q.limit)
    .all();
}

export function findDeadLetter(db: Db, id: string) {
  return db.select().from(deadLetters).where(eq(deadLetters.id, id)).get();
}

export function serializeDeadLetter(d: typeof deadLetters.$inferSelect) {
  const item = d.item as { messageId?: string; subject?: string; kind?: string } | null;
  return {
    id: d.id,
    region: d.region,
    deployment: d.deployment ?? null,
    error: d.error,
    attempts: d.attempts,
    createdAt: d.createdAt,
    replayedAt: d.replayedAt ?? null,
    replayResult: d.replayResult ?? null,
    messageId: typeof item?.messageId === 'string' ? item.messageId : null,
  };
}

/**
 * Replays a dead letter: its stored item goes through ingestion again (deduplicating like any
 * other copy). A still-invalid item stays a dead letter with the new error recorded.
 */
export async function replayDeadLetter(db: Db, id: string, now = Date.now()) {
  const dl = await findDeadLetter(db, id);
  if (!dl) return undefined;
  const outcome = await ingest({ db, region: dl.region, now }, [dl.item], [], {
    deadLetterRejected: false,
    edgeTraffic: false,
  });
  const result = outcome.results[0] ?? { id, status: 'rejected' as const, reason: 'nothing to replay' };
  const ok = result.status !== 'rejected';
  await db
    .update(deadLetters)
    .set({
      replayedAt: ok ? now : null,
      replayResult: ok
        ? `${result.status}${result.activityId ? ` as ${result.activityId}` : ''}`
        : `rejected: ${result.reason ?? ''}`,
      attempts: dl.attempts + 1,
    })
    .where(eq(deadLetters.id, id));
  return { deadLetter: id, ...result };
}
