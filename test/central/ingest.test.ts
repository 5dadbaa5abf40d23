import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test } from 'vitest';
import { drainWebhookOutbox } from '../../src/central/delivery/webhooks.js';
import { getHashKey } from '../../src/central/services/hash-key.js';
import { keyedHash } from '../../src/core/keyed-hash.js';
import type { Receipt } from '../../src/core/wire.js';
import { createDb } from '../../src/db/client.js';
import { eventually } from '../support/eventually.js';
import { itemMaker, type SendOptions, sendBatch } from './edge-batch.js';
import { api, fetchSnapshot, seedBasics } from './helpers.js';

const item = itemMaker('item', () => ({
  contentHash: 'a'.repeat(64),
  receivedAt: Date.now() - 50,
  sizeBytes: 1234,
  correlation: { method: 'all', detail: 'mailbox filter mode is all' },
  from: { address: 'buyer@customer.example', name: 'Buyer' },
  to: [{ address: 'alice@contoso.example' }],
  subject: 'Order',
}));

async function countActivities(messageId: string) {
  const res = await api('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
  return res.json.items as { mailboxes: string[]; regions: string[]; id: string }[];
}

describe('POST /api/v1/ingest', () => {
  beforeEach(async () => {
    await seedBasics();
    for (const [address, region] of [
      ['alice@contoso.example', 'us'],
      ['bob@contoso.example', 'us'],
      ['carol@contoso.example', 'us'],
      ['dave@contoso.example', 'eu'],
      ['erin@contoso.example', 'eu'],
    ])
      await api('PUT', `/api/v1/mailboxes/${address}`, {
        body: { region, deployment: 'contoso', userId: `u-${address}`, filter: 'all' },
      });
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-buyer', emails: ['buyer@customer.example'] }] },
    });
  });

  test('a signed batch is stored and answered per item with the snapshot version', async () => {
    const it = item();
    const res = await sendBatch({ items: [it] });
    expect(res.status).toBe(200);
    expect(res.json.results).toEqual([{ id: it.id, status: 'accepted', activityId: expect.any(String) }]);
    expect(res.json.snapshotVersion).toBeGreaterThan(0);
    const [activity] = await countActivities(it.messageId!);
    expect(activity).toMatchObject({
      deployment: 'contoso',
      subject: 'Order',
      from: 'buyer@customer.example',
      parties: [
        {
          role: 'from',
          address: 'buyer@customer.example',
          name: 'Buyer',
          recordType: 'contact',
          recordId: 'c-buyer',
        },
        { role: 'to', address: 'alice@contoso.example' },
      ],
      mailboxes: ['alice@contoso.example'],
      regions: ['us'],
    });
  });

  test('activity ids are time-ordered (UUIDv7): activities of a later batch sort after, as text', async () => {
    const first = await sendBatch({ items: [item(), item()] });
    await new Promise((resolve) => setTimeout(resolve, 2));
    const second = await sendBatch({ items: [item()] });
    const ids = [...first.json.results, ...second.json.results].map(
      (r: { activityId: string }) => r.activityId,
    );
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const last = ids.pop() as string;
    for (const id of ids) expect(id < last, `${id} < ${last}`).toBe(true);
  });

  test('a reply names the regarding record of the outbound message it answers, by In-Reply-To or by tracking token', async () => {
    const outboundId = `out-${crypto.randomUUID()}@contoso.example`;
    const reg = await api('POST', '/api/v1/deployments/contoso/outbound', {
      body: {
        messageId: `<${outboundId}>`,
        userId: 'u-alice',
        subject: 'Quote',
        regarding: { type: 'opportunity', id: 'opp-7' },
      },
    });
    expect(reg.status).toBe(201);
    const byReply = item({
      inReplyTo: [outboundId],
      reason: 'tracked:in-reply-to',
      correlation: { method: 'in-reply-to', detail: 'In-Reply-To matches a registered outbound message' },
    });
    const byToken = item({
      subject: `RE: ${reg.json.subject}`,
      trackingToken: reg.json.trackingToken.toLowerCase(),
      reason: 'tracked:token',
      correlation: { method: 'token', detail: 'tracking token in subject' },
    });
    const res = await sendBatch({ items: [byReply, byToken] });
    expect(res.json.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted']);
    for (const it of [byReply, byToken]) {
      const [activity] = await countActivities(it.messageId!);
      expect((activity as unknown as { regarding: unknown }).regarding).toEqual({
        type: 'opportunity',
        id: 'opp-7',
      });
    }
  });

  test('the same message forwarded by 5 mailboxes in 2 regions is one activity with 5 mailboxes and 2 regions', async () => {
    const messageId = `shared-${crypto.randomUUID()}@customer.example`;
    const us = ['alice', 'bob', 'carol'].map((u) => item({ messageId, mailboxes: [`${u}@contoso.example`] }));
    const eu = ['dave', 'erin'].map((u) =>
      item({ messageId, region: 'eu', mailboxes: [`${u}@contoso.example`] }),
    );
    const a = await sendBatch({ items: us });
    const b = await sendBatch({ region: 'eu', items: eu });
    expect(a.json.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'merged', 'merged']);
    expect(b.json.results.map((r: { status: string }) => r.status)).toEqual(['merged', 'merged']);
    const activities = await countActivities(messageId);
    expect(activities).toHaveLength(1);
    expect(activities[0]!.mailboxes.sort()).toEqual(
      ['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => `${u}@contoso.example`),
    );
    expect(activities[0]!.regions.sort()).toEqual(['eu', 'us']);
  });

  test('the same items delivered twice (a queue redelivery) double nothing: one activity, one delivery to the CRM', async () => {
    // Counted where it matters, at the CRM's endpoint: the activity count alone rests on D1's unique
    // index and could not show a second webhook delivery of the same copy.
    const path = `/hook/redelivery-${crypto.randomUUID()}`;
    await env.DB.prepare('update deployments set webhook_url = ? where id = ?')
      .bind(`${inject('crmReceiver')}${path}`, 'contoso')
      .run();
    const items = [item(), item()];
    await sendBatch({ items });
    const again = await sendBatch({ items });
    expect(again.json.results.map((r: { status: string }) => r.status)).toEqual(['merged', 'merged']);
    const activityIds: string[] = [];
    for (const it of items) {
      const acts = await countActivities(it.messageId!);
      expect(acts).toHaveLength(1);
      expect(acts[0]!.mailboxes).toEqual(['alice@contoso.example']);
      activityIds.push(acts[0]!.id);
    }
    // Every delivery row of both activities settled (the webhook queue's consumer or this drain),
    // then what the receiver got.
    const db = createDb((env as unknown as { DB: D1Database }).DB);
    await eventually(async () => {
      await drainWebhookOutbox(db, { edgeKeySecret: 'test-edge-secret', production: false });
      for (const id of activityIds) {
        const rows = (await api('GET', `/api/v1/activities/${id}`)).json.webhookDeliveries as {
          state: string;
        }[];
        if (rows.length === 0 || rows.some((r) => r.state !== 'delivered')) return undefined;
      }
      return true;
    }, 30_000);
    const received = (
      (await (await fetch(`${inject('crmReceiver')}/deliveries`)).json()) as {
        path: string;
        event: string;
        activityId: string;
      }[]
    ).filter((d) => d.path === path);
    expect(received.map((d) => `${d.activityId} ${d.event}`).sort()).toEqual(
      activityIds.map((id) => `${id} activity.accepted`).sort(),
    );
  });

  test('racing batches carrying the same message end in one activity with every mailbox', async () => {
    const messageId = `race-${crypto.randomUUID()}@customer.example`;
    const results = await Promise.all(
      ['alice', 'bob', 'carol'].map((u) =>
        sendBatch({ items: [item({ messageId, mailboxes: [`${u}@contoso.example`] })] }),
      ),
    );
    const statuses = results.map((r) => r.json.results[0].status).sort();
    expect(statuses).toEqual(['accepted', 'merged', 'merged']);
    const acts = await countActivities(messageId);
    expect(acts).toHaveLength(1);
    expect(acts[0]!.mailboxes.sort()).toEqual([
      'alice@contoso.example',
      'bob@contoso.example',
      'carol@contoso.example',
    ]);
  });

  test('a message without Message-ID is deduplicated on its content hash', async () => {
    const hash = 'b'.repeat(64);
    const first = item({ messageId: undefined, contentHash: hash });
    const second = item({ messageId: undefined, contentHash: hash, mailboxes: ['bob@contoso.example'] });
    await sendBatch({ items: [first] });
    const res = await sendBatch({ items: [second] });
    expect(res.json.results[0].status).toBe('merged');
  });

  test('a poison item is dead-lettered while the rest of its batch is stored, and replay works once fixed', async () => {
    const good = item();
    const poison = { ...item(), deployment: 'no-such-deployment' };
    const res = await sendBatch({ items: [good, poison] });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.json.results.map((r: { id: string }) => [r.id, r]));
    expect(byId[good.id].status).toBe('accepted');
    expect(byId[poison.id]).toMatchObject({
      status: 'rejected',
      reason: expect.stringContaining('unknown deployment'),
    });
    expect(await countActivities(good.messageId!)).toHaveLength(1);

    const dead = await api('GET', '/api/v1/dead-letters');
    const letter = dead.json.items.find(
      (d: { messageId: string | null }) => d.messageId === poison.messageId,
    );
    expect(letter).toMatchObject({ region: 'us', error: expect.stringContaining('unknown deployment') });

    // Still poison: replay keeps it a dead letter and says why.
    const stillBad = await api('POST', `/api/v1/dead-letters/${letter.id}/replay`);
    expect(stillBad.json.status).toBe('rejected');
    // Once the deployment exists and routes a mailbox in the letter's region (the claims of live
    // ingest, ingest-claims.ts), the replay goes through.
    await api('PUT', '/api/v1/deployments/no-such-deployment', { body: { name: 'Late' } });
    await api('PUT', '/api/v1/mailboxes/late@late.example', {
      body: { region: 'us', deployment: 'no-such-deployment', userId: 'u-late', filter: 'all' },
    });
    const replay = await api('POST', `/api/v1/dead-letters/${letter.id}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ status: 'accepted', activityId: expect.any(String) });
    expect(await countActivities(poison.messageId!)).toHaveLength(1);
  });

  test('50 dead letters reported by an edge in one batch are all stored (D1 bound-parameter limit)', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const reports = Array.from({ length: 50 }, (_, i) => ({
      id: `dl-${tag}-${i}`,
      item: item({ messageId: `dead-${tag}-${i}@customer.example` }),
      error: 'item body is missing from the region store',
      attempts: 3,
    }));
    const res = await sendBatch({ deadLetters: reports });
    expect(res.status).toBe(200);
    const dead = await api('GET', '/api/v1/dead-letters?limit=1000');
    const stored = dead.json.items.filter((d: { id: string }) => d.id.startsWith(`dl-${tag}-`));
    expect(stored).toHaveLength(50);
  });

  test('50 poison items in one batch are all dead-lettered with their reason, batch-mates stored', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const good = item();
    const poison = Array.from({ length: 50 }, (_, i) => ({
      ...item({ messageId: `poison-${tag}-${i}@customer.example` }),
      deployment: `gone-${tag}`,
    }));
    const res = await sendBatch({ items: [good, ...poison] });
    expect(res.status).toBe(200);
    expect(res.json.results.filter((r: { status: string }) => r.status === 'rejected')).toHaveLength(50);
    expect(await countActivities(good.messageId!)).toHaveLength(1);
    const dead = await api('GET', '/api/v1/dead-letters?limit=1000');
    const stored = dead.json.items.filter((d: { messageId: string | null }) =>
      d.messageId?.startsWith(`poison-${tag}-`),
    );
    expect(stored).toHaveLength(50);
    expect(stored[0].error).toContain(`unknown deployment gone-${tag}`);
  });

  test('a structurally invalid item is rejected as malformed and dead-lettered', async () => {
    const good = item();
    const res = await sendBatch({ items: [good, { kind: 'item', id: 'broken-item-1', mailboxes: 'nope' }] });
    const broken = res.json.results.find((r: { id: string }) => r.id === 'broken-item-1');
    expect(broken).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^malformed/) });
    expect(await countActivities(good.messageId!)).toHaveLength(1);
  });

  test('a sender-record item whose sender is not a record is dropped as record-false-positive', async () => {
    const it = item({
      from: { address: 'stranger@nowhere.example' },
      reason: 'tracked:sender-record',
      correlation: { method: 'sender-record', detail: 'sender matches a CRM record' },
    });
    const res = await sendBatch({ items: [it] });
    expect(res.json.results[0]).toMatchObject({
      status: 'rejected',
      reason: expect.stringContaining('record-false-positive'),
    });
    expect(await countActivities(it.messageId!)).toHaveLength(0);
    const disp = await api(
      'GET',
      `/api/v1/dispositions?reason=record-false-positive&messageId=${encodeURIComponent(it.messageId!)}`,
    );
    expect(disp.json.items).toHaveLength(1);
  });

  test('receipts become dispositions and count as tossed traffic', async () => {
    const usStats = async () =>
      (await api('GET', '/api/v1/stats')).json.regions.find((r: { region: string }) => r.region === 'us');
    const before = await usStats();
    const res = await sendBatch({
      receipts: [
        {
          kind: 'receipt',
          id: `r-${crypto.randomUUID()}`,
          region: 'us',
          reason: 'bulk',
          sizeBytes: 500,
          at: Date.now(),
        },
        {
          kind: 'receipt',
          id: `r-${crypto.randomUUID()}`,
          region: 'us',
          reason: 'bulk',
          sizeBytes: 700,
          at: Date.now(),
        },
      ],
    });
    expect(res.json.receipts).toBe(2);
    const after = await usStats();
    expect((after.tossed.bulk ?? 0) - (before.tossed.bulk ?? 0)).toBe(2);
    expect(after.receivedBytes - before.receivedBytes).toBe(1200);
    expect(after.received - before.received).toBe(2);
    expect(after.crmBound).toBe(before.crmBound);
  });

  test('a copy delivered again (an edge retry after a lost answer) is counted once, not twice', async () => {
    const usStats = async () =>
      (await api('GET', '/api/v1/stats')).json.regions.find((r: { region: string }) => r.region === 'us');
    const before = await usStats();
    const it = item();
    const tossed = {
      kind: 'receipt' as const,
      id: `r-${crypto.randomUUID()}`,
      region: 'us',
      reason: 'bulk' as const,
      sizeBytes: 500,
      at: Date.now(),
    };
    // The edge posts, central commits, the answer is lost: the edge posts the same copies again
    // in a new batch (a new batch id, as a queue retry or a spool drain makes).
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await sendBatch({ items: [it], receipts: [tossed] });
      expect(res.status).toBe(200);
    }
    const after = await usStats();
    expect(after.received - before.received).toBe(2);
    expect(after.crmBound - before.crmBound).toBe(1);
    expect(after.crmBoundBytes - before.crmBoundBytes).toBe(it.sizeBytes);
    expect(after.receivedBytes - before.receivedBytes).toBe(it.sizeBytes + 500);
    expect((after.tossed.bulk ?? 0) - (before.tossed.bulk ?? 0)).toBe(1);
    expect(after.latencyMs.samples - before.latencyMs.samples).toBe(1);
    // Two new copies in one batch still count as two.
    const [a, b] = [item(), item()];
    await sendBatch({ items: [a, b] });
    expect((await usStats()).crmBound - after.crmBound).toBe(2);
  });
});

describe('POST /api/v1/ingest refuses bad credentials and stores nothing', () => {
  beforeEach(seedBasics);

  const cases: [string, SendOptions, number, string][] = [
    ['a tampered signature', { tamper: true }, 401, 'bad_signature'],
    ['a stale timestamp', { timestamp: Date.now() - 6 * 60 * 1000 }, 401, 'stale_timestamp'],
    ["another region's key", { keyRegion: 'eu' }, 401, 'bad_signature'],
    ["another region's token", { tokenRegion: 'eu' }, 403, 'forbidden'],
    ['no token', { token: null }, 401, 'unauthorized'],
    ['an admin token', { token: 'local-admin-token' }, 403, 'forbidden'],
  ];

  test.each(cases)('%s is refused', async (_name, opts, status, code) => {
    const it = item();
    const res = await sendBatch({ items: [it] }, opts);
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(await countActivities(it.messageId!)).toHaveLength(0);
  });

  test('a replayed batch id is a 409 and stores nothing twice', async () => {
    const it = item();
    const batchId = crypto.randomUUID();
    const first = await sendBatch({ batchId, items: [it] });
    expect(first.status).toBe(200);
    const other = item();
    const second = await sendBatch({ batchId, items: [other] });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('replayed_batch');
    expect(await countActivities(other.messageId!)).toHaveLength(0);
    expect(await countActivities(it.messageId!)).toHaveLength(1);
  });

  test("a receipt names its routed mailbox, one routed after the region's last batch too; the answer names the version read with the claims", async () => {
    const hashKey = await getHashKey(createDb(env.DB));
    let n = 0;
    const receipt = (address: string): Receipt => ({
      kind: 'receipt',
      id: `receipt-${Date.now()}-${++n}`,
      region: 'us',
      reason: 'filter:no-correlation',
      deployment: 'contoso',
      mailboxHash: keyedHash(hashKey, address),
      sizeBytes: 100,
      at: Date.now(),
    });
    const mailboxOf = async (id: string) => {
      const res = await api('GET', '/api/v1/dispositions?region=us&limit=1000');
      return (res.json.items as { id: string; mailbox: string | null }[]).find((d) => d.id === id)?.mailbox;
    };
    const first = receipt('alice@contoso.example');
    const one = await sendBatch({ receipts: [first] });
    expect(one.status).toBe(200);
    expect(await mailboxOf(first.id)).toBe('alice@contoso.example');
    const version = (await api('GET', '/api/v1/regions/us')).json.snapshotVersion as number;
    expect(one.json.snapshotVersion).toBe(version);
    // A mailbox routed now: the names cached for the old version must not hide it.
    await api('PUT', '/api/v1/mailboxes/frank@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-frank', filter: 'all' },
    });
    const later = receipt('frank@contoso.example');
    const two = await sendBatch({ receipts: [later] });
    expect(two.status).toBe(200);
    expect(two.json.snapshotVersion).toBeGreaterThan(version);
    expect(await mailboxOf(later.id)).toBe('frank@contoso.example');
    // A hash of no routed mailbox names none.
    const stranger = receipt('nobody@contoso.example');
    await sendBatch({ receipts: [stranger] });
    expect(await mailboxOf(stranger.id)).toBeNull();
  });

  test('an oversized batch is a 413', async () => {
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 2654435761) % 251);
    const res = await sendBatch({}, { rawBody: big });
    expect(res.status).toBe(413);
  });

  test('a body that is not gzip is a 400', async () => {
    const res = await sendBatch({}, { rawBody: new TextEncoder().encode('{"batchId":"x"}') });
    expect(res.status).toBe(400);
  });
});

describe('GET /api/v1/edge/snapshot', () => {
  beforeEach(seedBasics);

  test('serves the binary snapshot with an ETag and answers 304 to If-None-Match', async () => {
    const res = await fetchSnapshot('us');
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const again = await fetchSnapshot('us', { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  test('a change to the region produces a new version and ETag', async () => {
    const first = await fetchSnapshot('us');
    const v1 = Number(first.headers.get('x-snapshot-version'));
    await api('PUT', '/api/v1/regions/us', { body: { name: 'US', rulesEnabled: false } });
    const second = await fetchSnapshot('us', { 'if-none-match': first.headers.get('etag')! });
    expect(second.status).toBe(200);
    expect(Number(second.headers.get('x-snapshot-version'))).toBeGreaterThan(v1);
  });

  test("an edge may not fetch another region's snapshot", async () => {
    const res = await fetchSnapshot('eu', {}, 'us');
    expect(res.status).toBe(403);
  });

  test('central records the fetch as a heartbeat', async () => {
    await fetchSnapshot('eu');
    const region = await api('GET', '/api/v1/regions/eu');
    expect(region.json.lastHeartbeatAt).toBeGreaterThan(Date.now() - 60_000);
  });
});

void env;
