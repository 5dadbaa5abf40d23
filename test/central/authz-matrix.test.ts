// The authorisation matrix (issue 11): every operation of the OpenAPI document × every kind of
// credential, with the status each must get. The operations come from the live document, so an
// endpoint without a row here fails the test: a new route cannot ship without its row.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import { gzip } from './edge-batch.js';
import { api, BASE, freshTenants, mintToken } from './helpers.js';

const SECRET = 'test-edge-secret';

const CREDENTIALS = [
  'none',
  'malformed',
  'revoked',
  'admin',
  'ownDeployment',
  'otherDeployment',
  'ownUser',
  'otherUser',
  'edge:us',
  'edge:eu',
  'edge:apac',
] as const;
type Credential = (typeof CREDENTIALS)[number];

/** What a request looks like: path (params filled in), optional JSON or raw body, extra headers. */
interface Request {
  path: string;
  json?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
}

interface Row {
  /** Builds the request (may create a throwaway resource first, as admin). */
  request: (as: Credential) => Promise<Request> | Request;
  /** Credentials that succeed (2xx, or 304); the rest get `denied` unless `status` says otherwise. */
  allow: Credential[];
  /** Status for every credential that is neither allowed nor unauthenticated. Default 403. */
  denied?: number;
  /** Per-credential overrides. */
  status?: Partial<Record<Credential, number>>;
}

let n = 0;
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${++n}`;

const ANN = 'ann@contoso.example';
const raw = (messageId: string) =>
  `From: buyer@customer.example\r\nTo: ${ANN}\r\nSubject: Matrix\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${messageId}>\r\n\r\nhello\r\n`;

let annActivity = '';

/** Contoso delivers to the loopback CRM receiver (the connector rows need one to read, test, sync). */
const connectContoso = () =>
  api('PUT', '/api/v1/deployments/contoso/connector', {
    body: { kind: 'webhook', settings: { url: `${inject('crmReceiver')}/ok` } },
  });
let deadLetterId = '';

/** Signed edge request for a credential's own region (non-edge credentials get the us signature). */
async function edgeHeaders(as: Credential, body: Uint8Array) {
  const region = as.startsWith('edge:') ? as.slice(5) : 'us';
  const { signingKey } = await deriveEdgeCredentials(SECRET, region);
  const timestamp = Date.now();
  return {
    'x-edge-region': region,
    'x-edge-timestamp': String(timestamp),
    'x-edge-signature': await signBody(signingKey, timestamp, body),
  };
}

const DEPLOYMENT_READERS: Credential[] = ['admin', 'ownDeployment', 'ownUser', 'otherUser'];
const DEPLOYMENT_ADMINS: Credential[] = ['admin', 'ownDeployment'];
const EVERYONE: Credential[] = [...CREDENTIALS];
const NON_EDGE: Credential[] = ['admin', 'ownDeployment', 'otherDeployment', 'ownUser', 'otherUser'];
/** Admins and every deployment token (each sees its own deployment's part). */
const ANY_DEPLOYMENT: Credential[] = ['admin', 'ownDeployment', 'otherDeployment'];

/** A row whose request is the path alone (no body); a function path is read when the row runs. */
const plain = (path: string | (() => string), allow: Credential[], status?: Row['status']): Row => ({
  request: () => ({ path: typeof path === 'string' ? path : path() }),
  allow,
  ...(status ? { status } : {}),
});

/** The matrix. Keys are `METHOD path` exactly as in the OpenAPI document. */
const MATRIX: Record<string, Row> = {
  'GET /health': { request: () => ({ path: '/health' }), allow: EVERYONE },
  'GET /api/v1/openapi.json': { request: () => ({ path: '/api/v1/openapi.json' }), allow: EVERYONE },

  'PUT /api/v1/deployments/{id}': {
    request: () => ({ path: '/api/v1/deployments/contoso', json: { name: 'Contoso' } }),
    allow: ['admin'],
  },
  'GET /api/v1/deployments/{id}': plain('/api/v1/deployments/contoso', DEPLOYMENT_ADMINS),
  'GET /api/v1/deployments': plain('/api/v1/deployments', NON_EDGE),
  'POST /api/v1/deployments/{id}/forwarding-addresses/rotate': plain(
    '/api/v1/deployments/contoso/forwarding-addresses/rotate',
    DEPLOYMENT_ADMINS,
  ),
  'POST /api/v1/deployments/{id}/webhook-secret/rotate': plain(
    '/api/v1/deployments/contoso/webhook-secret/rotate',
    ['admin'],
  ),
  'PUT /api/v1/deployments/{id}/connector': {
    request: () => ({
      path: '/api/v1/deployments/contoso/connector',
      json: { kind: 'webhook', settings: { url: `${inject('crmReceiver')}/ok` } },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'GET /api/v1/deployments/{id}/connector': {
    request: async () => {
      await connectContoso();
      return { path: '/api/v1/deployments/contoso/connector' };
    },
    // User tokens of the deployment read its kind and status (without settings and errors).
    allow: DEPLOYMENT_READERS,
  },
  'POST /api/v1/deployments/{id}/connector/test': {
    request: async () => {
      await connectContoso();
      return { path: '/api/v1/deployments/contoso/connector/test' };
    },
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/connector/sync': {
    request: async () => {
      await connectContoso();
      return { path: '/api/v1/deployments/contoso/connector/sync' };
    },
    // Allowed, but the webhook kind holds no records to sync.
    allow: [],
    status: { admin: 409, ownDeployment: 409 },
  },

  'PUT /api/v1/regions/{id}': {
    request: () => ({ path: '/api/v1/regions/eu', json: { name: 'EU', rulesEnabled: true } }),
    allow: ['admin'],
  },
  'GET /api/v1/regions/{id}': { request: () => ({ path: '/api/v1/regions/eu' }), allow: NON_EDGE },
  'GET /api/v1/regions': { request: () => ({ path: '/api/v1/regions' }), allow: NON_EDGE },
  'GET /api/v1/regions/{id}/rules': plain('/api/v1/regions/us/rules?deployment=contoso', DEPLOYMENT_READERS),

  'PUT /api/v1/mailboxes/{address}': {
    request: () => ({
      path: `/api/v1/mailboxes/${encodeURIComponent(ANN)}`,
      json: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'GET /api/v1/mailboxes/{address}': {
    request: () => ({ path: `/api/v1/mailboxes/${encodeURIComponent(ANN)}` }),
    allow: ['admin', 'ownDeployment', 'ownUser'],
    // Another tenant or another user cannot even learn that the route exists.
    status: { otherDeployment: 404, otherUser: 404 },
  },
  'DELETE /api/v1/mailboxes/{address}': {
    request: async () => {
      const address = `${unique('gone')}@contoso.example`;
      await api('PUT', `/api/v1/mailboxes/${encodeURIComponent(address)}`, {
        body: { region: 'us', deployment: 'contoso', userId: 'u-gone', filter: 'all' },
      });
      return { path: `/api/v1/mailboxes/${encodeURIComponent(address)}` };
    },
    allow: DEPLOYMENT_ADMINS,
    status: { otherDeployment: 404, ownUser: 404, otherUser: 404 },
  },
  'GET /api/v1/mailboxes': { request: () => ({ path: '/api/v1/mailboxes' }), allow: NON_EDGE },
  'POST /api/v1/mailboxes': {
    request: () => ({
      path: '/api/v1/mailboxes',
      json: {
        routes: [
          {
            address: `${unique('bulk')}@contoso.example`,
            region: 'us',
            deployment: 'contoso',
            userId: 'u-x',
            filter: 'all',
          },
        ],
      },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/mailboxes/move': {
    request: () => ({ path: '/api/v1/mailboxes/move', json: { region: 'us', addresses: [ANN] } }),
    allow: DEPLOYMENT_ADMINS,
    // Another tenant cannot even learn that the route exists.
    status: { otherDeployment: 404 },
  },

  'POST /api/v1/deployments/{id}/records': {
    request: () => ({
      path: '/api/v1/deployments/contoso/records',
      json: { records: [{ type: 'contact', id: 'c-matrix', emails: ['matrix@customer.example'] }] },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'GET /api/v1/deployments/{id}/records': plain('/api/v1/deployments/contoso/records', DEPLOYMENT_ADMINS),
  'DELETE /api/v1/deployments/{id}/records/{type}/{recordId}': {
    request: async () => {
      const id = unique('c');
      await api('POST', '/api/v1/deployments/contoso/records', {
        body: { records: [{ type: 'contact', id, emails: [`${id}@customer.example`] }] },
      });
      return { path: `/api/v1/deployments/contoso/records/contact/${id}` };
    },
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/records/delete': {
    request: () => ({
      path: '/api/v1/deployments/contoso/records/delete',
      json: { records: [{ type: 'contact', id: unique('c') }] },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/records/deactivate': {
    request: () => ({
      path: '/api/v1/deployments/contoso/records/deactivate',
      json: { records: [{ type: 'contact', id: unique('c') }] },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/record-syncs': plain(
    '/api/v1/deployments/contoso/record-syncs',
    DEPLOYMENT_ADMINS,
  ),
  'GET /api/v1/deployments/{id}/record-syncs/{syncId}': {
    request: async () => {
      const res = await api('POST', '/api/v1/deployments/contoso/record-syncs');
      return { path: `/api/v1/deployments/contoso/record-syncs/${res.json.id}` };
    },
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/record-syncs/{syncId}/complete': {
    // Completing an empty sync removes contoso's records: no other row depends on them.
    request: async () => {
      const res = await api('POST', '/api/v1/deployments/contoso/record-syncs');
      return { path: `/api/v1/deployments/contoso/record-syncs/${res.json.id}/complete` };
    },
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/suppressions': {
    request: () => ({
      path: '/api/v1/deployments/contoso/suppressions',
      json: { entries: ['spam@x.example'] },
    }),
    allow: DEPLOYMENT_ADMINS,
  },
  'GET /api/v1/deployments/{id}/suppressions': plain(
    '/api/v1/deployments/contoso/suppressions',
    DEPLOYMENT_ADMINS,
  ),
  'DELETE /api/v1/deployments/{id}/suppressions/{entry}': {
    request: async () => {
      const entry = `${unique('del')}@x.example`;
      await api('POST', '/api/v1/deployments/contoso/suppressions', { body: { entries: [entry] } });
      return { path: `/api/v1/deployments/contoso/suppressions/${encodeURIComponent(entry)}` };
    },
    allow: DEPLOYMENT_ADMINS,
  },
  'POST /api/v1/deployments/{id}/outbound': {
    request: () => ({
      path: '/api/v1/deployments/contoso/outbound',
      json: { messageId: `<${unique('out')}@crm.contoso.example>`, userId: 'u-ann', subject: 'Offer' },
    }),
    // A user registers mail only for itself.
    allow: ['admin', 'ownDeployment', 'ownUser'],
  },
  'POST /api/v1/deployments/{id}/promote': {
    request: () => ({
      path: `/api/v1/deployments/contoso/promote?mailbox=${encodeURIComponent(ANN)}`,
      raw: raw(`${unique('promote')}@customer.example`),
      headers: { 'content-type': 'message/rfc822' },
    }),
    allow: ['admin', 'ownDeployment', 'ownUser'],
  },

  'GET /api/v1/activities': plain('/api/v1/activities', NON_EDGE),
  'GET /api/v1/activities/changes': plain('/api/v1/activities/changes', NON_EDGE),
  'GET /api/v1/activities/{id}': plain(
    () => `/api/v1/activities/${annActivity}`,
    ['admin', 'ownDeployment', 'ownUser'],
    { otherDeployment: 404, otherUser: 404 },
  ),
  'GET /api/v1/activities/{id}/content': plain(
    () => `/api/v1/activities/${annActivity}/content`,
    ['admin', 'ownDeployment', 'ownUser'],
    { otherDeployment: 404, otherUser: 404 },
  ),
  'GET /api/v1/dispositions': plain('/api/v1/dispositions', ANY_DEPLOYMENT),
  'GET /api/v1/stats': plain('/api/v1/stats', ANY_DEPLOYMENT),

  'GET /api/v1/dead-letters': plain('/api/v1/dead-letters', ANY_DEPLOYMENT),
  'POST /api/v1/dead-letters/{id}/replay': plain(
    () => `/api/v1/dead-letters/${deadLetterId}/replay`,
    ['admin', 'ownDeployment'],
    { otherDeployment: 404 },
  ),
  'POST /api/v1/dead-letters/replay': plain('/api/v1/dead-letters/replay', ANY_DEPLOYMENT),
  'GET /api/v1/webhook-deliveries': plain('/api/v1/webhook-deliveries', ANY_DEPLOYMENT),
  'POST /api/v1/webhook-deliveries/{id}/replay': {
    // No delivery exists: the allowed credentials learn only that (404), the rest are refused.
    request: () => ({ path: '/api/v1/webhook-deliveries/no-such-delivery/replay' }),
    allow: [],
    status: { admin: 404, ownDeployment: 404, otherDeployment: 404 },
  },

  'POST /api/v1/tokens': {
    request: () => ({ path: '/api/v1/tokens', json: { scope: 'user:contoso/u-ann', label: 'matrix' } }),
    allow: DEPLOYMENT_ADMINS,
  },
  'GET /api/v1/tokens': plain('/api/v1/tokens', ANY_DEPLOYMENT),
  'DELETE /api/v1/tokens/{id}': {
    request: async () => {
      const res = await api('POST', '/api/v1/tokens', { body: { scope: 'user:contoso/u-tmp' } });
      return { path: `/api/v1/tokens/${res.json.id}` };
    },
    allow: DEPLOYMENT_ADMINS,
    status: { otherDeployment: 404 },
  },

  'POST /api/v1/ingest': {
    request: async (as) => {
      const region = as.startsWith('edge:') ? as.slice(5) : 'us';
      const body = await gzip(
        new TextEncoder().encode(
          JSON.stringify({
            batchId: crypto.randomUUID(),
            region,
            sentAt: Date.now(),
            items: [],
            receipts: [],
          }),
        ),
      );
      return {
        path: '/api/v1/ingest',
        raw: body as Uint8Array<ArrayBuffer>,
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          ...(await edgeHeaders(as, body)),
        },
      };
    },
    allow: ['edge:us', 'edge:eu', 'edge:apac'],
  },
  'GET /api/v1/edge/snapshot': {
    request: async (as) => ({
      path: '/api/v1/edge/snapshot?region=us',
      headers: await edgeHeaders(as, new Uint8Array()),
    }),
    allow: ['edge:us'],
  },
  'GET /api/v1/edge/snapshot/manifest': {
    request: async (as) => ({
      path: '/api/v1/edge/snapshot/manifest?region=us',
      headers: await edgeHeaders(as, new Uint8Array()),
    }),
    allow: ['edge:us'],
  },
  'GET /api/v1/edge/snapshot/parts/{name}': {
    request: async (as) => {
      // A part the region's current manifest names (fetched as the us edge).
      const manifest = await api('GET', '/api/v1/edge/snapshot/manifest?region=us', {
        token: (await deriveEdgeCredentials(SECRET, 'us')).token,
        headers: await edgeHeaders('edge:us', new Uint8Array()),
      });
      const name = (Object.values(manifest.json.deployments)[0] as { meta: string }).meta;
      return {
        path: `/api/v1/edge/snapshot/parts/${name}?region=us`,
        headers: await edgeHeaders(as, new Uint8Array()),
      };
    },
    allow: ['edge:us'],
  },
};

const METHOD_OF = (key: string) => key.split(' ')[0] as string;

describe('authorisation matrix (OpenAPI operations × credentials)', () => {
  const tokens: Partial<Record<Credential, string | null>> = {};
  let operations: string[] = [];

  beforeAll(async () => {
    await freshTenants();
    await api('PUT', `/api/v1/mailboxes/${encodeURIComponent(ANN)}`, {
      body: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' },
    });
    await api('PUT', '/api/v1/mailboxes/bob%40contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-bob', filter: 'all' },
    });
    const promoted = await api(
      'POST',
      `/api/v1/deployments/contoso/promote?mailbox=${encodeURIComponent(ANN)}`,
      {
        raw: raw('matrix-activity@customer.example'),
        type: 'message/rfc822',
      },
    );
    annActivity = promoted.json.id;
    // A contoso dead letter: a copy for a deployment that does not exist yet, renamed afterwards.
    const { env } = await import('cloudflare:test');
    deadLetterId = crypto.randomUUID();
    await env.DB.prepare(
      "insert into dead_letters (id, region, deployment, item, error, attempts, created_at) values (?, 'us', 'contoso', '{}', 'x', 1, ?)",
    )
      .bind(deadLetterId, Date.now())
      .run();

    tokens.none = null;
    tokens.malformed = 'not-a-token-%%';
    const revoked = await api('POST', '/api/v1/tokens', { body: { scope: 'deployment:contoso' } });
    await api('DELETE', `/api/v1/tokens/${revoked.json.id}`);
    tokens.revoked = revoked.json.token;
    tokens.admin = 'local-admin-token';
    tokens.ownDeployment = await mintToken('deployment:contoso');
    tokens.otherDeployment = await mintToken('deployment:fabrikam');
    tokens.ownUser = await mintToken('user:contoso/u-ann');
    tokens.otherUser = await mintToken('user:contoso/u-bob');
    for (const r of ['us', 'eu', 'apac'] as const)
      tokens[`edge:${r}`] = (await deriveEdgeCredentials(SECRET, r)).token;

    const doc = (await api('GET', '/api/v1/openapi.json', { token: null })).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
  });

  test('every operation of the OpenAPI document has a row, and every row an operation', () => {
    expect(operations.filter((op) => !(op in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((key) => !operations.includes(key))).toEqual([]);
  });

  test.each(Object.keys(MATRIX))('%s', async (key) => {
    const row = MATRIX[key] as Row;
    const failures: string[] = [];
    for (const as of CREDENTIALS) {
      const req = await row.request(as);
      const expected = row.allow.includes(as)
        ? 'ok'
        : (row.status?.[as] ??
          (['none', 'malformed', 'revoked'].includes(as) && !key.startsWith('GET /health')
            ? 401
            : (row.denied ?? 403)));
      const res = await api(METHOD_OF(key), req.path, {
        token: tokens[as] ?? null,
        ...(req.json !== undefined ? { body: req.json } : {}),
        ...(req.raw !== undefined ? { raw: req.raw } : {}),
        headers: req.headers ?? {},
      });
      const ok = res.status >= 200 && res.status < 300;
      const matches = expected === 'ok' ? ok : res.status === expected;
      if (!matches) failures.push(`${as}: expected ${expected}, got ${res.status} ${res.text.slice(0, 160)}`);
      if (!ok && res.status !== 304) {
        // Every refusal is the one error envelope.
        if (!res.json?.error?.code || !res.json?.error?.requestId)
          failures.push(`${as}: ${res.status} without the error envelope: ${res.text.slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test.each(Object.keys(MATRIX).filter((k) => !k.startsWith('GET ') && !k.startsWith('DELETE ')))(
    '%s refuses an oversize body with 413 before looking at the token',
    async (key) => {
      const path = (await (MATRIX[key] as Row).request('admin')).path;
      const res = await SELF.fetch(`${BASE}${path}`, {
        method: METHOD_OF(key),
        headers: { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) },
        body: 'x',
      }).catch((err: unknown) => err as Error);
      if (res instanceof Error) throw res;
      expect(res.status).toBe(413);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('payload_too_large');
    },
  );
});
