/** @jsxImportSource hono/jsx */
import { env } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex } from '../../src/central/http/auth.js';
import { getHashKey } from '../../src/central/services/hash-key.js';
import { keyedHash, normaliseMessageId } from '../../src/core/keyed-hash.js';
import { deriveEdgeCredentials, hmacHex } from '../../src/core/request-signature.js';
import { createDb } from '../../src/db/client.js';
import { activities, apiTokens, deadLetters, dispositions, regions } from '../../src/db/schema.js';
import { Browser, csrfOf, NAV, signedIn } from './dashboard-browser.js';
import { ADMIN, api, seedBasics } from './helpers.js';

/** Submits the Routes page's add-or-update form, its fields in the form's order. */
const saveRoute = (
  b: Browser,
  address: string,
  region: string,
  deployment: string,
  userId: string,
  filter: string,
) => b.post('/routes/save', { address, region, deployment, userId, filter });

/** A route as the API reads it back. */
const mailbox = async (address: string) => (await api('GET', `/api/v1/mailboxes/${address}`)).json;

const db = createDb(env.DB);
const XSS_SUBJECT = '<img src=x onerror=alert(1)>';
const XSS_NAME = '<script>alert(1)</script>';
const XSS_FILE = '"><svg onload=alert(2)>.pdf';

async function insertToken(scope: string) {
  const token = `tok_${crypto.randomUUID().replace(/-/g, '')}`;
  const id = crypto.randomUUID();
  await db.insert(apiTokens).values({ id, hash: await sha256Hex(token), scope, label: 'dashboard test' });
  return { id, token };
}

async function insertActivity(a: {
  deployment: string;
  subject: string;
  fromName?: string;
  messageId: string;
}) {
  const id = crypto.randomUUID();
  const now = Date.now();
  await db.insert(activities).values({
    id,
    deployment: a.deployment,
    dedupeKey: normaliseMessageId(a.messageId),
    messageId: normaliseMessageId(a.messageId),
    subject: a.subject,
    fromAddress: `sender@${a.deployment}-customer.example`,
    fromName: a.fromName ?? null,
    parties: [
      {
        role: 'from',
        address: `sender@${a.deployment}-customer.example`,
        ...(a.fromName ? { name: a.fromName } : {}),
      },
      {
        role: 'to',
        address: `alice@${a.deployment}.example`,
        recordType: 'user',
        recordId: `u-alice-${a.deployment}`,
      },
    ],
    reason: 'tracked:token',
    correlationMethod: 'token',
    correlationDetail: `subject carries ${a.deployment === 'contoso' ? 'CRM:0001001' : 'CRM:1001001'}`,
    mailboxes: [`alice@${a.deployment}.example`],
    regions: ['eu'],
    egress: 'metadata+subject',
    content: [
      {
        region: 'eu',
        raw: { region: 'eu', key: `raw/2026-11-20/${id}.eml`, size: 2048 },
        attachments: [
          {
            filename: XSS_FILE,
            contentType: 'application/pdf',
            size: 100,
            ref: { region: 'eu', key: `att/${id}/0`, size: 100 },
          },
        ],
      },
    ],
    sizeBytes: 2048,
    receivedAt: now - 1000,
    ingestedAt: now,
    updatedAt: now,
    seq: sql`(select coalesce(max(seq), 0) + 1 from activities)`,
  });
  return id;
}

function validItem(deployment: string, messageId: string) {
  return {
    kind: 'item',
    id: crypto.randomUUID(),
    region: 'eu',
    deployment,
    messageId,
    contentHash: 'a'.repeat(64),
    receivedAt: Date.now() - 5000,
    sizeBytes: 1200,
    mailboxes: [`bob@${deployment}.example`],
    reason: 'tracked:all',
    correlation: { method: 'all', detail: 'mailbox filter is all' },
    egress: 'metadata+subject',
    from: { address: 'someone@customer.example', name: 'Some One' },
    to: [{ address: `bob@${deployment}.example` }],
    cc: [],
    subject: `Dead letter for ${deployment}`,
    attachments: [],
  };
}

const fixture = {
  contosoActivity: '',
  fabrikamActivity: '',
  contosoMessageId: `<contoso-${crypto.randomUUID()}@mail.example>`,
  fabrikamMessageId: `<fabrikam-${crypto.randomUUID()}@mail.example>`,
  tossedMessageId: `<tossed-${crypto.randomUUID()}@mail.example>`,
  contosoDeadLetter: crypto.randomUUID(),
  fabrikamDeadLetter: crypto.randomUUID(),
};

beforeAll(async () => {
  await seedBasics();
  await api('PUT', '/api/v1/regions/apac', { body: { name: 'Asia-Pacific', rulesEnabled: true } });
  await api('PUT', '/api/v1/mailboxes/alice@contoso.example', {
    body: { region: 'eu', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
  });
  await api('PUT', '/api/v1/mailboxes/frank@fabrikam.example', {
    body: { region: 'us', deployment: 'fabrikam', userId: 'u-frank', filter: 'records' },
  });
  const now = Date.now();
  await db
    .update(regions)
    .set({ lastHeartbeatAt: now - 5000, edgeUrl: 'http://127.0.0.1:9788' })
    .where(eq(regions.id, 'us'));
  await db
    .update(regions)
    .set({ lastHeartbeatAt: now - 10 * 60 * 1000, edgeUrl: 'http://127.0.0.1:9789/' })
    .where(eq(regions.id, 'eu'));
  await env.DB.prepare('insert into region_canaries (region, round_trip_ms, sent_at, at) values (?, ?, ?, ?)')
    .bind('us', 340, now - 120_340, now - 120_000)
    .run();
  fixture.contosoActivity = await insertActivity({
    deployment: 'contoso',
    subject: XSS_SUBJECT,
    fromName: XSS_NAME,
    messageId: fixture.contosoMessageId,
  });
  fixture.fabrikamActivity = await insertActivity({
    deployment: 'fabrikam',
    subject: 'Fabrikam secret plans',
    messageId: fixture.fabrikamMessageId,
  });
  const key = await getHashKey(db);
  await db.insert(dispositions).values([
    {
      id: crypto.randomUUID(),
      region: 'eu',
      reason: 'filter:no-record-match',
      detail: 'no record matched',
      mailbox: 'alice@contoso.example',
      deployment: 'contoso',
      messageIdHash: keyedHash(key, normaliseMessageId(fixture.tossedMessageId)),
      sizeBytes: 900,
      at: now - 2000,
    },
    {
      id: crypto.randomUUID(),
      region: 'us',
      reason: 'suppressed',
      mailbox: 'frank@fabrikam.example',
      deployment: 'fabrikam',
      messageIdHash: keyedHash(key, 'fabrikam-only@mail.example'),
      sizeBytes: 700,
      at: now - 2000,
    },
  ]);
  await db.insert(deadLetters).values([
    {
      id: fixture.contosoDeadLetter,
      region: 'eu',
      deployment: 'contoso',
      item: validItem('contoso', `dl-${crypto.randomUUID()}@mail.example`),
      error: 'delivery to central failed after 5 attempts: HTTP 503',
      attempts: 5,
      createdAt: now - 3000,
    },
    {
      id: fixture.fabrikamDeadLetter,
      region: 'us',
      deployment: 'fabrikam',
      item: validItem('fabrikam', `dl-fab-${crypto.randomUUID()}@mail.example`),
      error: 'fabrikam-only failure',
      attempts: 5,
      createdAt: now - 3000,
    },
  ]);
});

describe('dashboard sign-in', () => {
  test('an unauthenticated page request is redirected to /login with the page to return to', async () => {
    const res = await new Browser().get('/activities?q=x');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/login?next=%2Factivities%3Fq%3Dx');
  });

  test('the login page has a token field and a CSP that allows no inline script and no framing', async () => {
    const res = await new Browser().get('/login');
    expect(res.status).toBe(200);
    expect(res.html).toMatch(/<input[^>]*id="token"[^>]*name="token"/);
    expect(res.html).toMatch(/<label for="token">API token<\/label>/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.html).not.toMatch(/<script(?![^>]*\bsrc="\/assets\/app\.js")/);
    expect(res.html).not.toMatch(/\sstyle="/);
    expect(res.html).not.toMatch(/\son[a-z]+="/i);
  });

  test('signing in sets an HttpOnly, SameSite=Strict session cookie and redirects', async () => {
    const b = new Browser();
    const res = await b.signIn(ADMIN);
    expect(res.status).toBe(303);
    expect(res.location).toBe('/');
    const cookie = b.lastSetCookies.find((c) => c.startsWith('crm_session='));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Path=\//i);
    expect(cookie).toMatch(/;\s*Max-Age=\d+/i);
    expect(cookie).not.toContain(ADMIN);
    expect((await b.get('/')).status).toBe(200);
  });

  test('over HTTPS the session cookie is Secure and host-only (__Host- prefix)', async () => {
    const b = new Browser('https://central.localhost');
    const res = await b.signIn(ADMIN);
    expect(res.status).toBe(303);
    const cookie = b.lastSetCookies.find((c) => c.startsWith('__Host-crm_session='));
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect((await b.get('/regions')).status).toBe(200);
  });

  test('an unknown token is refused with a message and no session', async () => {
    const b = new Browser();
    const res = await b.signIn('not-a-token');
    expect(res.status).toBe(401);
    expect(res.html).toContain('Unknown or revoked token.');
    expect([...b.cookies.keys()]).not.toContain('crm_session');
  });

  test('a sign-in without the form CSRF token is refused', async () => {
    const b = new Browser();
    await b.get('/login');
    const res = await b.request('POST', '/login', { token: ADMIN });
    expect(res.status).toBe(403);
    expect([...b.cookies.keys()]).not.toContain('crm_session');
  });

  test('edge-scoped and user-scoped tokens may not sign in', async () => {
    const edge = await deriveEdgeCredentials(env.EDGE_KEY_SECRET ?? '', 'us');
    // Answered like an unknown token, and counted (test/central/sign-in.test.ts).
    const a = await new Browser().signIn(edge.token);
    expect(a.status).toBe(401);
    expect(a.html).toContain('Unknown or revoked token.');
    const user = await insertToken('user:contoso/u-alice');
    const b = await new Browser().signIn(user.token);
    expect(b.status).toBe(401);
  });

  test('a next parameter pointing elsewhere is ignored', async () => {
    const b = new Browser();
    const form = await b.get('/login?next=//evil.example/x');
    const res = await b.request('POST', '/login', {
      token: ADMIN,
      _csrf: csrfOf(form.html),
      next: '//evil.example/x',
    });
    expect(res.location).toBe('/');
  });

  test('a tampered session cookie is treated as signed out', async () => {
    const b = await signedIn();
    const value = b.cookies.get('crm_session')!;
    b.cookies.set(
      'crm_session',
      value.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')),
    );
    const res = await b.get('/');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/login');
  });

  test('revoking the token ends its session on the next request', async () => {
    const { id, token } = await insertToken('deployment:contoso');
    const b = await signedIn(token);
    expect((await b.get('/activities')).status).toBe(200);
    await db.update(apiTokens).set({ revokedAt: Date.now() }).where(eq(apiTokens.id, id));
    const res = await b.get('/activities');
    expect(res.status).toBe(303);
    expect(res.location).toContain('/login');
  });

  test('signing out (a CSRF-protected POST) clears the session', async () => {
    const b = await signedIn();
    const res = await b.post('/logout', {}, { csrfFrom: '/' });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/login');
    expect(b.cookies.has('crm_session')).toBe(false);
    expect((await b.get('/')).status).toBe(303);
  });
});

describe('dashboard pages', () => {
  const pages = ['/', '/regions', '/routes', '/activities', '/dispositions', '/dead-letters', '/deployments'];

  test.each(pages)('%s renders with the full navigation and the secure headers', async (path) => {
    const b = await signedIn();
    const res = await b.get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    for (const label of NAV) expect(res.html).toMatch(new RegExp(`<a href="[^"]*"[^>]*>${label}</a>`));
    expect(res.html).toMatch(/<form method="post" action="\/logout">/);
    expect(res.html).toContain('>Sign out</button>');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.html).not.toMatch(/\sstyle="/);
  });

  test('the static script and stylesheet are served from /assets', async () => {
    const b = new Browser();
    const js = await b.get('/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const css = await b.get('/assets/app.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    expect(css.html).toContain('@media (max-width: 700px)');
  });

  test('the dashboard leaves the JSON API alone', async () => {
    const res = await api('GET', '/api/v1/regions');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBeNull();
    expect((await api('GET', '/api/v1/regions', { token: null })).status).toBe(401);
  });

  test('the overview shows a region whose edge stopped reporting as unhealthy, never as fine', async () => {
    const b = await signedIn();
    const res = await b.get('/');
    const card = (id: string) => {
      const start = res.html.indexOf(`id="region-${id}"`);
      return res.html.slice(start, res.html.indexOf('</section>', start));
    };
    expect(card('eu')).toContain('unhealthy — no heartbeat for 10 min');
    expect(card('eu')).not.toContain('healthy — heartbeat');
    expect(card('us')).toMatch(/healthy — heartbeat \d+ s ago, canary 2 min ago/);
    expect(card('us')).toContain('round trip 340 ms, 2 min ago');
    expect(card('apac')).toContain('unhealthy — no heartbeat ever received');
    expect(card('eu')).toContain('All cross-region traffic');
    expect(res.html).toContain('2 regions are unhealthy: apac, eu.');
    expect(res.html.indexOf('id="region-us"')).toBeLessThan(res.html.indexOf('id="region-apac"'));
    expect(card('us')).toContain('<svg class="chart"');
    expect(card('eu')).toContain('Cross-region bytes');
    expect(card('eu')).toContain('if everything were forwarded to central');
    expect(card('eu')).toContain('p50');
    expect(card('us')).toContain('central runs in this region');
  });

  test('a region whose heartbeat is live but whose canary stopped coming through is unhealthy, never fine', async () => {
    const b = await signedIn();
    const card = (html: string, id: string) => {
      const start = html.indexOf(`id="region-${id}"`);
      return html.slice(start, html.indexOf('</section>', start));
    };
    const setCanaryAge = (ms: number) =>
      env.DB.prepare("update region_canaries set at = ? where region = 'us'")
        .bind(Date.now() - ms)
        .run();
    await setCanaryAge(20 * 60_000);
    try {
      const res = await b.get('/');
      expect(card(res.html, 'us')).toContain('unhealthy — no canary came through for 20 min');
      expect(card(res.html, 'us')).toContain('stale');
      expect(res.html).toContain('3 regions are unhealthy: apac, eu, us.');
    } finally {
      await setCanaryAge(120_000);
    }
  });

  test('mail-borne text (subject, display name, file name) is rendered escaped', async () => {
    const b = await signedIn();
    for (const path of ['/activities', `/activities/${fixture.contosoActivity}`]) {
      const res = await b.get(path);
      expect(res.status).toBe(200);
      expect(res.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
      expect(res.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(res.html).not.toContain(XSS_SUBJECT);
      expect(res.html).not.toContain(XSS_NAME);
    }
    const detail = await b.get(`/activities/${fixture.contosoActivity}`);
    expect(detail.html).toContain('&quot;&gt;&lt;svg onload=alert(2)&gt;.pdf');
    expect(detail.html).not.toContain('<svg onload');
  });

  test('an activity explains why it was tracked and links to its raw message with a signed, expiring URL', async () => {
    const b = await signedIn();
    const res = await b.get(`/activities/${fixture.contosoActivity}`);
    expect(res.html).toContain('<h2 id="why">Why tracked</h2>');
    expect(res.html).toContain('<code>tracked:token</code>');
    expect(res.html).toContain('subject carries CRM:0001001');
    expect(res.html).toContain('alice@contoso.example');
    expect(res.html).toContain('user <code>u-alice-contoso</code>');
    const m =
      /href="(http:\/\/127\.0\.0\.1:9789\/raw\/raw\/2026-11-20\/[^"]+\.eml)\?exp=(\d+)&amp;sig=([0-9a-f]{64})"/.exec(
        res.html,
      );
    expect(m).not.toBeNull();
    const [, , exp, sig] = m!;
    expect(Number(exp)).toBeGreaterThan(Date.now());
    const key = `raw/2026-11-20/${fixture.contosoActivity}.eml`;
    const { signingKey } = await deriveEdgeCredentials(env.EDGE_KEY_SECRET ?? '', 'eu');
    expect(sig).toBe(await hmacHex(signingKey, `raw:${key}:${exp}`));
    expect(res.html).toContain(`/raw/att/${fixture.contosoActivity}/0?exp=`);
  });

  test('activities page newest first, 50 at a time, with stable older/newest links', async () => {
    const tag = `paging-${crypto.randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 51; i++)
      await insertActivity({
        deployment: 'contoso',
        subject: `${tag} #${i}`,
        messageId: `<${tag}-${i}@mail.example>`,
      });
    const b = await signedIn();
    const first = await b.get(`/activities?q=${tag}`);
    expect(first.html.match(new RegExp(`${tag} #\\d+`, 'g'))).toHaveLength(50);
    expect(first.html).toContain(`${tag} #50`);
    expect(first.html).not.toContain('← Newest');
    const older = /href="(\/activities\?[^"]*cursor=\d+)"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    expect(older).toBeDefined();
    const second = await b.get(older!);
    expect(second.html.match(new RegExp(`${tag} #\\d+`, 'g'))).toEqual([`${tag} #0`]);
    expect(second.html).toContain('← Newest');
    expect(second.html).not.toContain('Older activities');
  });

  test('a Message-ID lookup shows each edge decision and the activity, if any', async () => {
    const b = await signedIn();
    const tossed = await b.get(`/dispositions?messageId=${encodeURIComponent(fixture.tossedMessageId)}`);
    expect(tossed.html).toContain('<code>filter:no-record-match</code>');
    expect(tossed.html).toContain('No activity has this Message-ID.');
    const tracked = await b.get(`/dispositions?messageId=${encodeURIComponent(fixture.contosoMessageId)}`);
    expect(tracked.html).toContain(`/activities/${fixture.contosoActivity}`);
    const filtered = await b.get('/dispositions?reason=suppressed');
    expect(filtered.html).toContain('frank@fabrikam.example');
    expect(filtered.html).not.toContain('<code>filter:no-record-match</code>');
  });

  test('a POST without the CSRF token is refused and changes nothing', async () => {
    const b = await signedIn();
    const before = await db.select().from(regions).where(eq(regions.id, 'apac')).get();
    const res = await b.post('/regions/apac/rules', { enable: 'false' }, { csrf: false });
    expect(res.status).toBe(403);
    expect(res.html).toContain('CSRF');
    const wrong = await b.request('POST', '/regions/apac/rules', { enable: 'false', _csrf: 'ab'.repeat(32) });
    expect(wrong.status).toBe(403);
    const foreign = await b.request(
      'POST',
      '/regions/apac/rules',
      { enable: 'false', _csrf: csrfOf((await b.get('/regions')).html) },
      { origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    const after = await db.select().from(regions).where(eq(regions.id, 'apac')).get();
    expect(after).toEqual(before);
  });

  test('disabling a region’s rules takes a confirmation step with a what-if, then bumps its snapshot', async () => {
    const b = await signedIn();
    const list = await b.get('/regions');
    expect(list.html).toContain('Disable rules for apac…');
    expect(list.html).toContain('New-InboxRule -Mailbox &#39;alice@contoso.example&#39;');
    expect(list.html).toMatch(/crm-[0-9a-f]{24}@eu\.edge\./);
    const confirm = await b.get('/regions/apac/rules?enable=false');
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('<h1>Disable rules for apac?</h1>');
    expect(confirm.html).toContain('would no longer be captured');
    const before = await db.select().from(regions).where(eq(regions.id, 'apac')).get();
    const res = await b.post(
      '/regions/apac/rules',
      { enable: 'false' },
      { csrfFrom: '/regions/apac/rules?enable=false' },
    );
    expect(res.status).toBe(303);
    const after = await db.select().from(regions).where(eq(regions.id, 'apac')).get();
    expect(after?.rulesEnabled).toBe(false);
    expect(after!.configVersion).toBeGreaterThan(before!.configVersion);
    const page = await b.get(res.location!);
    expect(page.html).toContain('Rules disabled for apac');
    expect(page.html).toContain('Enable rules for apac…');
    await b.post('/regions/apac/rules', { enable: 'true' });
    await b.post('/regions/apac/egress', { egress: 'metadata' });
    const final = await db.select().from(regions).where(eq(regions.id, 'apac')).get();
    expect(final).toMatchObject({ rulesEnabled: true, egress: 'metadata' });
  });

  test('routes can be added, moved, re-filtered and deleted with the API’s validation', async () => {
    const b = await signedIn();
    const bad = await saveRoute(b, 'not an address', 'us', 'contoso', 'u-x', 'all');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('must be an e-mail address');
    const add = await saveRoute(b, 'Dora@Contoso.example', 'us', 'contoso', 'u-dora', 'all');
    expect(add.status).toBe(303);
    expect(await mailbox('dora@contoso.example')).toMatchObject({
      region: 'us',
      filter: 'all',
    });
    const euBefore = await db.select().from(regions).where(eq(regions.id, 'eu')).get();
    await saveRoute(b, 'dora@contoso.example', 'eu', 'contoso', 'u-dora', 'responses');
    expect(await mailbox('dora@contoso.example')).toMatchObject({
      region: 'eu',
      filter: 'responses',
    });
    const euAfter = await db.select().from(regions).where(eq(regions.id, 'eu')).get();
    expect(euAfter!.configVersion).toBeGreaterThan(euBefore!.configVersion);
    const search = await b.get('/routes?q=dora');
    expect(search.html).toContain('dora@contoso.example');
    const confirm = await b.get('/routes/delete?address=dora%40contoso.example');
    expect(confirm.html).toContain('Yes, delete the route');
    const del = await b.post('/routes/delete', { address: 'dora@contoso.example' }, { csrfFrom: '/routes' });
    expect(del.status).toBe(303);
    expect((await api('GET', '/api/v1/mailboxes/dora@contoso.example')).status).toBe(404);
  });

  test('replaying a dead letter from the dashboard ingests its item', async () => {
    const b = await signedIn();
    const list = await b.get('/dead-letters');
    expect(list.html).toContain('delivery to central failed after 5 attempts: HTTP 503');
    const res = await b.post(
      `/dead-letters/${fixture.contosoDeadLetter}/replay`,
      {},
      { csrfFrom: '/dead-letters' },
    );
    expect(res.status).toBe(303);
    const row = await db
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.id, fixture.contosoDeadLetter))
      .get();
    expect(row?.replayedAt).not.toBeNull();
    expect(row?.replayResult).toMatch(/^accepted as /);
    const page = await b.get(res.location!);
    expect(page.html).toMatch(/accepted as activity/);
  });

  test('the deployments page shows token format, webhook, size and attachment policy, record counts', async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-dash-1', emails: ['c1@customer.example'] }] },
    });
    const b = await signedIn();
    const res = await b.get('/deployments');
    expect(res.html).toContain('<code>CRM:0001001</code>');
    expect(res.html).toContain('25.0 MiB per message');
    expect(res.html).toMatch(/regional — stay in the receiving region/);
    expect(res.html).toMatch(/\d+ contacts?/);
  });
});

describe('a deployment-scoped session', () => {
  test('never sees another deployment’s data on any page', async () => {
    const { token } = await insertToken('deployment:contoso');
    const b = await signedIn(token);
    const checks: [string, string[]][] = [
      ['/', []],
      ['/activities', ['Fabrikam secret plans']],
      ['/activities?deployment=fabrikam', ['Fabrikam secret plans']],
      [`/activities?q=${encodeURIComponent('secret plans')}`, ['Fabrikam secret plans']],
      ['/dispositions', ['frank@fabrikam.example']],
      ['/dispositions?reason=suppressed', ['frank@fabrikam.example']],
      ['/routes', ['frank@fabrikam.example']],
      ['/routes?deployment=fabrikam', ['frank@fabrikam.example']],
      ['/dead-letters?show=all', ['fabrikam-only failure']],
      ['/deployments', ['Fabrikam']],
      ['/regions', []],
    ];
    for (const [path, hidden] of checks) {
      const res = await b.get(path);
      expect(res.status, path).toBe(200);
      expect(res.html, path).toContain('deployment contoso');
      for (const text of hidden) expect(res.html, `${path} shows ${text}`).not.toContain(text);
      expect(res.html, path).not.toMatch(/\bfabrikam\b(?!\.example)/i);
    }
    const contoso = await b.get('/activities?q=onerror');
    expect(contoso.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect((await b.get(`/activities/${fixture.fabrikamActivity}`)).status).toBe(404);
    const lookup = await b.get(`/dispositions?messageId=${encodeURIComponent(fixture.fabrikamMessageId)}`);
    expect(lookup.html).not.toContain(fixture.fabrikamActivity);
    expect(lookup.html).toContain('No activity has this Message-ID.');
  });

  test('cannot act on another deployment or change regions', async () => {
    const { token } = await insertToken('deployment:contoso');
    const b = await signedIn(token);
    expect((await b.get('/regions')).html).not.toContain('Disable rules for');
    expect((await b.get('/regions/eu/rules?enable=false')).status).toBe(403);
    expect((await b.post('/regions/eu/rules', { enable: 'false' })).status).toBe(403);
    const replay = await b.post(
      `/dead-letters/${fixture.fabrikamDeadLetter}/replay`,
      {},
      { csrfFrom: '/dead-letters' },
    );
    expect(replay.status).toBe(404);
    const move = await saveRoute(b, 'frank@fabrikam.example', 'eu', 'contoso', 'u-frank', 'all');
    expect(move.status).toBe(403);
    expect(await mailbox('frank@fabrikam.example')).toMatchObject({
      deployment: 'fabrikam',
      region: 'us',
    });
    expect((await b.get('/routes/delete?address=frank%40fabrikam.example')).status).toBe(404);
  });
});
