import type { DeadLetterReport } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { deadLetterInsertStatements } from '../../db/queries/dead-letters.js';
import { runBatch } from '../../db/queries/statements.js';
import { itemDeployment } from './plan.js';

export { findDeadLetter, listDeadLetters } from '../../db/queries/dead-letters.js';

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
    deployment: itemDeployment(d.item),
    item: d.item ?? null,
    error: d.error,
    attempts: d.attempts,
    createdAt: now,
  }));
  await runBatch(db, deadLetterInsertStatements(db, rows));
}
