import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { api, expectError, expectInvalidField, freshBasics, mintToken } from './helpers.js';

describe('POST /api/v1/tokens', () => {
  beforeEach(freshBasics);

  test('an admin mints a token that is shown once and stored only as its SHA-256', async () => {
    const res = await api('POST', '/api/v1/tokens', {
      body: { scope: 'deployment:contoso', label: 'CRM sync' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^tok_[0-9a-f]{20}$/),
      token: expect.stringMatching(/^crt_[A-Za-z0-9_-]{43}$/),
      scope: 'deployment:contoso',
      label: 'CRM sync',
      createdAt: expect.any(Number),
    });
    const row = await env.DB.prepare('select hash from api_tokens where id = ?')
      .bind(res.json.id)
      .first<{ hash: string }>();
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(res.json.token));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(row?.hash).toBe(hex);
    const stored = await env.DB.prepare('select count(*) as n from api_tokens where hash = ?')
      .bind(res.json.token)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
  });

  test('the new token works at once and sees only its deployment', async () => {
    const token = await mintToken('deployment:contoso');
    const res = await api('GET', '/api/v1/deployments', { token });
    expect(res.status).toBe(200);
    expect(res.json.items.map((d: { id: string }) => d.id)).toEqual(['contoso']);
  });

  test.each([['admin'], ['edge:eu'], ['user:contoso/u-ann']])('an admin may mint %s', async (scope) => {
    const res = await api('POST', '/api/v1/tokens', { body: { scope } });
    expect(res.status).toBe(201);
    expect(res.json.scope).toBe(scope);
  });

  test('a deployment token may mint its own deployment and user tokens', async () => {
    const deploymentToken = await mintToken('deployment:contoso');
    for (const scope of ['deployment:contoso', 'user:contoso/u-bob']) {
      const res = await api('POST', '/api/v1/tokens', { token: deploymentToken, body: { scope } });
      expect(res.status).toBe(201);
    }
  });

  test.each([['admin'], ['deployment:fabrikam'], ['user:fabrikam/u-1'], ['edge:eu']])(
    'a deployment token may not mint %s (403)',
    async (scope) => {
      const deploymentToken = await mintToken('deployment:contoso');
      const res = await api('POST', '/api/v1/tokens', { token: deploymentToken, body: { scope } });
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
    },
  );

  test('user tokens may not mint tokens', async () => {
    const userToken = await mintToken('user:contoso/u-ann');
    const res = await api('POST', '/api/v1/tokens', {
      token: userToken,
      body: { scope: 'user:contoso/u-ann' },
    });
    expect(res.status).toBe(403);
  });

  test.each([
    [
      'root',
      'scope: "root" is not one of admin, deployment:<id>, edge:<region>, user:<deployment>/<userId> or relay:<deployment>',
    ],
    [
      'user:contoso/',
      'scope: "user:contoso/" is not one of admin, deployment:<id>, edge:<region>, user:<deployment>/<userId> or relay:<deployment>',
    ],
    ['deployment:nowhere', 'scope: deployment nowhere does not exist'],
    ['user:nowhere/u-1', 'scope: deployment nowhere does not exist'],
    ['edge:mars', 'scope: region mars does not exist'],
  ])('the scope %s is a 400 naming scope', async (scope, message) => {
    const res = await api('POST', '/api/v1/tokens', { body: { scope } });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'validation_failed', message, requestId: expect.any(String) });
  });

  test('a missing scope is a 400 naming scope', async () => {
    const res = await api('POST', '/api/v1/tokens', { body: { label: 'x' } });
    expectInvalidField(res, 'scope');
  });
});

describe('GET /api/v1/tokens and DELETE /api/v1/tokens/:id', () => {
  beforeEach(freshBasics);

  test('listing never shows plaintext or hashes', async () => {
    const minted = await api('POST', '/api/v1/tokens', {
      body: { scope: 'deployment:contoso', label: 'sync' },
    });
    const res = await api('GET', '/api/v1/tokens');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      items: [
        {
          id: minted.json.id,
          scope: 'deployment:contoso',
          label: 'sync',
          createdAt: expect.any(Number),
          revokedAt: null,
          lastUsedAt: null,
        },
      ],
    });
    expect(res.text).not.toContain(minted.json.token);
  });

  test("a deployment token lists only its deployment's tokens", async () => {
    await mintToken('deployment:fabrikam');
    await mintToken('user:fabrikam/u-1');
    const own = await mintToken('deployment:contoso');
    await mintToken('user:contoso/u-ann');
    const res = await api('GET', '/api/v1/tokens', { token: own });
    expect(res.json.items.map((t: { scope: string }) => t.scope).sort()).toEqual([
      'deployment:contoso',
      'user:contoso/u-ann',
    ]);
  });

  test('a revoked token is refused with 401 afterwards', async () => {
    const minted = await api('POST', '/api/v1/tokens', { body: { scope: 'deployment:contoso' } });
    expect((await api('GET', '/api/v1/deployments/contoso', { token: minted.json.token })).status).toBe(200);
    const del = await api('DELETE', `/api/v1/tokens/${minted.json.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({
      id: minted.json.id,
      scope: 'deployment:contoso',
      label: null,
      createdAt: expect.any(Number),
      revokedAt: expect.any(Number),
      // The GET above used it: lastUsedAt is written (at most once a minute).
      lastUsedAt: expect.any(Number),
    });
    const after = await api('GET', '/api/v1/deployments/contoso', { token: minted.json.token });
    expectError(after, 401, 'unauthorized', 'unknown or revoked token');
    const again = await api('DELETE', `/api/v1/tokens/${minted.json.id}`);
    expect(again.json.revokedAt).toBe(del.json.revokedAt);
  });

  test('revoking an unknown token is a 404', async () => {
    const res = await api('DELETE', '/api/v1/tokens/tok_nope');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });

  test("another deployment's token cannot see or revoke a token (404) and the token keeps working", async () => {
    const victim = await api('POST', '/api/v1/tokens', { body: { scope: 'deployment:contoso' } });
    const attacker = await mintToken('deployment:fabrikam');
    const res = await api('DELETE', `/api/v1/tokens/${victim.json.id}`, { token: attacker });
    expect(res.status).toBe(404);
    expect((await api('GET', '/api/v1/deployments/contoso', { token: victim.json.token })).status).toBe(200);
  });

  test('edge and user tokens may not list tokens', async () => {
    const user = await mintToken('user:contoso/u-ann');
    expect((await api('GET', '/api/v1/tokens', { token: user })).status).toBe(403);
    const edge = await mintToken('edge:eu');
    expect((await api('GET', '/api/v1/tokens', { token: edge })).status).toBe(403);
  });

  test('a request without a token is a 401', async () => {
    expect((await api('GET', '/api/v1/tokens', { token: null })).status).toBe(401);
  });
});
