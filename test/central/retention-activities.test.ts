// Per-deployment retention (issue 13): the cron exports old activities and dispositions as NDJSON
// per day to the ARCHIVE bucket, then deletes them, in bounded batches.
import { createScheduledController, env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import worker from '../../src/central/index.js';
import { pruneRetention } from '../../src/central/services/retention.js';
import { createDb } from '../../src/db/client.js';
import { api, edgeSnapshot, freshBasics, mintToken } from './helpers.js';

const DAY = 24 * 3600 * 1000;

async function seedActivities(deployment: string, n: number, ageDays: number, prefix: string) {
  const at = Date.now() - ageDays * DAY;
  const base = (await env.DB.prepare('select coalesce(max(seq), 0) as s from activities').first<{
    s: number;
  }>())!.s;
  await env.DB.prepare(
    `insert into activities (id, deployment, dedupe_key, message_id, subject, parties, reason, correlation_method,
       correlation_detail, mailboxes, regions, egress, received_at, ingested_at, updated_at, seq)
     with recursive n(i) as (select 0 union all select i + 1 from n where i < ?3 - 1)
     select ?1 || i, ?2, ?1 || i, ?1 || i || '@x', 'subject ' || i, '[]', 'tracked:all', 'all', 'all', '[]', '["us"]',
       'metadata', ?4 + i, ?4 + i, ?4 + i, ?5 + i + 1 from n`,
  )
    .bind(prefix, deployment, n, at, base)
    .run();
}

async function count(table: string, deployment: string) {
  return (await env.DB.prepare(`select count(*) as n from ${table} where deployment = ?`)
    .bind(deployment)
    .first<{ n: number }>())!.n;
}

describe('per-deployment retention', () => {
  beforeEach(freshBasics);

  test('retentionDays is part of the deployment; only admins and its own token change it', async () => {
    const res = await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', retentionDays: 365 },
    });
    expect(res.json.retentionDays).toBe(365);
    expect(
      (await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 0 } }))
        .status,
    ).toBe(400);
    const token = await mintToken('deployment:fabrikam');
    expect(
      (await api('PUT', '/api/v1/deployments/contoso', { token, body: { name: 'C', retentionDays: 1 } }))
        .status,
    ).toBe(403);
    expect((await api('GET', '/api/v1/deployments/contoso')).json.retentionDays).toBe(365);
  });

  test("a deployment's retentionDays reaches its region's snapshot (the edges expire their copies by it)", async () => {
    for (const [address, deployment] of [
      ['ann@contoso.example', 'contoso'],
      ['fay@fabrikam.example', 'fabrikam'],
    ] as const)
      await api('PUT', `/api/v1/mailboxes/${address}`, {
        body: { region: 'us', deployment, userId: 'u', filter: 'all' },
      });
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 30 } });
    const first = await edgeSnapshot('us');
    expect(first.deployments.contoso?.retentionDays).toBe(30);
    expect(first.deployments.fabrikam).toBeDefined();
    expect(first.deployments.fabrikam?.retentionDays).toBeUndefined();
    // A change rebuilds the deployment's part; null (for ever) leaves the field out again.
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: null } });
    expect((await edgeSnapshot('us')).deployments.contoso?.retentionDays).toBeUndefined();
  });

  test('the cron exports then deletes what is past retention; newer rows and other deployments stay', async () => {
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 30 } });
    await seedActivities('contoso', 40, 45, 'old-');
    await seedActivities('contoso', 5, 1, 'new-');
    await seedActivities('fabrikam', 10, 400, 'fab-');
    await env.DB.prepare(
      `insert into dispositions (id, region, reason, deployment, size_bytes, at) values
       ('d-old', 'us', 'filter:none', 'contoso', 10, ?1), ('d-new', 'us', 'filter:none', 'contoso', 10, ?2)`,
    )
      .bind(Date.now() - 31 * DAY, Date.now())
      .run();
    const ctrl = createScheduledController({ scheduledTime: Date.now(), cron: '* * * * *' });
    await worker.scheduled(ctrl, env);
    expect(await count('activities', 'contoso')).toBe(5);
    expect(await count('activities', 'fabrikam')).toBe(10);
    expect(await count('dispositions', 'contoso')).toBe(1);
    const listed = await env.ARCHIVE.list({ prefix: 'exports/contoso/activities/' });
    const lines: Array<{ id: string; deployment: string }> = [];
    for (const o of listed.objects) {
      expect(o.key).toMatch(/^exports\/contoso\/activities\/\d{4}-\d{2}-\d{2}\/.+\.ndjson$/);
      const text = await (await env.ARCHIVE.get(o.key))!.text();
      for (const l of text.trim().split('\n')) lines.push(JSON.parse(l));
    }
    expect(lines.map((l) => l.id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `old-${i}`).sort());
    expect(lines.every((l) => l.deployment === 'contoso')).toBe(true);
    const disp = await env.ARCHIVE.list({ prefix: 'exports/contoso/dispositions/' });
    expect(disp.objects).toHaveLength(1);
  });

  test('a run prunes at most its batch budget; the next run goes on', async () => {
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 7 } });
    await seedActivities('contoso', 250, 10, 'b-');
    const db = createDb(env.DB);
    const first = await pruneRetention(db, env.ARCHIVE, Date.now(), { batch: 50, batches: 2 });
    expect(first.contoso?.activities).toBe(100);
    expect(await count('activities', 'contoso')).toBe(150);
    await pruneRetention(db, env.ARCHIVE, Date.now(), { batch: 50, batches: 10 });
    expect(await count('activities', 'contoso')).toBe(0);
  });

  test('an activity whose CRM delivery is pending is kept', async () => {
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 7 } });
    await seedActivities('contoso', 2, 10, 'p-');
    await env.DB.prepare(
      `insert into webhook_outbox (id, activity_id, deployment, event, state, next_attempt_at, created_at, updated_at)
       values ('o1', 'p-0', 'contoso', 'activity.created', 'pending', 0, 0, 0)`,
    ).run();
    await pruneRetention(createDb(env.DB), env.ARCHIVE, Date.now());
    const left = await env.DB.prepare("select id from activities where deployment = 'contoso'").all<{
      id: string;
    }>();
    expect(left.results.map((r) => r.id)).toEqual(['p-0']);
  });

  test('a full default batch (more than 100 expired rows) is pruned: the deletes stay within D1’s 100 parameters', async () => {
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 30 } });
    await seedActivities('contoso', 150, 45, 'old-');
    await seedActivities('contoso', 3, 1, 'new-');
    const pruned = await pruneRetention(createDb(env.DB), env.ARCHIVE, Date.now());
    expect(pruned.contoso?.activities).toBe(150);
    expect(await count('activities', 'contoso')).toBe(3);
  });
});
