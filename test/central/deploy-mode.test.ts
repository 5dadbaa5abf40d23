// Fail closed (issue 19, item 7): production is the default, the local admin token and secrets are
// honoured only by a worker carrying the local-development marker and only for loopback requests,
// and a central missing its secrets answers every request with the same clear error.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import worker from '../../src/central/index.js';
import centralToml from '../../wrangler.toml?raw';
import { ADMIN } from './helpers.js';

/** ENVIRONMENT as the committed wrangler.toml sets it (undefined when it sets none). */
const committedEnvironment = /^\[vars\][^[]*?^ENVIRONMENT\s*=\s*"([^"]*)"/m.exec(centralToml)?.[1];

/** The worker's bindings with the committed vars instead of the tests' local-development marker. */
function committed(secrets: { ADMIN_TOKEN?: string; EDGE_KEY_SECRET?: string }): CentralBindings {
  const bindings: Record<string, unknown> = { ...env, ...secrets };
  if (committedEnvironment === undefined) delete bindings.ENVIRONMENT;
  else bindings.ENVIRONMENT = committedEnvironment;
  for (const name of ['ADMIN_TOKEN', 'EDGE_KEY_SECRET'] as const)
    if (!(name in secrets)) delete bindings[name];
  return bindings as unknown as CentralBindings;
}

async function call(bindings: CentralBindings, url: string, token?: string, method = 'GET') {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  // Every answer asserted on here is an error envelope; a test of one that is not fails on its fields.
  let json = {} as { error: { code: string; message: string; requestId: string } };
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

const PUBLIC_HOST = 'https://crm-central.example.com';
const EVERY_KIND_OF_PATH: [string, string][] = [
  ['GET', '/health'],
  ['GET', '/api/v1/regions'],
  ['GET', '/api/v1/openapi.json'],
  ['POST', '/api/v1/ingest'],
  ['GET', '/login'],
  ['GET', '/'],
  ['GET', '/no/such/page'],
];

describe('central deploys fail closed', () => {
  test('the committed wrangler.toml deploys as production: local-admin-token is refused at a public host', async () => {
    expect(committedEnvironment).toBe('production');
    const bindings = committed({
      ADMIN_TOKEN: 'a-real-admin-secret-0123456789',
      EDGE_KEY_SECRET: 'a-real-edge-secret',
    });
    const local = await call(bindings, `${PUBLIC_HOST}/api/v1/regions`, ADMIN);
    expect(local.status).toBe(401);
    expect(local.json.error.code).toBe('unauthorized');
    // The real admin secret works there, so the 401 is about the token, not the host.
    expect(
      (await call(bindings, `${PUBLIC_HOST}/api/v1/regions`, 'a-real-admin-secret-0123456789')).status,
    ).toBe(200);
    // Production honours no local value at a loopback host either.
    expect((await call(bindings, 'http://127.0.0.1:8787/api/v1/regions', ADMIN)).status).toBe(401);
  });

  test('a central without its secrets answers every request 503 misconfigured, naming the missing ones', async () => {
    for (const secrets of [
      {},
      { EDGE_KEY_SECRET: 'a-real-edge-secret' },
      { ADMIN_TOKEN: 'a-real-admin-secret' },
    ]) {
      const bindings = committed(secrets);
      const missing = ['ADMIN_TOKEN', 'EDGE_KEY_SECRET'].filter((n) => !(n in secrets));
      for (const [method, path] of EVERY_KIND_OF_PATH) {
        const res = await call(bindings, `${PUBLIC_HOST}${path}`, ADMIN, method);
        expect({ path, status: res.status }).toEqual({ path, status: 503 });
        expect(res.json.error).toEqual({
          code: 'misconfigured',
          message: expect.stringContaining(`secret ${missing.join(', ')} not set`),
          requestId: expect.any(String),
        });
      }
    }
  });

  test('a production central refuses secrets that hold the published local values', async () => {
    const bindings = committed({ ADMIN_TOKEN: ADMIN, EDGE_KEY_SECRET: 'local-edge-key-secret' });
    const res = await call(bindings, `${PUBLIC_HOST}/health`);
    expect(res.status).toBe(503);
    expect(res.json.error.message).toContain(
      'secret ADMIN_TOKEN, EDGE_KEY_SECRET holds a public local value',
    );
  });

  test('a development central (the local marker) answers loopback requests only', async () => {
    const dev = { ...env } as unknown as CentralBindings;
    expect(dev.ENVIRONMENT).toBe('development');
    for (const url of [
      PUBLIC_HOST,
      'http://10.0.0.5:8787',
      'http://127.0.0.1.nip.io',
      'http://localhost.example.com',
    ]) {
      const res = await call(dev, `${url}/api/v1/regions`, ADMIN);
      expect({ url, status: res.status, code: res.json?.error?.code }).toEqual({
        url,
        status: 503,
        code: 'misconfigured',
      });
      expect(res.json.error.message).toContain('answers loopback requests only');
    }
    for (const url of [
      'http://127.0.0.1:8787',
      'http://localhost:8787',
      'http://[::1]:8787',
      'http://central.localhost',
    ])
      expect({ url, status: (await call(dev, `${url}/api/v1/regions`, ADMIN)).status }).toEqual({
        url,
        status: 200,
      });
  });
});
