// The speed guard: a benchmark run compares its figures with the committed ones and warns when one
// fell by more than a third, so a slowdown shows in the commit that causes it. It never fails the
// run (speed is measured by benchmarks, not asserted by tests); its verdict goes in the results file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ROOT } from '../../scripts/network.js';
import { valueAt } from './results.js';
import { round } from './stats.js';

/** Which way is better for each guarded figure: throughput up, time and memory down. */
export const GUARDED: Record<string, 'higher' | 'lower'> = {
  'classify.headerOnlyMsPerMsg': 'lower',
  'classify.fullParseMsPerMsg': 'lower',
  'snapshot.buildMs': 'lower',
  'snapshot.bytes': 'lower',
  'ingest.itemsPerSec': 'higher',
  'ingest.oneByOneItemsPerSec': 'higher',
  'e2e.p50Ms': 'lower',
  'e2e.p99Ms': 'lower',
  'memory.peakBytes25MiB': 'lower',
  'relay.p50AddedMs': 'lower',
  'relay.p99AddedMs': 'lower',
  'relay.msgPerSec': 'higher',
};

/**
 * "Fell by more than a third": a throughput below 2/3 of the baseline, or a time (or size) above
 * 1.5× — the same loss, as a time is the inverse of a speed.
 */
export const SLOWDOWN_FACTOR = 1.5;

export interface SpeedGuardEntry {
  key: string;
  baseline: number;
  value: number;
  /** How many times worse than the baseline (1 = the same; 2 = half the speed or twice the time). */
  worseBy: number;
}

export interface SpeedGuard {
  /** The commit of the baseline figures (the results file as committed at HEAD). */
  baselineCommit: string | null;
  baselineMode: string | null;
  compared: number;
  slower: SpeedGuardEntry[];
}

/** Compares `result` with `baseline` over the guarded keys both carry as finite positive numbers. */
export function compareWithBaseline(
  result: unknown,
  baseline: unknown,
  guarded: Record<string, 'higher' | 'lower'> = GUARDED,
): SpeedGuard {
  const slower: SpeedGuardEntry[] = [];
  let compared = 0;
  for (const [key, better] of Object.entries(guarded)) {
    const value = valueAt(result, key);
    const before = valueAt(baseline, key);
    if (typeof value !== 'number' || typeof before !== 'number') continue;
    if (!(value > 0 && before > 0) || !Number.isFinite(value) || !Number.isFinite(before)) continue;
    compared++;
    const worseBy = better === 'higher' ? before / value : value / before;
    if (worseBy > SLOWDOWN_FACTOR) slower.push({ key, baseline: before, value, worseBy: round(worseBy, 2) });
  }
  const meta = (baseline ?? {}) as { commit?: unknown; mode?: unknown };
  return {
    baselineCommit: typeof meta.commit === 'string' ? meta.commit : null,
    baselineMode: typeof meta.mode === 'string' ? meta.mode : null,
    compared,
    slower,
  };
}

/** The results file whose committed figures are the baseline. */
export const COMMITTED_RESULTS = 'bench/results/latest.json';

/**
 * The committed figures (`git show HEAD:bench/results/latest.json`, whatever `--out` says), else
 * `fallbackFile` as it was before this run wrote it; undefined when there is neither.
 */
export function readBaseline(fallbackFile: string): unknown {
  try {
    const text = execFileSync('git', ['show', `HEAD:${COMMITTED_RESULTS}`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20,
    }).toString();
    return JSON.parse(text);
  } catch {
    return existsSync(fallbackFile) ? JSON.parse(readFileSync(fallbackFile, 'utf8')) : undefined;
  }
}

/** The guard's lines for the console: one clear warning per figure that fell by more than a third. */
export function describeSpeedGuard(guard: SpeedGuard): string[] {
  if (!guard.compared) return ['speed guard: no committed figures to compare with'];
  const against = `the committed figures (${guard.baselineMode ?? '?'} run at ${guard.baselineCommit?.slice(0, 7) ?? '?'})`;
  if (!guard.slower.length)
    return [
      `speed guard: ${guard.compared} figures compared with ${against}, none fell by more than a third`,
    ];
  return [
    `WARNING — speed guard: ${guard.slower.length} of ${guard.compared} figures fell by more than a third against ${against}:`,
    ...guard.slower.map((s) => `  ${s.key}: ${s.value} (was ${s.baseline}: ${s.worseBy}× worse)`),
  ];
}
