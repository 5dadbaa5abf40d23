import { createScheduledController, env } from 'cloudflare:test';
import { describe, expect, test } from 'vitest';
import worker from '../../src/central/index.js';
import {
  BATCH_ID_RETENTION_MS,
  COUNTER_RETENTION_MS,
  LATENCY_RETENTION_MS,
} from '../../src/central/services/retention.js';

describe('central cron', () => {
  test('prunes latency samples and seen batch ids past their retention, keeping recent ones', async () => {
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare('insert into latency_samples (region, at, ms) values (?, ?, ?), (?, ?, ?)').bind(
        'us',
        now - LATENCY_RETENTION_MS - 1000,
        5,
        'us',
        now - 1000,
        7,
      ),
      env.DB.prepare(
        'insert into ingest_batches (id, region, received_at, items) values (?, ?, ?, 0), (?, ?, ?, 0)',
      ).bind('old-batch-1', 'us', now - BATCH_ID_RETENTION_MS - 1000, 'new-batch-1', 'us', now - 1000),
    ]);
    await worker.scheduled(createScheduledController(), env as never);
    const samples = await env.DB.prepare('select ms from latency_samples order by ms').all<{ ms: number }>();
    expect(samples.results.map((r) => r.ms)).toEqual([7]);
    const batches = await env.DB.prepare("select id from ingest_batches where id like '%-batch-1'").all<{
      id: string;
    }>();
    expect(batches.results.map((r) => r.id)).toEqual(['new-batch-1']);
  });
});

describe('central cron: traffic counters and canaries', () => {
  test('prunes edge and cross-region counter minutes older than the stats window, keeping the window', async () => {
    const minute = Math.floor(Date.now() / 60_000);
    const old = minute - COUNTER_RETENTION_MS / 60_000 - 1;
    await env.DB.batch([
      env.DB.prepare("insert into regions (id, name) values ('rc', 'counted')"),
      env.DB.prepare(
        "insert into edge_counters (region, minute, received, tossed) values ('rc', ?, 1, '{}'), ('rc', ?, 2, '{}')",
      ).bind(old, minute - 1),
      env.DB.prepare(
        "insert into cross_region_counters (region, minute, kind, to_central, from_central) values ('rc', ?, 'ingest', 10, 1), ('rc', ?, 'ingest', 20, 2)",
      ).bind(old, minute - 1),
    ]);
    await worker.scheduled(createScheduledController(), env as never);
    const edge = await env.DB.prepare("select received from edge_counters where region = 'rc'").all<{
      received: number;
    }>();
    expect(edge.results.map((r) => r.received)).toEqual([2]);
    const cross = await env.DB.prepare(
      "select to_central from cross_region_counters where region = 'rc'",
    ).all<{ to_central: number }>();
    expect(cross.results.map((r) => r.to_central)).toEqual([20]);
  });

  test("keeps every existing region's last canary however old, and drops the canaries of regions that are gone", async () => {
    const longAgo = Date.now() - 400 * 24 * 3600 * 1000;
    await env.DB.batch([
      env.DB.prepare("insert into regions (id, name) values ('rc-kept', 'kept')"),
      env.DB.prepare(
        "insert into region_canaries (region, round_trip_ms, sent_at, at) values ('rc-kept', 40, ?, ?), ('rc-gone', 50, ?, ?)",
      ).bind(longAgo, longAgo, longAgo, longAgo),
    ]);
    await worker.scheduled(createScheduledController(), env as never);
    const rows = await env.DB.prepare(
      "select region, round_trip_ms from region_canaries where region like 'rc-%'",
    ).all<{ region: string; round_trip_ms: number }>();
    expect(rows.results).toEqual([{ region: 'rc-kept', round_trip_ms: 40 }]);
  });
});
