// The dashboard's authorisation matrix (issue 11): every page and form of the dashboard router ×
// every kind of session. The routes come from the router itself, so a page or form without a row
// fails the test.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { dashboardRoutes } from '../../src/central/dashboard/index.js';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import { Browser, csrfOf } from './dashboard-browser.js';
import { api, freshBasics, mintToken } from './helpers.js';

const KINDS = ['none', 'admin', 'ownDeployment', 'otherDeployment'] as const;
type Kind = (typeof KINDS)[number];

interface Row {
  /** GET: the path; POST: the path and its fields (the CSRF field is added). `csrfFrom` is a page of the same session. */
  request: () =>
    | Promise<{ path: string; fields?: Record<string, string> }>
    | { path: string; fields?: Record<string, string> };
  /** Status per signed-in kind; `none` always gets 303 to /login (public rows say so). */
  expect: Partial<Record<Kind, number>>;
  public?: boolean;
}

let n = 0;
const unique = (tag: string) => `${tag}-${Date.now().toString(36)}-${++n}`;
const ANN = 'ann@contoso.example';
let activityId = '';
let deadLetterId = '';

/** Contoso delivers to the loopback CRM receiver (a connector to test and sync). */
const connectContoso = () =>
  api('PUT', '/api/v1/deployments/contoso/connector', {
    body: { kind: 'webhook', settings: { url: `${inject('crmReceiver')}/ok` } },
  });

const SIGNED = (admin: number, own: number, other: number) => ({
  admin,
  ownDeployment: own,
  otherDeployment: other,
});

/** A row requesting `path` (GET, or POST with `fields`) that expects `expect` per session. */
const at = (path: string, expect: Row['expect']): Row => ({ request: () => ({ path }), expect });
/** `fields` is called per request, so values such as `unique(…)` are fresh each time. */
const post = (path: string, fields: () => Record<string, string>, expect: Row['expect']): Row => ({
  request: () => ({ path, fields: fields() }),
  expect,
});

/** The deployment form's fields but id, name and base. */
const DEPLOYMENT_FORM = {
  prefix: 'CRM:',
  userDigits: '3',
  counterDigits: '3',
  maxMessageBytes: '2048000',
  attachmentPolicy: 'regional',
};

const MATRIX: Record<string, Row> = {
  'GET /assets/app.css': {
    request: () => ({ path: '/assets/app.css' }),
    public: true,
    expect: { none: 200, ...SIGNED(200, 200, 200) },
  },
  'GET /assets/app.js': {
    request: () => ({ path: '/assets/app.js' }),
    public: true,
    expect: { none: 200, ...SIGNED(200, 200, 200) },
  },
  'GET /login': {
    request: () => ({ path: '/login' }),
    public: true,
    expect: { none: 200, ...SIGNED(200, 200, 200) },
  },
  // Signing in again with a valid token: another session (tested as sign-in below for none).
  'POST /login': {
    request: () => ({ path: '/login', fields: { token: 'local-admin-token', next: '/' } }),
    public: true,
    expect: SIGNED(303, 303, 303),
  },
  'POST /logout': post('/logout', () => ({}), SIGNED(303, 303, 303)),
  'GET /': at('/', SIGNED(200, 200, 200)),
  'GET /activities': at('/activities', SIGNED(200, 200, 200)),
  'GET /activities/:id': {
    request: () => ({ path: `/activities/${activityId}` }),
    expect: SIGNED(200, 200, 404),
  },
  'GET /dispositions': at('/dispositions', SIGNED(200, 200, 200)),
  'GET /dead-letters': at('/dead-letters', SIGNED(200, 200, 200)),
  'POST /dead-letters/webhooks/:id/replay': post(
    '/dead-letters/webhooks/no-such-delivery/replay',
    () => ({}),
    SIGNED(404, 404, 404),
  ),
  'POST /dead-letters/replay': post('/dead-letters/replay', () => ({}), SIGNED(303, 303, 303)),
  'POST /dead-letters/:id/replay': {
    request: () => ({ path: `/dead-letters/${deadLetterId}/replay`, fields: {} }),
    expect: SIGNED(303, 303, 404),
  },
  'GET /deployments': at('/deployments', SIGNED(200, 200, 200)),
  'POST /deployments': post(
    '/deployments',
    () => ({ id: unique('dep'), name: 'New', base: '', ...DEPLOYMENT_FORM }),
    SIGNED(303, 403, 403),
  ),
  'GET /deployments/:id/edit': at('/deployments/contoso/edit', SIGNED(200, 403, 403)),
  'POST /deployments/:id/edit': post(
    '/deployments/contoso/edit',
    () => ({ name: 'Contoso', base: '0', ...DEPLOYMENT_FORM }),
    SIGNED(303, 403, 403),
  ),
  'GET /routes': at('/routes', SIGNED(200, 200, 200)),
  'POST /routes/save': post(
    '/routes/save',
    () => ({ address: ANN, region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' }),
    SIGNED(303, 303, 403),
  ),
  // ANN is routed to us already: moving it there again is a 303 for whoever may manage contoso.
  'POST /routes/move': post(
    '/routes/move',
    () => ({ deployment: 'contoso', search: ANN, region: 'us' }),
    SIGNED(303, 303, 403),
  ),
  'GET /routes/delete': {
    request: () => ({ path: `/routes/delete?address=${encodeURIComponent(ANN)}` }),
    expect: SIGNED(200, 200, 404),
  },
  'POST /routes/delete': {
    request: async () => {
      const address = `${unique('gone')}@contoso.example`;
      await api('PUT', `/api/v1/mailboxes/${encodeURIComponent(address)}`, {
        body: { region: 'us', deployment: 'contoso', userId: 'u-gone', filter: 'all' },
      });
      return { path: '/routes/delete', fields: { address } };
    },
    expect: SIGNED(303, 303, 404),
  },
  'POST /routes/import': {
    request: () => ({
      path: '/routes/import',
      fields: {
        csv: `address,region,deployment,userId,filter\n${unique('bulk')}@contoso.example,us,contoso,u-bulk,all\n`,
      },
    }),
    // A fabrikam session may not route into contoso: the import is refused whole.
    expect: SIGNED(303, 303, 403),
  },
  'GET /deployments/:id/records': at(
    '/deployments/contoso/records?address=ann%40contoso.example',
    SIGNED(200, 200, 403),
  ),
  'POST /deployments/:id/records/remove': post(
    '/deployments/contoso/records/remove',
    () => ({ type: 'contact', id: unique('no-such-record'), action: 'delete' }),
    SIGNED(404, 404, 403),
  ),
  'POST /deployments/:id/records/remove-many': post(
    '/deployments/contoso/records/remove-many',
    () => ({ keys: `contact,${unique('no-such-record')}`, action: 'delete' }),
    SIGNED(303, 303, 403),
  ),
  'GET /deployments/:id/syncs': at('/deployments/contoso/syncs', SIGNED(200, 200, 403)),
  'POST /deployments/:id/syncs': post('/deployments/contoso/syncs', () => ({}), SIGNED(303, 303, 403)),
  'POST /deployments/:id/syncs/:syncId/complete': {
    // A sync that does not exist: the session may manage contoso (404) or not (403).
    request: () => ({ path: `/deployments/contoso/syncs/${unique('sync_none')}/complete`, fields: {} }),
    expect: SIGNED(404, 404, 403),
  },
  'GET /deployments/:id/connector': at('/deployments/contoso/connector', SIGNED(200, 200, 403)),
  'POST /deployments/:id/connector': post(
    '/deployments/contoso/connector',
    () => ({ kind: 'webhook', 'webhook.url': `${inject('crmReceiver')}/ok` }),
    SIGNED(303, 303, 403),
  ),
  'POST /deployments/:id/connector/test': {
    request: async () => {
      await connectContoso();
      return { path: '/deployments/contoso/connector/test', fields: {} };
    },
    expect: SIGNED(200, 200, 403),
  },
  'POST /deployments/:id/connector/sync': {
    request: async () => {
      await connectContoso();
      return { path: '/deployments/contoso/connector/sync', fields: {} };
    },
    // The webhook kind holds no records: the page says so (409) to those who may manage contoso.
    expect: SIGNED(409, 409, 403),
  },
  'GET /regions': at('/regions', SIGNED(200, 200, 200)),
  'GET /regions/:id/rules': at('/regions/eu/rules?enable=true', SIGNED(200, 403, 403)),
  'POST /regions/:id/rules': {
    request: () => ({ path: '/regions/eu/rules', fields: { enable: 'true' } }),
    expect: SIGNED(303, 403, 403),
  },
  'POST /regions/:id/egress': {
    request: () => ({ path: '/regions/eu/egress', fields: { egress: 'metadata' } }),
    expect: SIGNED(303, 403, 403),
  },
  'GET /deployments/tokens': at('/deployments/tokens', SIGNED(200, 200, 200)),
  'POST /deployments/tokens': post(
    '/deployments/tokens',
    () => ({ kind: 'user', deployment: 'contoso', userId: unique('u'), label: 'matrix' }),
    SIGNED(200, 200, 403),
  ),
  'POST /deployments/tokens/:id/revoke': {
    request: async () => {
      const res = await api('POST', '/api/v1/tokens', { body: { scope: `user:contoso/${unique('u')}` } });
      return { path: `/deployments/tokens/${res.json.id}/revoke`, fields: {} };
    },
    expect: SIGNED(303, 303, 404),
  },
};

describe('dashboard authorisation matrix (pages and forms × sessions)', () => {
  const tokens: Partial<Record<Kind, string>> = {};

  beforeAll(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', domains: ['contoso.example'] },
    });
    await api('PUT', `/api/v1/mailboxes/${encodeURIComponent(ANN)}`, {
      body: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' },
    });
    const promoted = await api(
      'POST',
      `/api/v1/deployments/contoso/promote?mailbox=${encodeURIComponent(ANN)}`,
      {
        raw: `From: buyer@customer.example\r\nTo: ${ANN}\r\nSubject: M\r\nMessage-ID: <dash-matrix@x>\r\n\r\nhi\r\n`,
        headers: { 'content-type': 'message/rfc822' },
      },
    );
    activityId = promoted.json.id;
    deadLetterId = crypto.randomUUID();
    await env.DB.prepare(
      "insert into dead_letters (id, region, deployment, item, error, attempts, created_at) values (?, 'us', 'contoso', '{}', 'x', 1, ?)",
    )
      .bind(deadLetterId, Date.now())
      .run();
    tokens.admin = 'local-admin-token';
    tokens.ownDeployment = await mintToken('deployment:contoso');
    tokens.otherDeployment = await mintToken('deployment:fabrikam');
  });

  test('every page and form of the dashboard router has a row, and every row a route', () => {
    const routes = [
      ...new Set(
        dashboardRoutes.routes
          .filter((r) => r.method === 'GET' || r.method === 'POST')
          .map((r) => `${r.method} ${r.path}`),
      ),
    ];
    expect(routes.filter((r) => !(r in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((k) => !routes.includes(k))).toEqual([]);
  });

  test('user and edge tokens cannot sign in at all', async () => {
    for (const token of [
      await mintToken('user:contoso/u-ann'),
      (await deriveEdgeCredentials('test-edge-secret', 'us')).token,
    ]) {
      const b = new Browser();
      const res = await b.signIn(token);
      // Answered like an unknown token (test/central/sign-in.test.ts).
      expect(res.status).toBe(401);
      expect((await b.get('/')).status).toBe(303);
    }
  });

  test.each(Object.keys(MATRIX))('%s', async (key) => {
    const row = MATRIX[key] as Row;
    const [method] = key.split(' ') as [string];
    const failures: string[] = [];
    for (const kind of KINDS) {
      const b = new Browser();
      if (kind !== 'none') await b.signIn(tokens[kind] as string);
      const req = await row.request();
      let res: { status: number; location: string | null; html: string };
      if (method === 'GET') res = await b.get(req.path);
      else {
        // The form's CSRF token comes from a page of the same session (the sign-in page when signed out).
        const page = await b.get(kind === 'none' || req.path === '/login' ? '/login' : '/regions');
        res = await b.request('POST', req.path, { ...req.fields, _csrf: csrfOf(page.html) });
      }
      // Signed out, every non-public row sends to /login; public rows name their status.
      const expected = kind === 'none' && !row.public ? 303 : (row.expect[kind] ?? 303);
      if (res.status !== expected)
        failures.push(
          `${kind}: expected ${expected}, got ${res.status} ${res.location ?? res.html.slice(0, 120)}`,
        );
      if (kind === 'none' && !row.public && !res.location?.startsWith('/login'))
        failures.push(`none: not sent to /login (${res.location})`);
    }
    expect(failures).toEqual([]);
  });
});
