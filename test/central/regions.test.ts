import { beforeEach, describe, expect, test } from 'vitest';
import { api, expectError, freshBasics, mintToken } from './helpers.js';

describe('PUT /api/v1/regions/:id', () => {
  beforeEach(freshBasics);

  test('creates a region with the default egress policy', async () => {
    const res = await api('PUT', '/api/v1/regions/apac', {
      body: { name: 'Asia Pacific', rulesEnabled: false },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: 'apac',
      name: 'Asia Pacific',
      rulesEnabled: false,
      egress: 'metadata+subject',
      snapshotVersion: 1,
      snapshotPending: false,
      edgeSnapshotVersion: null,
      lastHeartbeatAt: null,
      edgeUrl: null,
      updatedAt: expect.any(Number),
    });
  });

  test('an update keeps the egress policy it leaves out and bumps the snapshot version', async () => {
    const before = (await api('GET', '/api/v1/regions/us')).json;
    const res = await api('PUT', '/api/v1/regions/us', {
      body: { name: 'United States', rulesEnabled: false },
    });
    expect(res.json).toMatchObject({
      name: 'United States',
      rulesEnabled: false,
      egress: 'full',
      snapshotVersion: before.snapshotVersion + 1,
    });
  });

  test.each([
    [{ rulesEnabled: true }, /^name: /],
    [{ name: 'X' }, /^rulesEnabled: /],
    [{ name: 'X', rulesEnabled: 'yes' }, /^rulesEnabled: /],
    [{ name: 'X', rulesEnabled: true, egress: 'everything' }, /^egress: /],
  ])('the body %j is a 400 naming the field', async (body, message) => {
    const res = await api('PUT', '/api/v1/regions/x', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(res.json.error.message).toMatch(message);
  });

  test('only admins may change regions; a deployment token gets 403 and nothing changes', async () => {
    const token = await mintToken('deployment:contoso');
    const res = await api('PUT', '/api/v1/regions/eu', { token, body: { name: 'EU', rulesEnabled: false } });
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/regions/eu')).json.rulesEnabled).toBe(true);
  });
});

describe('GET /api/v1/regions and /api/v1/regions/:id', () => {
  beforeEach(freshBasics);

  test('lists regions in id order', async () => {
    const res = await api('GET', '/api/v1/regions');
    expect(res.status).toBe(200);
    expect(res.json.items.map((r: { id: string; egress: string }) => [r.id, r.egress])).toEqual([
      ['eu', 'metadata+subject'],
      ['us', 'full'],
    ]);
  });

  test('an unknown region is a 404', async () => {
    const res = await api('GET', '/api/v1/regions/mars');
    expectError(res, 404, 'not_found', 'region mars does not exist');
  });

  test('deployment tokens may read regions, edge tokens may not', async () => {
    const deployment = await mintToken('deployment:contoso');
    expect((await api('GET', '/api/v1/regions/eu', { token: deployment })).status).toBe(200);
    const edge = await mintToken('edge:eu');
    expect((await api('GET', '/api/v1/regions', { token: edge })).status).toBe(403);
  });
});
