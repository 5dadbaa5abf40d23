/** @jsxImportSource hono/jsx */
// The dashboard's API-token page (/deployments/tokens): list, mint (plaintext shown once), revoke.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, test } from 'vitest';
import { Browser, NAV, signedIn as signIn } from './dashboard-browser.js';
import { ADMIN, api, mintToken, seedBasics } from './helpers.js';

/** Forms here post with the CSRF field of the tokens page. */
const signedIn = (token = ADMIN) => signIn(token, '/deployments/tokens');

const PLAINTEXT = /crt_[A-Za-z0-9_-]{20,}/g;

async function tokenRow(id: string) {
  return env.DB.prepare('select id, scope, label, hash, revoked_at as revokedAt from api_tokens where id = ?')
    .bind(id)
    .first<{ id: string; scope: string; label: string | null; hash: string; revokedAt: number | null }>();
}

async function tokenIdsOfScope(scope: string) {
  const { results } = await env.DB.prepare('select id from api_tokens where scope = ?')
    .bind(scope)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Mints through the form and returns the plaintext and id from the response page. */
async function mintViaForm(b: Browser, fields: Record<string, string>) {
  const res = await b.post('/deployments/tokens', fields);
  expect(res.status).toBe(200);
  const shown = res.html.match(PLAINTEXT) ?? [];
  expect(shown).toHaveLength(1);
  const id = /New token (tok_[0-9a-f]+)/.exec(res.html)?.[1];
  expect(id).toBeTruthy();
  return { res, token: shown[0]!, id: id! };
}

beforeAll(async () => {
  await seedBasics();
});

describe('dashboard API tokens page', () => {
  test('is linked from the Deployments page; the navigation keeps its seven links', async () => {
    const b = await signedIn();
    const deployments = await b.get('/deployments');
    expect(deployments.html).toContain('href="/deployments/tokens"');
    const page = await b.get('/deployments/tokens');
    for (const [id, name] of [
      ['t-kind', 'kind'],
      ['t-deployment', 'deployment'],
      ['t-region', 'region'],
    ])
      expect(page.html).toMatch(new RegExp(`<select id="${id}" name="${name}"`));
    expect(page.status).toBe(200);
    const nav = /<nav class="main"[^>]*>([\s\S]*?)<\/nav>/.exec(page.html)?.[1] ?? '';
    expect([...nav.matchAll(/<a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1])).toEqual(NAV);
    expect(page.html).toMatch(/<a href="\/deployments" aria-current="page">/);
    for (const id of ['t-kind', 't-deployment', 't-user', 't-region', 't-label'])
      expect(page.html).toContain(`<label for="${id}">`);
  });

  test('signed out, the page redirects to sign-in', async () => {
    const res = await new Browser().get('/deployments/tokens');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/login?next=%2Fdeployments%2Ftokens');
  });

  test('minting via the form shows the token once, and it works as a bearer token', async () => {
    const b = await signedIn();
    const { res, token, id } = await mintViaForm(b, {
      kind: 'deployment',
      deployment: 'contoso',
      label: 'CRM <b>connector</b>',
    });
    // Not in a cookie, not in a redirect.
    expect(res.location).toBeNull();
    expect(b.lastSetCookies.join('\n')).not.toContain(token);
    expect(res.html).toContain('CRM &lt;b&gt;connector&lt;/b&gt;');
    expect(res.html).not.toContain('<b>connector</b>');
    expect(res.headers.get('cache-control')).toContain('no-store');
    const row = await tokenRow(id);
    expect(row?.scope).toBe('deployment:contoso');
    expect(row?.label).toBe('CRM <b>connector</b>');

    // The token works on the API.
    const list = await api('GET', '/api/v1/tokens', { token });
    expect(list.status).toBe(200);
    expect(list.json.items.map((t: { id: string }) => t.id)).toContain(id);

    // Shown once: the list afterwards names the token but never its plaintext or hash.
    const again = await b.get('/deployments/tokens');
    expect(again.html).toContain(id);
    expect(again.html).toContain('deployment:contoso');
    expect(again.html).not.toContain(token);
    expect(again.html.match(PLAINTEXT)).toBeNull();
    expect(again.html).not.toContain(row!.hash);
  });

  test('an admin can mint user, edge and admin tokens; invalid scopes are refused on the page', async () => {
    const b = await signedIn();
    const user = await mintViaForm(b, { kind: 'user', deployment: 'fabrikam', userId: 'u-42', label: '' });
    expect((await tokenRow(user.id))?.scope).toBe('user:fabrikam/u-42');
    const edge = await mintViaForm(b, { kind: 'edge', region: 'eu', label: 'eu edge' });
    expect((await tokenRow(edge.id))?.scope).toBe('edge:eu');

    const noUser = await b.post('/deployments/tokens', { kind: 'user', deployment: 'contoso', userId: '' });
    expect(noUser.status).toBe(400);
    expect(noUser.html).toContain('is not one of');
    expect(noUser.html.match(PLAINTEXT)).toBeNull();
    const noRegion = await b.post('/deployments/tokens', { kind: 'edge', region: 'mars' });
    expect(noRegion.status).toBe(400);
    expect(noRegion.html).toContain('region mars does not exist');
    const badKind = await b.post('/deployments/tokens', { kind: 'root' });
    expect(badKind.status).toBe(400);
  });

  test('revoking via the form makes the token 401 on the API', async () => {
    const b = await signedIn();
    const { token, id } = await mintViaForm(b, {
      kind: 'deployment',
      deployment: 'contoso',
      label: 'to revoke',
    });
    expect((await api('GET', '/api/v1/tokens', { token })).status).toBe(200);
    const res = await b.post(`/deployments/tokens/${id}/revoke`, {});
    expect(res.status).toBe(303);
    expect(res.location).toBe('/deployments/tokens');
    expect((await tokenRow(id))?.revokedAt).toBeGreaterThan(0);
    expect((await api('GET', '/api/v1/tokens', { token })).status).toBe(401);
    const page = await b.get('/deployments/tokens');
    expect(page.html).toContain(`Revoked token ${id}`);
    expect(page.html).not.toContain(`/deployments/tokens/${id}/revoke`);
    // Twice is harmless; unknown ids are 404.
    expect((await b.post(`/deployments/tokens/${id}/revoke`, {})).status).toBe(303);
    expect((await b.post('/deployments/tokens/tok_nope/revoke', {})).status).toBe(404);
  });

  test('a deployment session sees and mints only its own deployment’s tokens', async () => {
    const fabrikamToken = await mintToken('deployment:fabrikam');
    const [fabrikamId] = (await api('GET', '/api/v1/tokens', { token: fabrikamToken })).json.items
      .filter((t: { scope: string }) => t.scope === 'deployment:fabrikam')
      .map((t: { id: string }) => t.id);
    const fabrikamUser = await mintToken('user:fabrikam/u-1');
    const contosoToken = await mintToken('deployment:contoso');
    const b = await signedIn(contosoToken);

    const page = await b.get('/deployments/tokens');
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('fabrikam');
    expect(page.html).toContain('deployment:contoso');
    expect(page.html).toContain('(this session)');
    // Only the own deployment and the deployment/user kinds are offered.
    expect(page.html).not.toContain('value="fabrikam"');
    expect(page.html).not.toContain('value="edge"');
    expect(page.html).not.toContain('value="admin"');
    expect(page.html).not.toContain('id="t-region"');

    const before = (await tokenIdsOfScope('deployment:fabrikam')).length;
    const refused: Record<string, string>[] = [
      { kind: 'deployment', deployment: 'fabrikam' },
      { kind: 'user', deployment: 'fabrikam', userId: 'u-9' },
      { kind: 'edge', region: 'eu' },
      { kind: 'admin' },
    ];
    for (const fields of refused) {
      const res = await b.post('/deployments/tokens', fields);
      expect(res.status).toBe(403);
      expect(res.html.match(PLAINTEXT)).toBeNull();
    }
    expect((await tokenIdsOfScope('deployment:fabrikam')).length).toBe(before);
    expect(await tokenIdsOfScope('user:fabrikam/u-9')).toEqual([]);

    // Another deployment's token cannot be revoked (it does not exist for this session).
    const revoke = await b.post(`/deployments/tokens/${fabrikamId}/revoke`, {});
    expect(revoke.status).toBe(404);
    expect((await api('GET', '/api/v1/tokens', { token: fabrikamToken })).status).toBe(200);
    expect((await api('GET', '/api/v1/tokens', { token: fabrikamUser })).status).toBe(403);

    // Its own deployment's users: allowed.
    const own = await mintViaForm(b, { kind: 'user', deployment: 'contoso', userId: 'u-7', label: 'Alice' });
    expect((await tokenRow(own.id))?.scope).toBe('user:contoso/u-7');
  });

  test('POSTs without a valid CSRF token are refused and change nothing', async () => {
    const b = await signedIn();
    const { token, id } = await mintViaForm(b, { kind: 'deployment', deployment: 'contoso', label: 'csrf' });
    const count = async () =>
      (await env.DB.prepare('select count(*) as n from api_tokens').first<{ n: number }>())!.n;
    const n = await count();
    const mint = await b.post('/deployments/tokens', { kind: 'admin', label: 'forged' }, { csrf: false });
    expect(mint.status).toBe(403);
    expect(mint.html).toContain('Form refused');
    expect(mint.html.match(PLAINTEXT)).toBeNull();
    const forged = await b.request('POST', '/deployments/tokens', { kind: 'admin', _csrf: 'a'.repeat(64) });
    expect(forged.status).toBe(403);
    expect(await count()).toBe(n);
    const revoke = await b.post(`/deployments/tokens/${id}/revoke`, {}, { csrf: false });
    expect(revoke.status).toBe(403);
    expect((await tokenRow(id))?.revokedAt).toBeNull();
    expect((await api('GET', '/api/v1/tokens', { token })).status).toBe(200);
  });
});
