// Design §6: cross-region bytes in both directions by kind, and the per-region canary, as
// GET /api/v1/stats gives them; a canary is recorded and never becomes an activity or a delivery.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import { noticeEdges } from '../../src/central/snapshot/edge-notice.js';
import { CANARY_STALE_MS, signCanary } from '../../src/core/canary.js';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import type { CanaryReport } from '../../src/core/wire.js';
import { createDb } from '../../src/db/client.js';
import { EDGE_SECRET, itemMaker, sendBatch } from './edge-batch.js';
import { api, freshBasics, routeMailboxes } from './helpers.js';

const receiver = inject('crmReceiver');
const item = itemMaker('canary-neighbour', () => ({ mailboxes: ['alice@contoso.example'] }));

type RegionStats = {
  region: string;
  healthy: boolean;
  crossRegion: {
    bytesToCentral: number;
    bytesFromCentral: number;
    byKind: Record<string, { toCentral: number; fromCentral: number }>;
  };
  canary: { lastRoundTripMs: number | null; at: number | null };
};

async function stats() {
  const res = await api('GET', '/api/v1/stats');
  expect(res.status).toBe(200);
  const region = (id: string) => (res.json.regions as RegionStats[]).find((r) => r.region === id)!;
  return { region, total: res.json.total as Pick<RegionStats, 'crossRegion'> };
}

async function canary(region: string, sentAt: number, key?: string): Promise<CanaryReport> {
  const signingKey = key ?? (await deriveEdgeCredentials(EDGE_SECRET, region)).signingKey;
  const id = crypto.randomUUID();
  return {
    kind: 'canary',
    id,
    region,
    sentAt,
    signature: await signCanary(signingKey, { region, id, sentAt }),
  };
}

const zeroKinds = {
  ingest: { toCentral: 0, fromCentral: 0 },
  snapshot: { toCentral: 0, fromCentral: 0 },
  notice: { toCentral: 0, fromCentral: 0 },
  heartbeat: { toCentral: 0, fromCentral: 0 },
  spool: { toCentral: 0, fromCentral: 0 },
  canary: { toCentral: 0, fromCentral: 0 },
};

async function freshWithApac() {
  await freshBasics();
  await api('PUT', '/api/v1/regions/apac', { body: { name: 'APAC', rulesEnabled: true } });
}

describe('cross-region bytes in GET /api/v1/stats', () => {
  beforeEach(freshWithApac);

  test('the bytes each heartbeat reports are summed per region and kind, both directions, and in total', async () => {
    const heartbeat = (crossRegion: object) => sendBatch({ region: 'eu', heartbeat: { crossRegion } });
    expect(
      (
        await heartbeat({
          ingest: { toCentral: 1000, fromCentral: 200 },
          snapshot: { toCentral: 300, fromCentral: 50_000 },
        })
      ).status,
    ).toBe(200);
    await heartbeat({
      ingest: { toCentral: 500, fromCentral: 100 },
      heartbeat: { toCentral: 400, fromCentral: 90 },
    });
    await sendBatch({
      region: 'apac',
      heartbeat: { crossRegion: { spool: { toCentral: 7, fromCentral: 3 } } },
    });

    const { region, total } = await stats();
    expect(region('eu').crossRegion).toEqual({
      bytesToCentral: 2200,
      bytesFromCentral: 50_390,
      byKind: {
        ...zeroKinds,
        ingest: { toCentral: 1500, fromCentral: 300 },
        snapshot: { toCentral: 300, fromCentral: 50_000 },
        heartbeat: { toCentral: 400, fromCentral: 90 },
      },
    });
    expect(region('apac').crossRegion.byKind.spool).toEqual({ toCentral: 7, fromCentral: 3 });
    expect(total.crossRegion).toMatchObject({ bytesToCentral: 2207, bytesFromCentral: 50_393 });
    expect(total.crossRegion.byKind.ingest).toEqual({ toCentral: 1500, fromCentral: 300 });
  });

  test('a report posted again under its id (the answer to its batch was lost) is counted once', async () => {
    const report = { id: `xr-${crypto.randomUUID()}`, ingest: { toCentral: 1000, fromCentral: 200 } };
    for (let attempt = 0; attempt < 3; attempt++)
      expect(
        (
          await sendBatch({
            region: 'eu',
            heartbeat: { crossRegion: { ingest: report.ingest }, crossRegionId: report.id },
          })
        ).status,
      ).toBe(200);
    // A new report of the same size counts again: it is new bytes.
    await sendBatch({
      region: 'eu',
      heartbeat: { crossRegion: { ingest: report.ingest }, crossRegionId: `xr-${crypto.randomUUID()}` },
    });
    const { region } = await stats();
    expect(region('eu').crossRegion.byKind.ingest).toEqual({ toCentral: 2000, fromCentral: 400 });
  });

  test("the home region's edge talks to central in its own region: nothing of it crosses", async () => {
    await sendBatch({
      region: 'us',
      heartbeat: { crossRegion: { ingest: { toCentral: 1000, fromCentral: 10 } } },
    });
    const { region, total } = await stats();
    expect(region('us').crossRegion).toEqual({ bytesToCentral: 0, bytesFromCentral: 0, byKind: zeroKinds });
    expect(total.crossRegion.bytesToCentral).toBe(0);
  });

  test('a heartbeat with a kind or a count that is not one is refused with the field named', async () => {
    const odd = await sendBatch({
      region: 'eu',
      heartbeat: { crossRegion: { gossip: { toCentral: 1, fromCentral: 1 } } as never },
    });
    expect(odd.status).toBe(400);
    expect(JSON.stringify(odd.json)).toContain('crossRegion');
    const negative = await sendBatch({
      region: 'eu',
      heartbeat: { crossRegion: { ingest: { toCentral: -5, fromCentral: 1 } } },
    });
    expect(negative.status).toBe(400);
  });

  test("central counts its own snapshot notices to a region, request and answer, under 'notice'", async () => {
    const central = { ...(env as unknown as CentralBindings), SNAPSHOT_PUSH: 'on' } as CentralBindings;
    await env.DB.prepare("update regions set edge_url = ? where id = 'eu'").bind(`${receiver}/edge-eu`).run();
    const [outcome] = await noticeEdges(central, createDb(env.DB), ['eu']);
    expect(outcome).toMatchObject({ region: 'eu', status: 'sent', answer: 200 });
    const notice = (await stats()).region('eu').crossRegion.byKind.notice!;
    // The body alone is a few dozen bytes; the signed head is more than a hundred.
    expect(notice.fromCentral).toBeGreaterThan(150);
    expect(notice.toCentral).toBeGreaterThan(17 + 2);
  });
});

describe('the region canary at central', () => {
  beforeEach(freshWithApac);

  test("a region's signed canary is recorded with its round trip; with a heartbeat the region is healthy", async () => {
    const sentAt = Date.now() - 1500;
    expect((await stats()).region('eu').healthy).toBe(false);
    const res = await sendBatch({ region: 'eu', canaries: [await canary('eu', sentAt)], heartbeat: {} });
    expect(res.status).toBe(200);
    const eu = (await stats()).region('eu');
    expect(eu.canary.lastRoundTripMs).toBeGreaterThanOrEqual(1500);
    expect(eu.canary.lastRoundTripMs).toBeLessThan(60_000);
    expect(eu.canary.at).toBeGreaterThanOrEqual(sentAt + 1500);
    expect(eu.healthy).toBe(true);
  });

  test('a live heartbeat without a canary, or with a stale one, is not healthy', async () => {
    await sendBatch({ region: 'eu', heartbeat: {} });
    expect((await stats()).region('eu')).toMatchObject({
      healthy: false,
      canary: { lastRoundTripMs: null, at: null },
    });
    await env.DB.prepare(
      'insert into region_canaries (region, round_trip_ms, sent_at, at) values (?, ?, ?, ?)',
    )
      .bind('eu', 120, Date.now() - CANARY_STALE_MS - 60_000, Date.now() - CANARY_STALE_MS - 1000)
      .run();
    expect((await stats()).region('eu')).toMatchObject({ healthy: false, canary: { lastRoundTripMs: 120 } });
  });

  test("a canary not signed with the region's key, or another region's, is recorded nowhere", async () => {
    const forged = await canary('eu', Date.now(), 'a-key-anyone-could-guess');
    const foreign = await canary('apac', Date.now());
    const res = await sendBatch({
      region: 'eu',
      canaries: [forged, { ...foreign, region: 'eu' }],
      heartbeat: {},
    });
    expect(res.status).toBe(200);
    const { region } = await stats();
    expect(region('eu').canary).toEqual({ lastRoundTripMs: null, at: null });
    expect(region('apac').canary).toEqual({ lastRoundTripMs: null, at: null });
  });

  test('a canary is never an activity or a disposition, and nothing reaches the CRM receiver', async () => {
    await routeMailboxes(['alice@contoso.example', 'us', 'contoso', 'u-alice', 'all']);
    await env.DB.prepare('update deployments set webhook_url = ?').bind(`${receiver}/canary-hook`).run();
    const hits = async () =>
      ((await (await fetch(`${receiver}/hits`)).json()) as string[]).filter((p) =>
        p.startsWith('/canary-hook'),
      );
    const res = await sendBatch({
      region: 'eu',
      canaries: [await canary('eu', Date.now() - 10)],
      heartbeat: {},
    });
    expect(res.json).toMatchObject({ results: [], receipts: 0 });
    // A real item beside it still goes to the CRM: the receiver is reachable from here.
    const beside = await sendBatch({ region: 'us', items: [item()] });
    expect(beside.json.results[0]).toMatchObject({ status: 'accepted' });
    const activities = (await api('GET', '/api/v1/activities')).json.items as { messageId: string }[];
    expect(activities).toHaveLength(1);
    expect(activities[0]!.messageId).toContain('canary-neighbour');
    expect((await api('GET', '/api/v1/dispositions')).json.items).toEqual([]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await hits()).length < 1) await new Promise((r) => setTimeout(r, 100));
    expect(await hits()).toHaveLength(1);
  });
});
