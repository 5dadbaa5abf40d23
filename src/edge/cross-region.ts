// Cross-region traffic of this isolate, by kind and direction (design §6, `crossRegion`): every
// byte that crosses between this region and central, whoever moves it. Counted where the bytes
// move (the central client, the snapshot fetch, the notice handler) and reported to central with
// the heartbeat, which takes the counts so that each byte is reported once.
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

/** Puts counts back when the heartbeat that carried them failed, so no byte goes unreported. */
export function restoreCrossRegionCounts(taken: CrossRegionCounts): void {
  for (const k of CROSS_REGION_KINDS) {
    counts[k].toCentral += taken[k].toCentral;
    counts[k].fromCentral += taken[k].fromCentral;
  }
}

/** What a heartbeat carries: the kinds with bytes, none when nothing crossed. */
export function reportedCounts(taken: CrossRegionCounts): Partial<CrossRegionCounts> | undefined {
  const out: Partial<CrossRegionCounts> = {};
  for (const k of CROSS_REGION_KINDS)
    if (taken[k].toCentral || taken[k].fromCentral) out[k] = { ...taken[k] };
  return Object.keys(out).length ? out : undefined;
}
