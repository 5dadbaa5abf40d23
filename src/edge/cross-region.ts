// Cross-region traffic of this isolate, by kind and direction (design §6, `crossRegion`): every
// byte that crosses between this region and central, whoever moves it. Counted where the bytes
// move (the central client, the snapshot fetch, the notice handler) and reported to central with
// the heartbeat as a report with an id: a report whose batch got no answer is posted again under
// the same id, and central counts an id once, so each byte is reported once.
import { timeOrderedId } from '../core/time-ordered-id.js';
import { CROSS_REGION_KINDS, type CrossRegionKind } from '../core/wire.js';

export { CROSS_REGION_KINDS, type CrossRegionKind };
export type CrossRegionDirection = 'toCentral' | 'fromCentral';
export type CrossRegionCounts = Record<CrossRegionKind, { toCentral: number; fromCentral: number }>;

function zero(): CrossRegionCounts {
  return Object.fromEntries(
    CROSS_REGION_KINDS.map((k) => [k, { toCentral: 0, fromCentral: 0 }]),
  ) as CrossRegionCounts;
}

let counts = zero();

export function countCrossRegion(
  kind: CrossRegionKind,
  direction: CrossRegionDirection,
  bytes: number,
): void {
  if (bytes > 0) counts[kind][direction] += bytes;
}

/** The counts since the last take, and a fresh start: what a heartbeat reports. */
export function takeCrossRegionCounts(): CrossRegionCounts {
  const taken = counts;
  counts = zero();
  return taken;
}

/** A report taken from the counts, posted until central has answered the batch carrying it. */
export interface CrossRegionReport {
  id: string;
  counts: Partial<CrossRegionCounts>;
}

let pending: CrossRegionReport | undefined;

/**
 * The report the next heartbeat carries: the one not yet answered, if any (same id, same counts),
 * else the counts since the last report under a new id. Undefined when nothing crossed.
 */
export function takeCrossRegionReport(): CrossRegionReport | undefined {
  if (!pending) {
    const counts = reportedCounts(takeCrossRegionCounts());
    if (counts) pending = { id: timeOrderedId(Date.now()), counts };
  }
  return pending;
}

/**
 * What became of the batch that carried report `id`: `answered` (central took it) and `refused`
 * (central refused the batch for good: posting the report again would be refused again, so its
 * counts are dropped) end it; `unanswered` keeps it to be posted again under the same id.
 */
export function settleCrossRegionReport(id: string, outcome: 'answered' | 'refused' | 'unanswered'): void {
  if (outcome !== 'unanswered' && pending?.id === id) pending = undefined;
}

/** Forgets every count and report (tests start from nothing). */
export function resetCrossRegionCounts(): void {
  counts = zero();
  pending = undefined;
}

/** What a heartbeat carries: the kinds with bytes, none when nothing crossed. */
export function reportedCounts(taken: CrossRegionCounts): Partial<CrossRegionCounts> | undefined {
  const out: Partial<CrossRegionCounts> = {};
  for (const k of CROSS_REGION_KINDS)
    if (taken[k].toCentral || taken[k].fromCentral) out[k] = { ...taken[k] };
  return Object.keys(out).length ? out : undefined;
}
