// Dashboard sign-in (issue 19, item 12): a token that exists but cannot sign in (user and edge
// tokens) gets exactly the answer an unknown token gets, and counts as a failed sign-in.
import { beforeEach, describe, expect, test } from 'vitest';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import { Browser, csrfOf } from './dashboard-browser.js';
import { ADMIN, freshBasics, mintToken } from './helpers.js';

/** One sign-in attempt from a client, answered as the browser sees it (CSRF values blanked). */
async function attempt(token: string, ip: string) {
  const b = new Browser();
  const headers = { 'cf-connecting-ip': ip };
  const form = await b.request('GET', '/login', undefined, headers);
  const res = await b.request('POST', '/login', { token, _csrf: csrfOf(form.html), next: '/' }, headers);
  return {
    status: res.status,
    html: res.html.replace(/value="[0-9a-f.]{20,}"/g, 'value="…"'),
    sessions: [...b.cookies.keys()].filter((k) => k.includes('session')),
  };
}

describe('dashboard sign-in with a token that cannot sign in', () => {
  beforeEach(freshBasics);

  test('user and edge tokens get exactly the answer an unknown token gets (401, same page, no session)', async () => {
    const unknown = await attempt('an-unknown-token-0123456789', '198.51.100.20');
    expect(unknown.status).toBe(401);
    expect(unknown.sessions).toEqual([]);
    const valid = [
      await mintToken('user:contoso/u-ann'),
      (await deriveEdgeCredentials('test-edge-secret', 'us')).token,
    ];
    for (const [i, token] of valid.entries()) {
      const answer = await attempt(token, `198.51.100.${21 + i}`);
      expect(answer).toEqual(unknown);
    }
  });

  test('a user token counts as a failed sign-in: ten of them and the client waits, admin token included', async () => {
    const user = await mintToken('user:contoso/u-bob');
    for (let i = 0; i < 10; i++) expect((await attempt(user, '198.51.100.30')).status).toBe(401);
    const blocked = await attempt(ADMIN, '198.51.100.30');
    expect(blocked.status).toBe(429);
    expect(blocked.html).toContain('Too many failed sign-ins');
    expect((await attempt(ADMIN, '198.51.100.31')).status).toBe(303);
  });
});
