import { beforeAll, describe, expect, test } from 'vitest';
import { NAV, signedIn as signIn } from './dashboard-browser.js';
import { ADMIN, api, mintToken, seedBasics } from './helpers.js';

/** Forms here post with the CSRF field of the tokens page. */
const signedIn = (token = ADMIN) => signIn(token, '/deployments/tokens');

async function deployment(id: string) {
  return api('GET', `/api/v1/deployments/${id}`);
}

/** The edit form's fields for a deployment as the API reports it, with `changes` applied. */
async function editFields(id: string, changes: Record<string, string> = {}) {
  const d = (await deployment(id)).json;
  const fields: Record<string, string> = {
    name: d.name,
    prefix: d.trackingToken.prefix,
    base: String(d.trackingToken.deploymentBase),
    userDigits: String(d.trackingToken.userDigits),
    counterDigits: String(d.trackingToken.counterDigits),
    webhookUrl: d.webhookUrl ?? '',
    maxMessageBytes: String(d.maxMessageBytes),
    attachmentPolicy: d.attachmentPolicy,
  };
  if (d.smartMatch) fields.smartMatch = 'on';
  return { ...fields, ...changes };
}

/**
 * Posts the edit form of `id` with `changes`: it must be refused with `status`, the page showing each of
 * `texts`, and the deployment must be unchanged. Returns the page.
 */
async function refusedEdit(
  b: Awaited<ReturnType<typeof signedIn>>,
  id: string,
  changes: Record<string, string>,
  status: number,
  texts: string[],
) {
  const before = (await deployment(id)).json;
  const res = await b.post(`/deployments/${id}/edit`, await editFields(id, changes));
  expect(res.status).toBe(status);
  for (const text of texts) expect(res.html).toContain(text);
  expect((await deployment(id)).json).toEqual(before);
  return res;
}

const NEW_ACME = {
  id: 'acme',
  name: 'Acme <b>Corp</b>',
  prefix: 'ACME#',
  base: '4242',
  userDigits: '4',
  counterDigits: '5',
  webhookUrl: 'https://crm.acme.example/hooks/router',
  maxMessageBytes: '2048000',
  attachmentPolicy: 'inline',
  smartMatch: 'on',
};

beforeAll(async () => {
  await seedBasics();
});

describe('dashboard deployment forms', () => {
  test('an admin creates a deployment via the form; the API returns the submitted values', async () => {
    const b = await signedIn();
    const page = await b.get('/deployments');
    expect(page.html).toContain('New deployment');
    expect(page.html).toContain('href="/deployments/contoso/edit"');
    for (const id of ['n-id', 'n-name', 'n-prefix', 'n-base', 'n-webhook', 'n-attachments', 'n-smart-match'])
      expect(page.html).toContain(`<label for="${id}">`);
    const nav = /<nav class="main"[^>]*>([\s\S]*?)<\/nav>/.exec(page.html)?.[1] ?? '';
    expect([...nav.matchAll(/<a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1])).toEqual(NAV);

    const res = await b.post('/deployments', NEW_ACME);
    expect(res.status).toBe(303);
    expect(res.location).toBe('/deployments');
    const d = await deployment('acme');
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({
      id: 'acme',
      name: 'Acme <b>Corp</b>',
      trackingToken: { prefix: 'ACME#', deploymentBase: 4242, userDigits: 4, counterDigits: 5 },
      webhookUrl: 'https://crm.acme.example/hooks/router',
      maxMessageBytes: 2048000,
      attachmentPolicy: 'inline',
      smartMatch: true,
    });
    const after = await b.get('/deployments');
    expect(after.html).toContain('Created deployment acme.');
    expect(after.html).toContain('Acme &lt;b&gt;Corp&lt;/b&gt;');
    expect(after.html).not.toContain('<b>Corp</b>');
    expect(after.html).toContain('href="/deployments/acme/edit"');

    // Creating it again is refused (the form creates; editing is the edit page's job).
    const again = await b.post('/deployments', { ...NEW_ACME, name: 'Other' });
    expect(again.status).toBe(409);
    expect(again.html).toContain('deployment acme already exists');
    expect((await deployment('acme')).json.name).toBe('Acme <b>Corp</b>');

    // An empty base number takes the next free one, as on the API.
    const auto = await b.post('/deployments', { ...NEW_ACME, id: 'acme-2', base: '', smartMatch: '' });
    expect(auto.status).toBe(303);
    const auto2 = (await deployment('acme-2')).json;
    expect(auto2.trackingToken.deploymentBase).not.toBe(4242);
    expect(auto2.smartMatch).toBe(false);
  });

  test('editing the webhook URL works and keeps the other fields', async () => {
    const b = await signedIn();
    const before = (await deployment('contoso')).json;
    const form = await b.get('/deployments/contoso/edit');
    expect(form.status).toBe(200);
    expect(form.html).toContain('action="/deployments/contoso/edit"');
    expect(form.html).toContain('<label for="e-webhook">');
    expect(form.html).toContain(`value="${before.trackingToken.deploymentBase}"`);

    const res = await b.post(
      '/deployments/contoso/edit',
      await editFields('contoso', { webhookUrl: 'https://crm.contoso.example/in' }),
    );
    expect(res.status).toBe(303);
    expect(res.location).toBe('/deployments');
    const after = (await deployment('contoso')).json;
    expect(after.webhookUrl).toBe('https://crm.contoso.example/in');
    expect({ ...after, webhookUrl: null, updatedAt: 0 }).toEqual({
      ...before,
      webhookUrl: null,
      updatedAt: 0,
    });
    expect((await b.get('/deployments')).html).toContain('Saved deployment contoso.');

    // An empty webhook URL clears it.
    await b.post('/deployments/contoso/edit', await editFields('contoso', { webhookUrl: '' }));
    expect((await deployment('contoso')).json.webhookUrl).toBeNull();

    // Unknown deployments are 404.
    expect((await b.get('/deployments/nope/edit')).status).toBe(404);
    expect((await b.post('/deployments/nope/edit', await editFields('contoso'))).status).toBe(404);
    expect((await deployment('nope')).status).toBe(404);
  });

  test('a base number used by another deployment re-renders with the conflict and changes nothing', async () => {
    const b = await signedIn();
    const fabrikamBase = (await deployment('fabrikam')).json.trackingToken.deploymentBase;
    await refusedEdit(b, 'contoso', { base: String(fabrikamBase), name: 'Contoso renamed' }, 409, [
      `trackingToken.deploymentBase ${fabrikamBase} is already used by deployment fabrikam`,
      'value="Contoso renamed"',
      `value="${fabrikamBase}"`,
    ]);

    const create = await b.post('/deployments', { ...NEW_ACME, id: 'clash', base: String(fabrikamBase) });
    expect(create.status).toBe(409);
    expect(create.html).toContain('is already used by deployment fabrikam');
    expect(create.html).toContain('value="clash"');
    expect((await deployment('clash')).status).toBe(404);
  });

  test('an invalid webhook URL (or id, or number) is refused naming the field', async () => {
    const b = await signedIn();
    await refusedEdit(b, 'contoso', { webhookUrl: 'not a url' }, 400, ['webhookUrl:', 'value="not a url"']);

    for (const [changes, text] of [
      [{ id: 'Bad Id', base: '' }, 'id: lower-case letters'],
      [{ id: 'bad-base', base: 'abc' }, 'trackingToken.deploymentBase:'],
      [{ id: 'bad-policy', base: '', attachmentPolicy: 'x' }, 'attachmentPolicy:'],
    ] as const) {
      const res = await b.post('/deployments', { ...NEW_ACME, ...changes });
      expect(res.status, text).toBe(400);
      expect(res.html).toContain(text);
    }
    for (const id of ['bad-id', 'bad-base', 'bad-policy']) expect((await deployment(id)).status).toBe(404);
  });

  test('mail domains: set on create and edit through the API rule; a domain owned elsewhere is a 409 form error', async () => {
    const b = await signedIn();
    const created = await b.post('/deployments', {
      ...NEW_ACME,
      id: 'domains-co',
      base: '',
      domains: 'Domains-Co.example\nsub.other-co.example, third.example',
    });
    expect(created.status).toBe(303);
    expect((await deployment('domains-co')).json.domains).toEqual([
      'domains-co.example',
      'sub.other-co.example',
      'third.example',
    ]);
    expect((await b.get('/deployments')).html).toContain(
      'domains-co.example, sub.other-co.example, third.example',
    );
    const form = await b.get('/deployments/domains-co/edit');
    expect(form.html).toContain('<label for="e-domains">');
    expect(form.html).toMatch(
      /<textarea id="e-domains" name="domains"[^>]*>domains-co\.example\nsub\.other-co\.example\nthird\.example<\/textarea>/,
    );

    // contoso claiming a subdomain of a domains-co domain: the same 409 as PUT, shown on the form.
    const clash = await refusedEdit(
      b,
      'contoso',
      { name: 'Contoso renamed', domains: 'contoso.example\nx.third.example' },
      409,
      ['contoso.example\nx.third.example</textarea>'],
    );
    expect(clash.html).toMatch(
      /class="flash bad" role="alert">[^<]*third\.example belongs to deployment domains-co/,
    );

    // An invalid domain is a 400 naming the field; escaped on the page.
    const bad = await refusedEdit(b, 'contoso', { domains: '<b>nope</b>' }, 400, [
      'domains.0: must be a domain name',
      '&lt;b&gt;nope&lt;/b&gt;</textarea>',
    ]);
    expect(bad.html).not.toContain('<b>nope</b>');

    // A form without the field keeps the domains; an empty field removes them all.
    const kept = await b.post(
      '/deployments/domains-co/edit',
      await editFields('domains-co', { name: 'Renamed' }),
    );
    expect(kept.status).toBe(303);
    expect((await deployment('domains-co')).json).toMatchObject({
      name: 'Renamed',
      domains: ['domains-co.example', 'sub.other-co.example', 'third.example'],
    });
    await b.post('/deployments/domains-co/edit', await editFields('domains-co', { domains: '' }));
    expect((await deployment('domains-co')).json.domains).toEqual([]);
  });

  test('a deployment session sees no edit controls and gets 403 on the forms', async () => {
    const b = await signedIn(await mintToken('deployment:contoso'));
    const before = (await deployment('contoso')).json;
    const page = await b.get('/deployments');
    expect(page.status).toBe(200);
    expect(page.html).toContain('Contoso');
    expect(page.html).not.toContain('/edit"');
    expect(page.html).not.toContain('New deployment');
    expect(page.html).not.toContain('action="/deployments"');

    expect((await b.get('/deployments/contoso/edit')).status).toBe(403);
    const edit = await b.post('/deployments/contoso/edit', await editFields('contoso', { name: 'Hijacked' }));
    expect(edit.status).toBe(403);
    expect(edit.html).not.toContain('<form method="post" action="/deployments/contoso/edit"');
    const create = await b.post('/deployments', { ...NEW_ACME, id: 'rogue', base: '' });
    expect(create.status).toBe(403);
    expect((await deployment('contoso')).json).toEqual(before);
    expect((await deployment('rogue')).status).toBe(404);
  });

  test('POSTs without a valid CSRF token are refused and change nothing', async () => {
    const b = await signedIn();
    const before = (await deployment('contoso')).json;
    const edit = await b.post('/deployments/contoso/edit', await editFields('contoso', { name: 'Forged' }), {
      csrf: false,
    });
    expect(edit.status).toBe(403);
    expect(edit.html).toContain('Form refused');
    const forged = await b.request('POST', '/deployments', {
      ...NEW_ACME,
      id: 'forged',
      base: '',
      _csrf: 'a'.repeat(64),
    });
    expect(forged.status).toBe(403);
    expect((await deployment('contoso')).json).toEqual(before);
    expect((await deployment('forged')).status).toBe(404);
  });
});
