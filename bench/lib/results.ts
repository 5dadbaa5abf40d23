// The results file (bench/results/latest.json): headline keys repeated as flat dotted keys at the
// top level, each with its target. `npm run bench` writes it whole; the separate runs (relay,
// reliability) merge their part into it.
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../scripts/network.js';

/** A headline key (`classify.ratio`) and its target, if it has one (`>= 10`). */
export type HeadlineKey = [string, ('>=' | '<=')?, number?];

export interface TargetResult {
  target: string;
  value: unknown;
  met: boolean;
}

/** The commit measured (or 'unknown' outside a git checkout). */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

/** The value at a dotted path (`relay.p99Ms`) of a results object. */
export const valueAt = (obj: unknown, path: string): unknown =>
  path.split('.').reduce((o: unknown, k) => (o == null ? undefined : (o as Record<string, unknown>)[k]), obj);

/**
 * Repeats each headline key's value as a flat key of `result` and records whether it meets its
 * target; returns `targets` with the keys' entries added.
 */
export function flattenHeadlines(
  result: Record<string, unknown>,
  keys: readonly HeadlineKey[],
  targets: Record<string, TargetResult> = {},
): Record<string, TargetResult> {
  for (const [key, op, bound] of keys) {
    const value = valueAt(result, key);
    if (value !== undefined) result[key] = value;
    if (op)
      targets[key] = {
        target: `${op} ${bound}`,
        value,
        met:
          typeof value === 'number' && bound !== undefined && (op === '>=' ? value >= bound : value <= bound),
      };
  }
  return targets;
}

/**
 * Sections that another command merges into the results file (`npm run bench:reliability`, an
 * hour-long outage run; `npm run bench:connectors`, the CRM connector targets with the HubSpot fake
 * and, `--crm tryton`, with a live trytond; `Paced`: at a `--rate`) and `npm run bench`
 * does not measure: carried over from the file it replaces, each with the commit and time of its
 * own run inside it.
 */
export const SEPARATE_SECTIONS = [
  'reliability',
  'connectors',
  'connectorsPaced',
  'connectorsTryton',
  'connectorsTrytonPaced',
] as const;

/** Copies the separate sections (and their flat dotted keys) of `previous` into `result`. */
export function carryOverSeparateSections(result: Record<string, unknown>, previous: unknown): void {
  if (!previous || typeof previous !== 'object') return;
  const prev = previous as Record<string, unknown>;
  for (const section of SEPARATE_SECTIONS) {
    if (result[section] !== undefined || prev[section] === undefined) continue;
    result[section] = prev[section];
    for (const key of Object.keys(prev)) if (key.startsWith(`${section}.`)) result[key] = prev[key];
  }
}
