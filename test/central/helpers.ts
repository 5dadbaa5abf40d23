import { env, SELF } from 'cloudflare:test';

export const ADMIN = 'local-admin-token';
export const BASE = 'http://central.test';

/** Calls the central worker (its real fetch handler) with a bearer token and an optional JSON body. */
export async function api(
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...opts.headers };
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
    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%' and name != 'd1_migrations'",
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
