// Small statistics helpers for the benchmarks.

export function median(values: number[]): number {
  if (!values.length) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const at = (i: number) => s[i] as number;
  return s.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
