// The traffic simulator's arrival schedule (scripts/simulate.ts): the e2e bench offers exactly the
// rate it names — `total` messages within `durationS` — with Poisson-like gaps between them.
import { describe, expect, test } from 'vitest';
import { arrivalSchedule } from '../../scripts/simulate.js';
import { createRng } from '../../scripts/traffic.js';

describe('arrivalSchedule', () => {
  test('12,000 arrivals at 200/s all fall inside the 60 s, in order, spread like a Poisson process', () => {
    const due = arrivalSchedule(12_000, 60, createRng('schedule:200:60'));
    expect(due).toHaveLength(12_000);
    for (let i = 1; i < due.length; i++)
      expect(due[i] as number).toBeGreaterThanOrEqual(due[i - 1] as number);
    expect(due[0] as number).toBeGreaterThan(0);
    expect(due.at(-1) as number).toBeLessThan(60_000);
    // Uniform over the run: about a sixth in each 10 s (±5 %, far wider than the binomial spread).
    for (let s = 0; s < 6; s++) {
      const inWindow = due.filter((t) => t >= s * 10_000 && t < (s + 1) * 10_000).length;
      expect(inWindow).toBeGreaterThan(1900);
      expect(inWindow).toBeLessThan(2100);
    }
    // Exponential gaps: the coefficient of variation of a Poisson process's gaps is 1.
    const gaps = due.slice(1).map((t, i) => t - (due[i] as number));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(5, 1);
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(sd / mean).toBeLessThan(1.1);
  });

  test('the same seed gives the same schedule; one message is due inside the run', () => {
    expect(arrivalSchedule(50, 2, createRng('s'))).toEqual(arrivalSchedule(50, 2, createRng('s')));
    const [only] = arrivalSchedule(1, 1, createRng('one'));
    expect(only as number).toBeGreaterThan(0);
    expect(only as number).toBeLessThan(1000);
  });
});
