// The results file's sections that other commands write (bench/lib/results.ts): `npm run bench`
// replaces the file but keeps them.
import { describe, expect, test } from 'vitest';
import { carryOverSeparateSections } from '../../bench/lib/results.js';

describe('carryOverSeparateSections', () => {
  const previous = {
    commit: 'old',
    reliability: { lost: 0, commit: 'rel-commit' },
    'reliability.lost': 0,
    'reliability.drainSeconds': 29.1,
    e2e: { p50Ms: 1 },
  };

  test('keeps the reliability section and its flat keys, nothing else of the old file', () => {
    const result: Record<string, unknown> = { commit: 'new', e2e: { p50Ms: 2 } };
    carryOverSeparateSections(result, previous);
    expect(result).toEqual({
      commit: 'new',
      e2e: { p50Ms: 2 },
      reliability: { lost: 0, commit: 'rel-commit' },
      'reliability.lost': 0,
      'reliability.drainSeconds': 29.1,
    });
  });

  test('a section this run measured itself is not overwritten; no previous file changes nothing', () => {
    const result: Record<string, unknown> = { reliability: { lost: 1 } };
    carryOverSeparateSections(result, previous);
    expect(result).toEqual({ reliability: { lost: 1 } });
    const fresh: Record<string, unknown> = { commit: 'new' };
    carryOverSeparateSections(fresh, undefined);
    expect(fresh).toEqual({ commit: 'new' });
  });
});
