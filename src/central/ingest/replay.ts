import type { Db } from '../../db/client.js';
import { findDeadLetter, recordDeadLetterReplay } from '../../db/queries/dead-letters.js';
import { ingest } from './ingest.js';
import { loadRegionClaims } from './ingest-claims.js';

/**
 * Replays a dead letter: its stored item goes through ingestion again (deduplicating like any
 * other copy), under the claims of the region that reported it, as live ingest checks them now: a
 * deployment unknown when the letter was stored must since have a mailbox routed in that region.
 * A still-invalid item stays a dead letter with the new error recorded.
 */
export async function replayDeadLetter(db: Db, id: string, now = Date.now()) {
  const dl = await findDeadLetter(db, id);
  if (!dl) return undefined;
  const claims = await loadRegionClaims(db, dl.region);
  const outcome = await ingest({ db, region: dl.region, now, claims }, [dl.item], [], {
    deadLetterRejected: false,
    edgeTraffic: false,
  });
  const result = outcome.results[0] ?? { id, status: 'rejected' as const, reason: 'nothing to replay' };
  const ok = result.status !== 'rejected';
  await recordDeadLetterReplay(db, id, {
    replayedAt: ok ? now : null,
    replayResult: ok
      ? `${result.status}${result.activityId ? ` as ${result.activityId}` : ''}`
      : `rejected: ${result.reason ?? ''}`,
    attempts: dl.attempts + 1,
  });
  return { deadLetter: id, ...result };
}
