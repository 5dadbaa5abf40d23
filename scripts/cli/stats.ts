// crm-router stats: per-region traffic, cross-region bytes, latency and edge health.
import { CliError, type Command, print, type Settings, str, table, type Values } from './common.js';

export const stats: Command = {
  usage: 'crm-router stats [--since <ISO time or ms>]',
  about: 'Per-region traffic, cross-region bytes against forward-everything, latency and edge health.',
  options: { since: { type: 'string' } },
  run,
};

function bytes(n: number | null | undefined): string {
  if (n == null) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

async function run(cfg: Settings, values: Values) {
  let since: number | undefined;
  const sinceArg = str(values.since);
  if (sinceArg) {
    const ms = /^\d+$/.test(sinceArg) ? Number(sinceArg) : Date.parse(sinceArg);
    if (!Number.isFinite(ms))
      throw new CliError('--since must be an ISO time or milliseconds since the epoch');
    since = ms;
  }
  const s = await cfg.api.stats(since);
  const pct = (r: number | null | undefined) => (r == null ? '-' : `${(r * 100).toFixed(1)}%`);
  const rows = [...s.regions, { ...s.total, region: 'total', healthy: undefined }].map((r) => ({
    region: r.region,
    received: r.received,
    'crm-bound': r.crmBound,
    tossed: Object.values(r.tossed ?? {}).reduce((a, b) => a + b, 0),
    'cross-region': bytes(r.crossRegionBytes),
    'vs forward-all': pct(r.crossRegionBytesRatio),
    'p50/p95/p99 ms': r.latencyMs
      ? `${r.latencyMs.p50 ?? '-'}/${r.latencyMs.p95 ?? '-'}/${r.latencyMs.p99 ?? '-'}`
      : '-',
    edge: r.region === 'total' ? '' : r.healthy ? 'up' : 'no heartbeat',
  }));
  print(values, s, table(rows, Object.keys(rows[0] ?? {})));
}
