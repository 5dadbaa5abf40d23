import { env, SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import { decodeSnapshot, type RoutingSnapshot } from '../../src/core/snapshot.js';
import { fakeControl } from '../support/connector-context.js';

export const ADMIN = 'local-admin-token';
export const BASE = 'http://central.localhost';

/**
 * Calls the central worker (its real fetch handler) with a bearer token and an optional JSON body,
 * or a `raw` body (with `type` as its content type).
 */
export async function api(
  method: string,
  path: string,
  opts: {
    token?: string | null;
    body?: unknown;
    raw?: BodyInit;
    type?: string;
    headers?: Record<string, string>;
  } = {},
) {
  const headers: Record<string, string> = {
    ...(opts.type ? { 'content-type': opts.type } : {}),
    ...opts.headers,
  };
  const token = opts.token === undefined ? ADMIN : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await SELF.fetch(`${BASE}${path}`, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Creates a region, a deployment and routes, the minimum most tests need. */
export async function seedBasics() {
  await api('PUT', '/api/v1/regions/us', { body: { name: 'US', rulesEnabled: true, egress: 'full' } });
  await api('PUT', '/api/v1/regions/eu', { body: { name: 'EU', rulesEnabled: true } });
  await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso' } });
  await api('PUT', '/api/v1/deployments/fabrikam', { body: { name: 'Fabrikam' } });
}

/** Mints an API token through the real endpoint (as admin unless `as` says otherwise) and returns its plaintext. */
export async function mintToken(scope: string, as: string = ADMIN): Promise<string> {
  const res = await api('POST', '/api/v1/tokens', { token: as, body: { scope, label: `test ${scope}` } });
  if (res.status !== 201) throw new Error(`minting ${scope} failed: ${res.status} ${res.text}`);
  return res.json.token;
}

/**
 * Empties every table (D1 state survives between the tests of a file), keeping the migrations
 * bookkeeping. Call before `seedBasics` for a test that needs a clean database.
 */
export async function resetDatabase() {
  const { results } = await env.DB.prepare(
    // Full-text tables (and their shadow tables) follow their content table through its triggers.
    `select t.name from sqlite_master t where t.type = 'table' and t.name not like 'sqlite_%' and t.name not like '_cf_%'
       and t.name != 'd1_migrations' and t.sql not like 'CREATE VIRTUAL TABLE%'
       and not exists (select 1 from sqlite_master v where v.sql like 'CREATE VIRTUAL TABLE%' and t.name like v.name || '!_%' escape '!')`,
  ).all<{ name: string }>();
  // Children first: mailboxes and deployment domains reference regions and deployments.
  const children = new Set(['mailboxes', 'deployment_domains']);
  const names = results.map((t) => t.name).sort((a, b) => Number(children.has(b)) - Number(children.has(a)));
  await env.DB.batch(names.map((name) => env.DB.prepare(`delete from "${name}"`)));
}

/** A clean database with the basic regions and deployments. */
export async function freshBasics() {
  await resetDatabase();
  await seedBasics();
}

/** {@link freshBasics}, with contoso owning the domain contoso.example and fabrikam fabrikam.example. */
export async function freshTenants() {
  await freshBasics();
  for (const [id, name] of [
    ['contoso', 'Contoso'],
    ['fabrikam', 'Fabrikam'],
  ] as const)
    await api('PUT', `/api/v1/deployments/${id}`, { body: { name, domains: [`${id}.example`] } });
}

/** GET /api/v1/edge/snapshot as the region's edge (signed with the test edge secret). */
export async function fetchSnapshot(
  region: string,
  headers: Record<string, string> = {},
  tokenRegion = region,
) {
  const timestamp = Date.now();
  const { signingKey } = await deriveEdgeCredentials('test-edge-secret', region);
  const { token } = await deriveEdgeCredentials('test-edge-secret', tokenRegion);
  return SELF.fetch(`${BASE}/api/v1/edge/snapshot?region=${region}`, {
    headers: {
      authorization: `Bearer ${token}`,
      'x-edge-region': region,
      'x-edge-timestamp': String(timestamp),
      'x-edge-signature': await signBody(signingKey, timestamp, new Uint8Array()),
      ...headers,
    },
  });
}

/** The region's decoded snapshot as its edge would hold it. */
export async function edgeSnapshot(region: string): Promise<RoutingSnapshot> {
  const res = await fetchSnapshot(region);
  if (res.status !== 200) throw new Error(`snapshot of ${region}: ${res.status} ${await res.text()}`);
  return decodeSnapshot(new Uint8Array(await res.arrayBuffer()));
}

/** Whether the snapshot's records filter of `deployment` holds `address` (false when the deployment is absent). */
export function snapshotHasRecord(
  s: RoutingSnapshot,
  deployment: string,
  address: string,
  view: 'records' | 'emailEnabled' | 'emailEnabledRecipients' = 'records',
): boolean {
  const d = s.deployments[deployment];
  return d ? filterHas(d[view], keyedHash64(s.hashKey, address)) : false;
}

/** Asserts an error answer: its status and its body `{ error: { code, message, requestId } }`. */
export function expectError(
  res: { status: number; json: any },
  status: number,
  code: string,
  message: string,
) {
  expect(res.status).toBe(status);
  expect(res.json.error).toEqual({ code, message, requestId: expect.any(String) });
}

/** A clean database with the basic regions and deployments, and the mailboxes {@link routeMailboxes} routes. */
export async function freshRoutes(...routes: Array<[string, string, string, string, string?]>) {
  await freshBasics();
  await routeMailboxes(...routes);
}

/** Asserts a 400 whose message names `field` first (`field: …`). */
export function expectInvalidField(res: Parameters<typeof expectError>[0], field: string) {
  expect(res.status).toBe(400);
  expect(res.json.error.message).toMatch(new RegExp(`^${field}: `));
}

/** Routes mailboxes through the API as admin, each `[address, region, deployment, userId, filter?]`. */
export async function routeMailboxes(...routes: Array<[string, string, string, string, string?]>) {
  for (const [address, region, deployment, userId, filter] of routes) {
    const body = { region, deployment, userId, ...(filter ? { filter } : {}) };
    const res = await api('PUT', `/api/v1/mailboxes/${address}`, { body });
    if (res.status !== 200) throw new Error(`routing ${address} failed: ${res.status} ${res.text}`);
  }
}

/** A small plain-text message to ann@contoso.example, Message-ID `<m<n>@customer.example>`. */
export function plainMessage(
  n: number,
  subject: string,
  from = 'buyer@customer.example',
  cc?: string,
): string {
  return [
    `From: ${from}`,
    'To: ann@contoso.example',
    ...(cc ? [`Cc: ${cc}`] : []),
    `Subject: ${subject}`,
    `Message-ID: <m${n}@customer.example>`,
    'Content-Type: text/plain',
    '',
    'body',
    '',
  ].join('\r\n');
}

/**
 * POST …/promote of a raw message for `mailbox` (as it stands in the query) as admin or `token`:
 * the answer as it is.
 */
export function postPromote(deployment: string, mailbox: string, raw: string, token?: string) {
  return api('POST', `/api/v1/deployments/${deployment}/promote?mailbox=${mailbox}`, {
    raw,
    type: 'message/rfc822',
    token,
  });
}

/** Adds suppression entries to a deployment as admin: the answer as it is. */
export function suppress(deployment: string, entries: string[]) {
  return api('POST', `/api/v1/deployments/${deployment}/suppressions`, { body: { entries } });
}

/** Promotes a raw message for a mailbox as admin (throws unless 201) and returns the activity. */
export async function promoteRaw(deployment: string, mailbox: string, raw: string) {
  const res = await postPromote(deployment, mailbox, raw);
  if (res.status !== 201) throw new Error(`promote failed: ${res.status} ${res.text}`);
  return res.json;
}

/** The ids of a deployment's records carrying `address` (`GET …/records?address=`). */
export async function recordIdsOf(deployment: string, address: string): Promise<string[]> {
  const res = await api(
    'GET',
    `/api/v1/deployments/${deployment}/records?address=${encodeURIComponent(address)}`,
  );
  expect(res.status).toBe(200);
  return (res.json.items as { id: string }[]).map((r) => r.id);
}

/**
 * A clean database with `deployment` connected to a fresh tenant of the HubSpot fake
 * (`hubspotBase`, from `inject('hubspotFake')`) that holds one contact, first@customer.example.
 * Returns the tenant's base URL.
 */
export async function connectHubspotTenant(deployment: string, hubspotBase: string): Promise<string> {
  await freshBasics();
  const base = `${hubspotBase}/t/${crypto.randomUUID()}`;
  await fakeControl(base, 'seed', { contacts: [{ email: 'first@customer.example' }] });
  const put = await api('PUT', `/api/v1/deployments/${deployment}/connector`, {
    body: { kind: 'hubspot', settings: { baseUrl: base }, secrets: { accessToken: 'fake-hubspot-token' } },
  });
  expect(put.status, put.text).toBe(200);
  return base;
}
