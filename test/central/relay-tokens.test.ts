// Relay tokens (scope relay:<deployment>, relay-token.ts): minted and revoked like any token, no
// principal at central, and carried in every region's snapshot as a keyed hash until revoked.
import { beforeEach, describe, expect, test } from 'vitest';
import { findRelayToken } from '../../src/core/relay-token.js';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import { EDGE_SECRET } from './edge-batch.js';
import { api, edgeSnapshot, freshBasics, mintToken } from './helpers.js';

async function inSnapshot(region: string, token: string) {
  const { signingKey } = await deriveEdgeCredentials(EDGE_SECRET, region);
  return findRelayToken(await edgeSnapshot(region), signingKey, token);
}

describe('relay tokens', () => {
  beforeEach(freshBasics);

  test('an admin mints relay:<deployment>; central accepts it for nothing', async () => {
    const res = await api('POST', '/api/v1/tokens', {
      body: { scope: 'relay:contoso', label: 'Contoso relay' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ scope: 'relay:contoso', token: expect.stringMatching(/^crt_/) });
    const own = await api('GET', '/api/v1/deployments/contoso', { token: res.json.token });
    expect(own.status).toBe(401);
    expect((await api('GET', '/api/v1/activities', { token: res.json.token })).status).toBe(401);
  });

  test("a deployment token mints its own deployment's relay tokens only; the deployment must exist", async () => {
    const contoso = await mintToken('deployment:contoso');
    expect(
      (await api('POST', '/api/v1/tokens', { token: contoso, body: { scope: 'relay:contoso' } })).status,
    ).toBe(201);
    expect(
      (await api('POST', '/api/v1/tokens', { token: contoso, body: { scope: 'relay:fabrikam' } })).status,
    ).toBe(403);
    const missing = await api('POST', '/api/v1/tokens', { body: { scope: 'relay:nobody' } });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toContain('deployment nobody does not exist');
  });

  test('every region snapshot carries an active relay token (as a keyed hash) and drops it once revoked', async () => {
    const minted = await api('POST', '/api/v1/tokens', { body: { scope: 'relay:contoso' } });
    const { id, token } = minted.json as { id: string; token: string };
    for (const region of ['us', 'eu'])
      expect(await inSnapshot(region, token)).toEqual({ deployment: 'contoso', id });
    expect(await inSnapshot('us', `${token}x`)).toBeUndefined();
    const other = await mintToken('deployment:contoso');
    expect(await inSnapshot('us', other)).toBeUndefined();

    expect((await api('DELETE', `/api/v1/tokens/${id}`)).status).toBe(200);
    for (const region of ['us', 'eu']) expect(await inSnapshot(region, token)).toBeUndefined();
  });
});
