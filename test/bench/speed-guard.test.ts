// The benchmark's speed guard (bench/lib/speed-guard.ts): which figures it flags against the
// committed ones. The guard only warns; these tests pin what "fell by more than a third" means.
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { compareWithBaseline, describeSpeedGuard, readBaseline } from '../../bench/lib/speed-guard.js';
import { ROOT } from '../../scripts/network.js';

const baseline = {
  commit: 'abc1234def',
  mode: 'full',
  ingest: { itemsPerSec: 3000, oneByOneItemsPerSec: 100 },
  e2e: { p50Ms: 100, p99Ms: 400 },
  classify: { headerOnlyMsPerMsg: 0.05 },
};

describe('speed guard', () => {
  test('a throughput below two thirds of the committed one is flagged, one above is not', () => {
    const guard = compareWithBaseline({ ingest: { itemsPerSec: 1900, oneByOneItemsPerSec: 70 } }, baseline);
    expect(guard.compared).toBe(2);
    expect(guard.slower).toEqual([{ key: 'ingest.itemsPerSec', baseline: 3000, value: 1900, worseBy: 1.58 }]);
  });

  test('a time above 1.5× the committed one is flagged, one below is not', () => {
    const guard = compareWithBaseline({ e2e: { p50Ms: 140, p99Ms: 640 } }, baseline);
    expect(guard.slower.map((s) => s.key)).toEqual(['e2e.p99Ms']);
    expect(guard.slower[0]?.worseBy).toBe(1.6);
  });

  test('faster figures, missing ones and non-numbers are never flagged', () => {
    const guard = compareWithBaseline(
      { ingest: { itemsPerSec: 9000 }, e2e: { p50Ms: 'n/a', p99Ms: 0 }, classify: {} },
      baseline,
    );
    expect(guard).toMatchObject({
      compared: 1,
      slower: [],
      baselineCommit: 'abc1234def',
      baselineMode: 'full',
    });
    expect(compareWithBaseline(baseline, undefined)).toMatchObject({ compared: 0, baselineCommit: null });
  });

  test('the warning names each slower figure with its old and new value', () => {
    const lines = describeSpeedGuard(compareWithBaseline({ ingest: { itemsPerSec: 1000 } }, baseline));
    expect(lines[0]).toMatch(/^WARNING — speed guard: 1 of 1 figures fell by more than a third/);
    expect(lines[1]).toBe('  ingest.itemsPerSec: 1000 (was 3000: 3× worse)');
  });

  test('the baseline is the results file as committed at HEAD', () => {
    const committed = JSON.parse(
      execFileSync('git', ['show', 'HEAD:bench/results/latest.json'], { cwd: ROOT }).toString(),
    );
    expect(readBaseline('/nonexistent/latest.json')).toEqual(committed);
  });
});
