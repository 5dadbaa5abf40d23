// Fail closed at the edge (issue 19, item 7): the committed wrangler.edge.toml deploys production
// edges, which never take the public `local-inbound-token`; an edge without its secrets answers
// every request with the same clear error; a development edge answers loopback requests only.
import { describe, expect, test } from 'vitest';
import type { EdgeBindings } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import edgeToml from '../../wrangler.edge.toml?raw';
import { capturingEnv, ctx } from './helpers.js';

/** ENVIRONMENT as the committed `[env.us]` vars set it (undefined when they set none). */
const committedEnvironment = /^\[env\.us\]\n(?:[^[\n][^\n]*\n)*?vars = \{[^}]*ENVIRONMENT = "([^"]*)"/m.exec(
  edgeToml,
)?.[1];

const SECRETS = ['EDGE_SIGNING_KEY', 'EDGE_TOKEN', 'INBOUND_TOKEN'] as const;
type Secrets = Partial<Record<(typeof SECRETS)[number], string>>;

/** The us edge's bindings with the committed vars instead of the tests' local-development marker. */
function committed(secrets: Secrets): EdgeBindings {
  const bindings: Record<string, unknown> = { ...capturingEnv().bindings, ...secrets };
  if (committedEnvironment === undefined) delete bindings.ENVIRONMENT;
  else bindings.ENVIRONMENT = committedEnvironment;
  for (const name of SECRETS) if (!(name in secrets)) delete bindings[name];
  return bindings as unknown as EdgeBindings;
}

const ALL_SECRETS: Secrets = {
  EDGE_SIGNING_KEY: 'a-real-signing-key',
  EDGE_TOKEN: 'a-real-edge-token',
  INBOUND_TOKEN: 'a-real-inbound-token-0123456789',
};

async function call(bindings: EdgeBindings, url: string, init: RequestInit = {}) {
  const res = await worker.fetch!(
    new Request(url, init) as unknown as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );
  const text = await res.text();
  let json: { error?: { code: string; message: string } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json };
}

const inbound = (token: string) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}` },
  body: 'From: a@example.net\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n',
});

const PUBLIC_HOST = 'https://edge-us.example.com';

describe('edge deploys fail closed', () => {
  test('the committed wrangler.edge.toml deploys as production: local-inbound-token is refused', async () => {
    expect(committedEnvironment).toBe('production');
    const bindings = committed(ALL_SECRETS);
    for (const host of [PUBLIC_HOST, 'http://127.0.0.1:8788']) {
      const res = await call(
        bindings,
        `${host}/api/v1/inbound?to=crm%40us.edge.example`,
        inbound('local-inbound-token'),
      );
      expect({ host, status: res.status, code: res.json?.error?.code }).toEqual({
        host,
        status: 401,
        code: 'unauthorized',
      });
    }
  });

  test('an edge without one of its secrets answers every request 503 misconfigured, naming it', async () => {
    for (const name of SECRETS) {
      const { [name]: _, ...rest } = ALL_SECRETS;
      const bindings = committed(rest);
      for (const [path, init] of [
        ['/health', {}],
        ['/api/v1/inbound?to=crm%40us.edge.example', inbound('a-real-inbound-token-0123456789')],
        ['/raw/x?exp=1&sig=00', {}],
        ['/no/such/route', {}],
      ] as const) {
        const res = await call(bindings, `${PUBLIC_HOST}${path}`, init);
        expect({ name, path, status: res.status }).toEqual({ name, path, status: 503 });
        expect(res.json?.error?.code).toBe('misconfigured');
        expect(res.json?.error?.message).toContain(`secret ${name} not set`);
      }
    }
  });

  test('a production edge refuses an INBOUND_TOKEN that is the published local one', async () => {
    const res = await call(
      committed({ ...ALL_SECRETS, INBOUND_TOKEN: 'local-inbound-token' }),
      `${PUBLIC_HOST}/health`,
    );
    expect(res.status).toBe(503);
    expect(res.json?.error?.message).toContain('secret INBOUND_TOKEN holds a public local value');
  });

  test('a development edge (the local marker) answers loopback requests only', async () => {
    const { bindings } = capturingEnv();
    expect(bindings.ENVIRONMENT).toBe('development');
    for (const host of [PUBLIC_HOST, 'http://192.168.1.20:8788', 'http://127.0.0.1.example.com']) {
      const res = await call(bindings, `${host}/health`);
      expect({ host, status: res.status, code: res.json?.error?.code }).toEqual({
        host,
        status: 503,
        code: 'misconfigured',
      });
    }
    for (const host of ['http://127.0.0.1:8788', 'http://localhost:8788', 'http://edge.localhost'])
      expect({ host, status: (await call(bindings, `${host}/health`)).status }).toEqual({
        host,
        status: 200,
      });
  });
});
