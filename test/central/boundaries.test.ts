// Issue 11: each numbered boundary, tried as a hostile tenant, a curious user and a rogue edge
// would. Every test here failed before its fix.
import { env, SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { safeNext } from '../../src/central/dashboard/middleware/session.js';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import { decodeSnapshot, forwardingDeployment } from '../../src/core/snapshot.js';
import type { IngestBatch } from '../../src/core/wire.js';
import { Browser, csrfOf } from './dashboard-browser.js';
import { EDGE_SECRET, itemMaker, sendBatch } from './edge-batch.js';
import { api, BASE, freshTenants, mintToken, plainMessage, postPromote, suppress } from './helpers.js';

/** Posts a batch signed with `region`'s real credentials. */
async function signedBatch(region: string, parts: Partial<IngestBatch>) {
  const { status, json } = await sendBatch({ ...parts, region });
  return { status, json: json as { results: { id: string; status: string; reason?: string }[] } };
}

const item = itemMaker('claim', () => ({
  region: 'eu',
  mailboxes: ['bob@contoso.example'],
  correlation: { method: 'all', detail: 'filter mode all' },
  from: { address: 'buyer@customer.example' },
  to: [{ address: 'bob@contoso.example' }],
  subject: 'x',
}));

async function count(sql: string, ...binds: unknown[]): Promise<number> {
  return (
    (
      await env.DB.prepare(sql)
        .bind(...binds)
        .first<{ n: number }>()
    )?.n ?? 0
  );
}

const route = (address: string, body: Record<string, string>, token?: string) =>
  api('PUT', `/api/v1/mailboxes/${encodeURIComponent(address)}`, { body, ...(token ? { token } : {}) });

/** A route body into eu with filter mode all. */
const euAll = (deployment: string, userId = 'x') => ({ region: 'eu', deployment, userId, filter: 'all' });

beforeEach(async () => {
  await freshTenants();
  await route('bob@contoso.example', euAll('contoso', 'u-bob'));
  await route('ann@contoso.example', { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' });
  await route('fay@fabrikam.example', {
    region: 'us',
    deployment: 'fabrikam',
    userId: 'u-fay',
    filter: 'all',
  });
});

describe('1. a tenant cannot capture another tenant’s mail', () => {
  test("a deployment token routing another deployment's address gets 409 and routes nothing", async () => {
    const contoso = await mintToken('deployment:contoso');
    const res = await route('ceo@fabrikam.example', euAll('contoso'), contoso);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('domain_owned_elsewhere');
    expect(await count("select count(*) as n from mailboxes where address = 'ceo@fabrikam.example'")).toBe(0);
    // fabrikam can still route its own address.
    const fabrikam = await mintToken('deployment:fabrikam');
    const own = await route('ceo@fabrikam.example', euAll('fabrikam', 'f-ceo'), fabrikam);
    expect(own.status).toBe(200);
  });

  test('a deployment token may route only its own domains and their subdomains (else 403 domain_not_owned)', async () => {
    const contoso = await mintToken('deployment:contoso');
    const body = euAll('contoso');
    expect((await route('new@contoso.example', body, contoso)).status).toBe(200);
    expect((await route('new@sales.contoso.example', body, contoso)).status).toBe(200);
    const stranger = await route('someone@gmail.example', body, contoso);
    expect(stranger.status).toBe(403);
    expect(stranger.json.error.code).toBe('domain_not_owned');
    // A look-alike is not a subdomain.
    expect((await route('x@evilcontoso.example', body, contoso)).status).toBe(403);
  });

  test('an admin routing an address of a domain owned by another deployment gets 409', async () => {
    const res = await route('ceo@fabrikam.example', euAll('contoso'));
    expect(res.status).toBe(409);
    // Domains nobody owns stay the admin's to route.
    const free = await route('x@unowned.example', euAll('contoso'));
    expect(free.status).toBe(200);
  });

  test('a domain belongs to at most one deployment: the same, a parent or a subdomain is a 409; domains are admin-only', async () => {
    await api('PUT', '/api/v1/deployments/northwind', {
      body: { name: 'Northwind', domains: ['sales.northwind.example'] },
    });
    for (const domains of [['contoso.example'], ['eu.contoso.example'], ['northwind.example']]) {
      const res = await api('PUT', '/api/v1/deployments/fabrikam', { body: { name: 'Fabrikam', domains } });
      expect(res.status).toBe(409);
      expect(res.json.error.code).toBe('domain_owned_elsewhere');
    }
    expect((await api('GET', '/api/v1/deployments/fabrikam')).json.domains).toEqual(['fabrikam.example']);
    const invalid = await api('PUT', '/api/v1/deployments/fabrikam', {
      body: { name: 'F', domains: ['example'] },
    });
    expect(invalid.status).toBe(400);
    const contoso = await mintToken('deployment:contoso');
    const self = await api('PUT', '/api/v1/deployments/contoso', {
      token: contoso,
      body: { name: 'Contoso', domains: ['contoso.example', 'fabrikam.example'] },
    });
    expect(self.status).toBe(403);
  });
});

describe('2. forwarding addresses: a stranger cannot write into a CRM', () => {
  test('admins and the deployment see one unguessable address per region; user tokens and other tenants do not', async () => {
    const admin = await api('GET', '/api/v1/deployments/contoso');
    expect(Object.keys(admin.json.forwardingAddresses).sort()).toEqual(['eu', 'us']);
    expect(admin.json.forwardingAddresses.eu).toMatch(/^crm-[0-9a-f]{24}@eu\.edge\./);
    const own = await api('GET', '/api/v1/deployments/contoso', {
      token: await mintToken('deployment:contoso'),
    });
    expect(own.json.forwardingAddresses).toEqual(admin.json.forwardingAddresses);
    const fabrikam = await api('GET', '/api/v1/deployments/fabrikam');
    expect(fabrikam.json.forwardingAddresses.eu).not.toBe(admin.json.forwardingAddresses.eu);
    const user = await api('GET', '/api/v1/deployments', { token: await mintToken('user:contoso/u-bob') });
    expect(user.json.items[0]).not.toHaveProperty('forwardingAddresses');
    expect(
      (await api('GET', '/api/v1/deployments/contoso', { token: await mintToken('deployment:fabrikam') }))
        .status,
    ).toBe(403);
  });

  test("the region's snapshot accepts exactly the deployments' addresses (hashed); rotation keeps the old ones for 7 days", async () => {
    const before = (await api('GET', '/api/v1/deployments/contoso')).json.forwardingAddresses;
    const rotated = await api('POST', '/api/v1/deployments/contoso/forwarding-addresses/rotate', {
      token: await mintToken('deployment:contoso'),
    });
    expect(rotated.status).toBe(200);
    expect(rotated.json.forwardingAddresses.eu).not.toBe(before.eu);
    expect(rotated.json.previousValidUntil).toBeGreaterThan(Date.now() + 6.9 * 24 * 3600 * 1000);
    expect((await api('GET', '/api/v1/deployments/contoso')).json.forwardingAddresses).toEqual(
      rotated.json.forwardingAddresses,
    );

    const { token, signingKey } = await deriveEdgeCredentials(EDGE_SECRET, 'eu');
    const timestamp = Date.now();
    const res = await SELF.fetch(`${BASE}/api/v1/edge/snapshot?region=eu`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-edge-region': 'eu',
        'x-edge-timestamp': String(timestamp),
        'x-edge-signature': await signBody(signingKey, timestamp, new Uint8Array()),
      },
    });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(new TextDecoder().decode(bytes)).not.toContain(before.eu.split('@')[0]);
    const snapshot = decodeSnapshot(bytes);
    const now = Date.now();
    expect(forwardingDeployment(snapshot, rotated.json.forwardingAddresses.eu, now)).toBe('contoso');
    expect(forwardingDeployment(snapshot, before.eu, now)).toBe('contoso');
    expect(forwardingDeployment(snapshot, before.eu, now + 8 * 24 * 3600 * 1000)).toBeUndefined();
    const fabrikam = (await api('GET', '/api/v1/deployments/fabrikam')).json.forwardingAddresses;
    expect(forwardingDeployment(snapshot, fabrikam.eu, now)).toBe('fabrikam');
    // Another region's address is not accepted here.
    expect(forwardingDeployment(snapshot, rotated.json.forwardingAddresses.us, now)).toBeUndefined();
  });

  test('user tokens may not rotate', async () => {
    const res = await api('POST', '/api/v1/deployments/contoso/forwarding-addresses/rotate', {
      token: await mintToken('user:contoso/u-bob'),
    });
    expect(res.status).toBe(403);
  });
});

describe('3. webhook secrets are for admins only, shown once', () => {
  test('no reader gets the secret or the webhook URL but admins, and admins only when it is set or rotated', async () => {
    const set = await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: 'https://crm.contoso.example/hook' },
    });
    expect(set.json.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    const again = await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso' } });
    expect(again.json).not.toHaveProperty('webhookSecret');
    for (const token of [
      undefined,
      await mintToken('deployment:contoso'),
      await mintToken('user:contoso/u-bob'),
    ]) {
      const list = await api('GET', '/api/v1/deployments', token ? { token } : {});
      expect(list.text).not.toContain(set.json.webhookSecret);
      expect(list.json.items.every((d: object) => !('webhookSecret' in d))).toBe(true);
    }
    const user = await api('GET', '/api/v1/deployments', { token: await mintToken('user:contoso/u-bob') });
    expect(user.json.items[0]).not.toHaveProperty('webhookUrl');
    expect(user.text).not.toContain('crm.contoso.example/hook');
  });

  test('rotation is admin-only and issues a different secret', async () => {
    const set = await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: 'https://crm.contoso.example/hook' },
    });
    const denied = await api('POST', '/api/v1/deployments/contoso/webhook-secret/rotate', {
      token: await mintToken('deployment:contoso'),
    });
    expect(denied.status).toBe(403);
    const rotated = await api('POST', '/api/v1/deployments/contoso/webhook-secret/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.json.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(rotated.json.webhookSecret).not.toBe(set.json.webhookSecret);
  });
});

describe('4. promotion merges only the same message', () => {
  const raw = (opts: { to: string; date: string; body: string }) =>
    [
      'From: buyer@customer.example',
      `To: ${opts.to}`,
      'Subject: Confidential offer',
      `Date: ${opts.date}`,
      'Message-ID: <known-1@customer.example>',
      '',
      opts.body,
      '',
    ].join('\r\n');
  const promote = (body: string, mailbox: string, token?: string) =>
    postPromote('contoso', encodeURIComponent(mailbox), body, token);

  test('a forged message reusing a tracked Message-ID becomes its own activity; the user sees nothing of the other', async () => {
    const original = await promote(
      raw({
        to: 'ann@contoso.example',
        date: 'Thu, 26 Nov 2026 10:00:00 +0000',
        body: 'The real offer: 1M.',
      }),
      'ann@contoso.example',
    );
    expect(original.status).toBe(201);
    const bob = await mintToken('user:contoso/u-bob');
    const forged = await promote(
      'From: x@y.example\r\nMessage-ID: <known-1@customer.example>\r\n\r\nhi\r\n',
      'bob@contoso.example',
      bob,
    );
    expect(forged.status).toBe(201);
    expect(forged.json.id).not.toBe(original.json.id);
    expect(forged.json.mailboxes).toEqual(['bob@contoso.example']);
    expect(forged.text).not.toContain('ann@contoso.example');
    expect(forged.text).not.toContain('Confidential offer');
    // The original is untouched and still invisible to bob.
    const orig = await api('GET', `/api/v1/activities/${original.json.id}`);
    expect(orig.json.mailboxes).toEqual(['ann@contoso.example']);
    expect((await api('GET', `/api/v1/activities/${original.json.id}`, { token: bob })).status).toBe(404);
    const listed = await api('GET', '/api/v1/activities?messageId=known-1@customer.example', { token: bob });
    expect(listed.json.items.map((a: { id: string }) => a.id)).toEqual([forged.json.id]);
  });

  test('the same message promoted by a second recipient merges (same From, To, Cc and Date)', async () => {
    const copy = raw({
      to: 'ann@contoso.example, bob@contoso.example',
      date: 'Thu, 26 Nov 2026 10:00:00 +0000',
      body: 'x',
    });
    const first = await promote(copy, 'ann@contoso.example');
    const second = await promote(copy.replace('\r\n\r\nx', '\r\n\r\nx (forwarded)'), 'bob@contoso.example');
    expect(second.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
    expect(second.json.mailboxes).toEqual(['ann@contoso.example', 'bob@contoso.example']);
  });
});

describe('5. an edge speaks for its own region only', () => {
  test('items, raw and attachment references of another region, or of a deployment not routed there, are rejected and stored nowhere', async () => {
    // fabrikam has no mailbox routed in eu; contoso has bob there.
    const good = item();
    const otherRegion = item({ region: 'us' });
    const rawElsewhere = item({ raw: { region: 'us', key: 'raw/2026-11-26/x.eml', size: 10 } });
    const attachmentElsewhere = item({
      attachments: [
        { contentType: 'application/pdf', size: 5, ref: { region: 'us', key: 'att/x/1', size: 5 } },
      ],
    });
    const notRouted = item({ deployment: 'fabrikam', mailboxes: ['fay@fabrikam.example'] });
    const res = await signedBatch('eu', {
      items: [good, otherRegion, rawElsewhere, attachmentElsewhere, notRouted],
    });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.json.results.map((r) => [r.id, r]));
    expect(byId[good.id]?.status).toBe('accepted');
    for (const bad of [otherRegion, rawElsewhere, attachmentElsewhere, notRouted]) {
      expect(byId[bad.id]).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^claim: /) });
      expect(await count('select count(*) as n from activities where message_id = ?', bad.messageId)).toBe(0);
      expect(await count('select count(*) as n from dead_letters where item like ?', `%${bad.id}%`)).toBe(0);
    }
  });

  test('receipts and dead letters of another region or of a deployment not routed there are rejected unstored', async () => {
    const receipt = (over: object) => ({
      kind: 'receipt' as const,
      id: `r-${crypto.randomUUID()}`,
      region: 'eu',
      reason: 'no-route' as const,
      sizeBytes: 1,
      at: Date.now(),
      ...over,
    });
    const ok = receipt({ deployment: 'contoso' });
    const foreignRegion = receipt({ region: 'us' });
    const foreignDeployment = receipt({ deployment: 'fabrikam' });
    const deadOther = {
      id: `d-${crypto.randomUUID()}`,
      item: item({ deployment: 'fabrikam' }),
      error: 'x',
      attempts: 3,
    };
    const deadRegion = {
      id: `d-${crypto.randomUUID()}`,
      item: item({ region: 'us' }),
      error: 'x',
      attempts: 3,
    };
    const res = await signedBatch('eu', {
      receipts: [ok, foreignRegion, foreignDeployment],
      deadLetters: [deadOther, deadRegion],
    });
    expect(res.status).toBe(200);
    const rejected = res.json.results
      .filter((r) => r.status === 'rejected')
      .map((r) => r.id)
      .sort();
    expect(rejected).toEqual([foreignRegion.id, foreignDeployment.id, deadOther.id, deadRegion.id].sort());
    expect(await count('select count(*) as n from dispositions where id = ?', ok.id)).toBe(1);
    for (const id of [foreignRegion.id, foreignDeployment.id])
      expect(await count('select count(*) as n from dispositions where id = ?', id)).toBe(0);
    for (const id of [deadOther.id, deadRegion.id])
      expect(await count('select count(*) as n from dead_letters where id = ?', id)).toBe(0);
  });
});

describe('6. no open redirect after sign-in', () => {
  test.each([
    '/\t/evil.example',
    '/\n/evil.example',
    '/\\evil.example',
    '/\\/evil.example',
    '//evil.example',
    'https://evil.example/',
    'https:evil.example',
    ' /x',
    '/ok\\..\\evil',
  ])('safeNext(%j) is /', (next) => {
    expect(safeNext(next)).toBe('/');
  });

  test('local paths survive', () => {
    expect(safeNext('/activities?q=a%20b&region=eu')).toBe('/activities?q=a%20b&region=eu');
  });

  test('the sign-in form redirects a tab-smuggled next to /', async () => {
    const b = new Browser();
    const form = await b.get(`/login?next=${encodeURIComponent('/\t/evil.example')}`);
    expect(form.html).not.toContain('evil.example');
    const res = await b.request('POST', '/login', {
      token: 'local-admin-token',
      _csrf: csrfOf(form.html),
      next: '/\t/evil.example',
    });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/');
  });
});

describe('7. limits before work', () => {
  test('an oversize sign-in form is a 413 before it is parsed', async () => {
    const res = await SELF.fetch(`${BASE}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${'a'.repeat(16 * 1024)}`,
    });
    expect(res.status).toBe(413);
    await res.arrayBuffer();
  });

  test('an oversize JSON body is a 413 in the error envelope, even without a token', async () => {
    for (const token of [null, undefined]) {
      const res = await api('PUT', '/api/v1/mailboxes/x%40contoso.example', {
        token,
        raw: JSON.stringify({ region: 'eu', deployment: 'contoso', userId: 'x'.repeat(20_000) }),
        type: 'application/json',
      });
      expect(res.status).toBe(413);
      expect(res.json.error).toMatchObject({ code: 'payload_too_large', requestId: expect.any(String) });
    }
  });

  test('a body without Content-Length is counted while streaming', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(8 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 4) c.enqueue(chunk);
        else c.close();
      },
    });
    const res = await SELF.fetch(`${BASE}/api/v1/regions/eu`, {
      method: 'PUT',
      headers: { authorization: 'Bearer local-admin-token', 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    await res.arrayBuffer();
  });

  test('stats never reach further back than 31 days', async () => {
    const res = await api('GET', '/api/v1/stats?since=0');
    expect(res.status).toBe(200);
    expect(res.json.since).toBeGreaterThan(Date.now() - 32 * 24 * 3600 * 1000);
  });
});

describe('8. smaller leaks and gaps', () => {
  test('promotion honours a bare-domain suppression exactly as the snapshot does', async () => {
    await suppress('contoso', ['customer.example']);
    const fromSubdomain = plainMessage(1, 'hi', 'buyer@mail.customer.example');
    const res = await postPromote('contoso', 'ann%40contoso.example', fromSubdomain);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('suppressed');
  });

  test('user tokens see only their own mailbox routes', async () => {
    const bob = await mintToken('user:contoso/u-bob');
    const list = await api('GET', '/api/v1/mailboxes', { token: bob });
    expect(list.json.items.map((m: { address: string }) => m.address)).toEqual(['bob@contoso.example']);
    expect((await api('GET', '/api/v1/mailboxes/ann%40contoso.example', { token: bob })).status).toBe(404);
    expect((await api('GET', '/api/v1/mailboxes/bob%40contoso.example', { token: bob })).status).toBe(200);
  });

  test("latency percentiles of a deployment token come from its own deployment's mail only", async () => {
    await signedBatch('eu', { items: [item()] });
    await route('fay2@fabrikam.example', euAll('fabrikam', 'u-fay'));
    await signedBatch('eu', {
      items: [
        item({ deployment: 'fabrikam', mailboxes: ['fay2@fabrikam.example'] }),
        item({ deployment: 'fabrikam', mailboxes: ['fay2@fabrikam.example'] }),
      ],
    });
    const all = await api('GET', '/api/v1/stats');
    expect(all.json.total.latencyMs.samples).toBe(3);
    const contoso = await api('GET', '/api/v1/stats', { token: await mintToken('deployment:contoso') });
    expect(contoso.json.total.latencyMs.samples).toBe(1);
  });

  test('signing out revokes the session server-side: a copied cookie stops working', async () => {
    const b = new Browser();
    await b.signIn(await mintToken('deployment:contoso'));
    const copy = new Browser();
    for (const [k, v] of b.cookies) copy.cookies.set(k, v);
    expect((await copy.get('/routes')).status).toBe(200);
    const out = await b.post('/logout', {});
    expect(out.status).toBe(303);
    const after = await copy.get('/routes');
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/login/);
  });

  test('sign-in failures are rate-limited per client with a 429', async () => {
    const b = new Browser();
    const headers = { 'cf-connecting-ip': '198.51.100.7' };
    let last = 0;
    for (let i = 0; i < 11; i++) {
      const form = await b.request('GET', '/login', undefined, headers);
      const res = await b.request(
        'POST',
        '/login',
        { token: `wrong-${i}`, _csrf: csrfOf(form.html), next: '/' },
        headers,
      );
      last = res.status;
      if (i < 10) expect(res.status).toBe(401);
    }
    expect(last).toBe(429);
    // Even the right token waits out the window; another client is unaffected.
    const form = await b.request('GET', '/login', undefined, headers);
    const right = await b.request(
      'POST',
      '/login',
      { token: 'local-admin-token', _csrf: csrfOf(form.html), next: '/' },
      headers,
    );
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
    const other = new Browser();
    expect((await other.signIn('local-admin-token')).status).toBe(303);
  });
});
