// Table-driven tests of a pure function: one test a case, each input mapped to exactly its expected value.
import { expect, test } from 'vitest';

/** One test a `[input, expected]` case that `fn(input)` is `expected` (`toBe`); `title` formats as test.each's. */
export function testMaps<I, O>(fn: (input: I) => O, title: string, cases: [I, O][]) {
  test.each<[I, O]>(cases)(title, (input, expected) => {
    expect(fn(input)).toBe(expected);
  });
}
