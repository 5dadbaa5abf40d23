// A cookie-jar client for the dashboard's route tests, shared by test/central/dashboard*.test.tsx.
import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { ADMIN } from './helpers.js';

export const NAV = [
  'Overview',
  'Regions',
  'Routes',
  'Activities',
  'Dispositions',
  'Dead letters',
  'Deployments',
];

/** A minimal browser: a cookie jar over the central worker's real fetch handler, redirects not followed. */
export class Browser {
  readonly cookies = new Map<string, string>();
  lastSetCookies: string[] = [];
  /** How requests reach central (default: the test worker, `SELF`). */
  fetcher: (url: string, init: RequestInit) => Promise<Response> = (url, init) => SELF.fetch(url, init);
  /** `csrfFrom`: the page whose CSRF field `post` uses by default. */
  constructor(
    readonly base = 'http://central.localhost',
    readonly csrfFrom = '/regions',
  ) {}

  async request(
    method: string,
    path: string,
    body?: Record<string, string>,
    headers: Record<string, string> = {},
  ) {
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body) h['content-type'] = 'application/x-www-form-urlencoded';
    const res = await this.fetcher(`${this.base}${path}`, {
      method,
      headers: h,
      body: body ? new URLSearchParams(body).toString() : undefined,
      redirect: 'manual',
    });
    this.lastSetCookies = res.headers.getSetCookie();
    for (const line of this.lastSetCookies) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return {
      status: res.status,
      html: await res.text(),
      headers: res.headers,
      location: res.headers.get('location'),
    };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  /** Posts a form with the CSRF token of the page it came from (unless `csrf` is false). */
  async post(path: string, fields: Record<string, string>, opts: { csrfFrom?: string; csrf?: boolean } = {}) {
    const body = { ...fields };
    if (opts.csrf !== false) body._csrf = csrfOf((await this.get(opts.csrfFrom ?? this.csrfFrom)).html);
    return this.request('POST', path, body);
  }

  async signIn(token: string) {
    const form = await this.get('/login');
    return this.request('POST', '/login', { token, _csrf: csrfOf(form.html), next: '/' });
  }
}

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([0-9a-f]+)"/.exec(html);
  if (!m) throw new Error('page has no CSRF field');
  return m[1]!;
}

/** A browser signed in with `token` (303 asserted). */
export async function signedIn(token = ADMIN, csrfFrom?: string) {
  const b = new Browser(undefined, csrfFrom);
  const res = await b.signIn(token);
  expect(res.status).toBe(303);
  return b;
}
