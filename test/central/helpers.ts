import { SELF } from 'cloudflare:test';

export const ADMIN = 'local-admin-token';
export const BASE = 'http://central.test';

/** Calls the central worker (its real fetch handler) with a bearer token and an optional JSON body. */
export async function api(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {}) {
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
