/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { RegionStats } from '../../services/stats.js';
import { formatBytes, formatCount, formatTime } from './format.js';

type Point = RegionStats['series'][number];

interface Bucket {
  start: number;
  received: number;
  crmBound: number;
  bytesSent: number;
}

/** Sums per-minute points into `count` equal buckets over [since, until). */
export function bucketSeries(series: Point[], since: number, until: number, count: number): Bucket[] {
  const span = Math.max(60_000, until - since);
  const width = span / count;
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({
    start: since + i * width,
    received: 0,
    crmBound: 0,
    bytesSent: 0,
  }));
  for (const p of series) {
    const i = Math.floor((p.minute * 60_000 - since) / width);
    const b = buckets[Math.min(count - 1, Math.max(0, i))];
    if (!b) continue;
    b.received += p.received;
    b.crmBound += p.crmBound;
    b.bytesSent += p.bytesSent;
  }
  return buckets;
}

const W = 420;
const H = 130;
const LEFT = 64;
const BOTTOM = 20;
const TOP = 8;

/**
 * A bar chart drawn as inline SVG (no script, no external library). `metric` picks messages
 * (received behind, CRM-bound in front) or bytes sent to central.
 */
export const TrafficChart: FC<{
  series: Point[];
  since: number;
  until: number;
  metric: 'messages' | 'bytes';
  label: string;
}> = ({ series, since, until, metric, label }) => {
  const buckets = bucketSeries(series, since, until, 36);
  const value = (b: Bucket) => (metric === 'messages' ? b.received : b.bytesSent);
  const max = Math.max(1, ...buckets.map(value));
  const plotW = W - LEFT - 4;
  const plotH = H - TOP - BOTTOM;
  const barW = plotW / buckets.length;
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const total = buckets.reduce((s, b) => s + value(b), 0);
  const crmTotal = buckets.reduce((s, b) => s + b.crmBound, 0);
  const summary =
    metric === 'messages'
      ? `${label}: ${formatCount(total)} received, ${formatCount(crmTotal)} CRM-bound between ${formatTime(since)} and ${formatTime(until)}`
      : `${label}: ${formatBytes(total)} sent to central between ${formatTime(since)} and ${formatTime(until)}`;
  return (
    <figure class="chart-figure">
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        <line class="axis" x1={LEFT} y1={TOP + plotH} x2={W - 4} y2={TOP + plotH} />
        <line class="axis" x1={LEFT} y1={TOP} x2={LEFT} y2={TOP + plotH} />
        <text x={LEFT - 4} y={TOP + 9} text-anchor="end">
          {metric === 'messages' ? formatCount(max) : formatBytes(max)}
        </text>
        <text x={LEFT - 4} y={TOP + plotH} text-anchor="end">
          0
        </text>
        {buckets.map((b, i) => {
          const x = LEFT + i * barW + 0.5;
          const w = Math.max(1, barW - 1);
          const bar = (cls: string, v: number) =>
            v > 0 ? <rect class={cls} x={x} y={y(v)} width={w} height={TOP + plotH - y(v)} /> : null;
          if (metric === 'bytes') return bar('bar-bytes', b.bytesSent);
          return (
            <>
              {bar('bar-received', b.received)}
              {bar('bar-crm', b.crmBound)}
            </>
          );
        })}
        <text x={LEFT} y={H - 4}>
          {formatTime(since).slice(5, 16)}
        </text>
        <text x={W - 4} y={H - 4} text-anchor="end">
          {formatTime(until).slice(5, 16)} UTC
        </text>
      </svg>
      <figcaption>
        <ul class="legend">
          {(metric === 'messages'
            ? [
                ['received', 'received'],
                ['crm', 'CRM-bound'],
              ]
            : [['bytes', 'bytes sent to central']]
          ).map(([swatch, text]) => (
            <li>
              <span class={`swatch ${swatch}`} aria-hidden="true" />
              {text}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
};
