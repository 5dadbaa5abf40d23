import { createScheduledController, env } from 'cloudflare:test';
import { describe, expect, test } from 'vitest';
import worker from '../../src/central/index.js';
import { BATCH_ID_RETENTION_MS, LATENCY_RETENTION_MS } from '../../src/central/services/retention.js';

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
