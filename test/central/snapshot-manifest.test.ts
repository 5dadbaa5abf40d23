// The snapshot as edges fetch it since issue 21: the region's manifest (ETag / 304) and its parts
// by content hash. Assembled from its parts, the manifest is the whole snapshot, byte for byte; a
// one-record change names one new part (a delta over its shard); a superseded part is gone.
import { env, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { runSnapshotKick } from '../../src/central/snapshot/snapshot-kicks.js';
import { keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/core/snapshot.js';
import {
  decodeManifest,
  manifestParts,
  partName,
  type SnapshotManifest,
  snapshotFromManifest,
} from '../../src/core/snapshot-manifest.js';
import { createDb } from '../../src/db/client.js';
import { api, BASE, expectError, fetchSnapshot, freshBasics } from './helpers.js';

/** A signed edge GET to central as the region's edge. */
async function edgeGet(region: string, path: string, headers: Record<string, string> = {}) {
  const timestamp = Date.now();
  const { signingKey, token } = await deriveEdgeCredentials('test-edge-secret', region);
  return SELF.fetch(`${BASE}${path}`, {
    headers: {
      authorization: `Bearer ${token}`,
      'x-edge-region': region,
      'x-edge-timestamp': String(timestamp),
      'x-edge-signature': await signBody(signingKey, timestamp, new Uint8Array()),
      ...headers,
    },
  });
}

async function manifest(region: string) {
  const res = await edgeGet(region, `/api/v1/edge/snapshot/manifest?region=${region}`);
  expect(res.status).toBe(200);
  return { etag: res.headers.get('etag'), manifest: decodeManifest(new Uint8Array(await res.arrayBuffer())) };
}

async function parts(region: string, m: SnapshotManifest) {
  const out = new Map<string, Uint8Array>();
  for (const name of manifestParts(m)) {
    const res = await edgeGet(region, `/api/v1/edge/snapshot/parts/${name}?region=${region}`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(partName(bytes)).toBe(name);
    out.set(name, bytes);
  }
  return out;
}

const records = (from: number, to: number) =>
  api('POST', '/api/v1/deployments/contoso/records', {
    body: {
      records: Array.from({ length: to - from }, (_, k) => ({
        type: 'contact',
        id: `c-${from + k}`,
        emails: [`person${from + k}@example.org`],
      })),
    },
  });

describe('snapshot manifest and parts', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    await records(0, 300);
  });

  test('the manifest and its parts assemble to the whole snapshot, byte for byte; 304 while unchanged', async () => {
    const { etag, manifest: m } = await manifest('eu');
    expect(m).toMatchObject({ format: 1, region: 'eu' });
    const whole = decodeSnapshot(new Uint8Array(await (await fetchSnapshot('eu')).arrayBuffer()));
    const held = await parts('eu', m);
    expect(encodeSnapshot(snapshotFromManifest(m, (n) => held.get(n)))).toEqual(encodeSnapshot(whole));
    const again = await edgeGet('eu', '/api/v1/edge/snapshot/manifest?region=eu', {
      'if-none-match': etag ?? '',
    });
    expect(again.status).toBe(304);
  });

  test('a one-record change names one new part, a delta of one key over the shard; the next change supersedes it', async () => {
    const before = (await manifest('eu')).manifest;
    await records(300, 301);
    const { manifest: after } = await manifest('eu');
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.format).toBe(2);
    const old = new Set(manifestParts(before));
    const fresh = manifestParts(after).filter((n) => !old.has(n));
    const deltas = after.deployments.contoso?.records.deltas ?? {};
    expect(fresh).toEqual(Object.values(deltas));
    expect(after.deployments.contoso?.records.shards).toEqual(before.deployments.contoso?.records.shards);
    const held = await parts('eu', after);
    expect(held.get(fresh[0]!)?.length).toBe(8 + 9);
    // The whole snapshot carries the same deltas (format 3) and finds the record added.
    const wholeBytes = new Uint8Array(await (await fetchSnapshot('eu')).arrayBuffer());
    expect(wholeBytes[3]).toBe(3);
    const whole = decodeSnapshot(wholeBytes);
    expect(encodeSnapshot(snapshotFromManifest(after, (n) => held.get(n)))).toEqual(encodeSnapshot(whole));
    const key = keyedHash64(whole.hashKey, 'person300@example.org');
    expect(filterHas(whole.deployments.contoso!.records, key)).toBe(true);

    await records(301, 302);
    const { manifest: third } = await manifest('eu');
    const superseded = fresh[0] ?? '';
    expect(Object.values(third.deployments.contoso?.records.deltas ?? {})).not.toContain(superseded);
    const res = await edgeGet('eu', `/api/v1/edge/snapshot/parts/${superseded}?region=eu`);
    expectError(
      { status: res.status, json: await res.json() },
      404,
      'not_found',
      `snapshot part ${superseded} is not in the current manifest of eu`,
    );
  });

  test('a shard whose delta would cost more than the shard is rebuilt as a new base, with no delta', async () => {
    const before = (await manifest('eu')).manifest;
    const shard = before.deployments.contoso?.records.shards[0] ?? '';
    const shardBytes = (await parts('eu', before)).get(shard)?.length ?? 0;
    // planShard: a delta of k keys has cost ≈ 9·k²/2 bytes; past the shard's size (at least 576) it rebases.
    const k = Math.ceil(Math.sqrt((2 * Math.max(shardBytes, 576)) / 9)) + 1;
    await records(300, 300 + k);
    const { manifest: after } = await manifest('eu');
    expect(after.deployments.contoso?.records.deltas).toBeUndefined();
    expect(after.deployments.contoso?.records.shards[0]).not.toBe(shard);
    const held = await parts('eu', after);
    const s = snapshotFromManifest(after, (n) => held.get(n));
    for (let i = 0; i < 300 + k; i++)
      expect(
        filterHas(s.deployments.contoso!.records, keyedHash64(s.hashKey, `person${i}@example.org`)),
      ).toBe(true);
  });

  test("a kick that publishes a region splits its manifest, so the noticed edge's fetch is answered from R2", async () => {
    await runSnapshotKick(env, createDb(env.DB));
    const listed = await env.SNAPSHOTS.list({ prefix: 'regions/eu/' });
    expect(listed.objects.some((o) => o.key.endsWith('.manifest'))).toBe(true);
    expect(listed.objects.some((o) => o.key.startsWith('regions/eu/parts/'))).toBe(true);
  });

  test('a malformed part name is refused; another region cannot read this one', async () => {
    const bad = await edgeGet('eu', '/api/v1/edge/snapshot/parts/..%2Fx?region=eu');
    expect(bad.status).toBe(400);
    const { manifest: m } = await manifest('eu');
    const name = m.deployments.contoso?.meta ?? '';
    const timestamp = Date.now();
    const { signingKey } = await deriveEdgeCredentials('test-edge-secret', 'eu');
    const { token } = await deriveEdgeCredentials('test-edge-secret', 'us');
    const res = await SELF.fetch(`${BASE}/api/v1/edge/snapshot/parts/${name}?region=eu`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-edge-region': 'eu',
        'x-edge-timestamp': String(timestamp),
        'x-edge-signature': await signBody(signingKey, timestamp, new Uint8Array()),
      },
    });
    expect(res.status).toBe(403);
  });
});
