// Dashboard: bulk route import (Routes page), record delete/deactivate (a deployment's records) and
// full syncs (a deployment's syncs page).
import { beforeEach, describe, expect, test } from 'vitest';
import { signedIn } from './dashboard-browser.js';
import { api, freshBasics, mintToken } from './helpers.js';

const CSV =
  'address,region,deployment,userId,filter\r\na@contoso.example,eu,contoso,u-a,all\r\nb@contoso.example,eu,contoso,u-b,\r\n';

describe('dashboard: bulk routes and records', () => {
  beforeEach(freshBasics);

  test('the Routes page imports a CSV of routes, all or nothing', async () => {
    const b = await signedIn(undefined, '/routes');
    const page = await b.get('/routes');
    expect(page.html).toContain('Import routes (CSV)');
    const ok = await b.post('/routes/import', { csv: CSV });
    expect(ok.status).toBe(303);
    expect((await b.get('/routes')).html).toContain('Imported 2 route(s): 2 created');
    expect((await api('GET', '/api/v1/mailboxes/a@contoso.example')).json).toMatchObject({
      region: 'eu',
      filter: 'all',
    });
    const bad = await b.post('/routes/import', { csv: `${CSV}c@contoso.example,mars,contoso,u-c,\r\n` });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('line 4, region: unknown region mars');
    expect(bad.html).toContain('nothing was imported');
    expect((await api('GET', '/api/v1/mailboxes/c@contoso.example')).status).toBe(404);
  });

  test("a deployment's user cannot import routes into another deployment", async () => {
    const token = await mintToken('deployment:fabrikam');
    const b = await signedIn(token, '/routes');
    const res = await b.post('/routes/import', { csv: CSV });
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/mailboxes/a@contoso.example')).status).toBe(404);
  });

  test('a record is found by address, deactivated, then deleted', async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-1', name: 'Pat', emails: ['pat@example.com'] }] },
    });
    const b = await signedIn(undefined, '/deployments/contoso/records');
    const found = await b.get('/deployments/contoso/records?address=PAT@example.com');
    expect(found.status).toBe(200);
    expect(found.html).toContain('Deactivate contact c-1');
    const off = await b.post(
      '/deployments/contoso/records/remove',
      { type: 'contact', id: 'c-1', action: 'deactivate', address: 'pat@example.com' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(off.status).toBe(303);
    expect((await api('GET', '/api/v1/deployments/contoso/records?type=contact')).json.items[0].active).toBe(
      false,
    );
    const del = await b.post(
      '/deployments/contoso/records/remove',
      { type: 'contact', id: 'c-1', action: 'delete', address: 'pat@example.com' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(del.status).toBe(303);
    expect((await api('GET', '/api/v1/deployments/contoso/records?type=contact')).json.items).toEqual([]);
    const again = await b.post(
      '/deployments/contoso/records/remove',
      { type: 'contact', id: 'c-1', action: 'delete' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(again.status).toBe(404);
  });

  test("another deployment's user cannot see or remove the records", async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-1', emails: ['pat@example.com'] }] },
    });
    const token = await mintToken('deployment:fabrikam');
    const b = await signedIn(token, '/deployments/fabrikam/records');
    expect((await b.get('/deployments/contoso/records?address=pat@example.com')).status).toBe(403);
    const res = await b.post(
      '/deployments/contoso/records/remove',
      { type: 'contact', id: 'c-1', action: 'delete' },
      { csrfFrom: '/deployments/fabrikam/records' },
    );
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/deployments/contoso/records?type=contact')).json.items).toHaveLength(1);
  });

  test('many records are deactivated, then deleted, from one form; one bad line removes nothing', async () => {
    const records = ['a', 'b', 'c'].map((id) => ({ type: 'contact', id, emails: [`${id}@example.com`] }));
    await api('POST', '/api/v1/deployments/contoso/records', { body: { records } });
    const b = await signedIn(undefined, '/deployments/contoso/records');
    const page = await b.get('/deployments/contoso/records');
    expect(page.html).toContain('Delete or deactivate many records');
    const list = async () =>
      (await api('GET', '/api/v1/deployments/contoso/records?type=contact')).json.items as {
        id: string;
        active: boolean;
      }[];
    // A bad type on line 3 (after the header): 400 on the form, the text kept, nothing removed.
    const bad = await b.post(
      '/deployments/contoso/records/remove-many',
      { keys: 'type,id\ncontact,a\n<b>robot</b>,b\n', action: 'delete' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('line 3: type');
    expect(bad.html).toContain('&lt;b&gt;robot&lt;/b&gt;,b');
    expect(bad.html).not.toContain('<b>robot</b>');
    expect((await list()).map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
    const off = await b.post(
      '/deployments/contoso/records/remove-many',
      { keys: 'contact,a\ncontact,b\ncontact,a\n', action: 'deactivate' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(off.status).toBe(303);
    expect(
      (await list())
        .filter((r) => !r.active)
        .map((r) => r.id)
        .sort(),
    ).toEqual(['a', 'b']);
    const del = await b.post(
      '/deployments/contoso/records/remove-many',
      { keys: 'contact,a\r\ncontact,c\r\ncontact,nobody\r\n', action: 'delete' },
      { csrfFrom: '/deployments/contoso/records' },
    );
    expect(del.status).toBe(303);
    expect((await b.get('/deployments/contoso/records')).html).toContain(
      'Deleted 2 of 3 record(s); 1 not found.',
    );
    expect((await list()).map((r) => r.id)).toEqual(['b']);
  });

  test("another deployment's user cannot bulk-remove the records", async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-1', emails: ['pat@example.com'] }] },
    });
    const token = await mintToken('deployment:fabrikam');
    const b = await signedIn(token, '/deployments/fabrikam/records');
    const res = await b.post(
      '/deployments/contoso/records/remove-many',
      { keys: 'contact,c-1', action: 'delete' },
      { csrfFrom: '/deployments/fabrikam/records' },
    );
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/deployments/contoso/records?type=contact')).json.items).toHaveLength(1);
  });

  const syncs = (deployment = 'contoso') => api('GET', `/api/v1/deployments/${deployment}/records?limit=100`);
  const syncIdsOf = (html: string) =>
    [...html.matchAll(/<td data-label="Sync" class="mono">(sync_[0-9a-f]+)<\/td>/g)].map(
      (m) => m[1] as string,
    );

  test('the syncs page starts a full sync, lists it with its counts, and completes it', async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'old', emails: ['old@example.com'] }] },
    });
    await api('POST', '/api/v1/deployments/fabrikam/records', {
      body: { records: [{ type: 'contact', id: 'theirs', emails: ['theirs@example.com'] }] },
    });
    const b = await signedIn(undefined, '/deployments/contoso/syncs');
    const empty = await b.get('/deployments/contoso/syncs');
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No full syncs yet.');
    expect((await b.get('/deployments')).html).toContain('href="/deployments/contoso/syncs"');

    const started = await b.post('/deployments/contoso/syncs', {});
    expect(started.status).toBe(303);
    expect(started.location).toBe('/deployments/contoso/syncs');
    const page = await b.get('/deployments/contoso/syncs');
    const [id] = syncIdsOf(page.html);
    expect(page.html).toContain(`Started full sync ${id}`);
    expect(page.html).toContain('open — receiving records');
    expect(page.html).toContain(`action="/deployments/contoso/syncs/${id}/complete"`);

    const posted = await api('POST', `/api/v1/deployments/contoso/records?sync=${id}`, {
      body: {
        records: [
          { type: 'contact', id: 'new1', emails: ['n1@example.com'] },
          { type: 'lead', id: 'new2', emails: ['n2@example.com'] },
        ],
      },
    });
    expect(posted.status).toBe(200);
    const done = await b.post(`/deployments/contoso/syncs/${id}/complete`, {});
    expect(done.status).toBe(303);
    const after = await b.get('/deployments/contoso/syncs');
    expect(after.html).toContain(`Completed full sync ${id}: 2 record(s) carried, 1 removed.`);
    expect(after.html).toMatch(
      new RegExp(
        `${id}</td><td data-label="State">completed</td><td data-label="Records carried" class="num">2</td><td data-label="Removed" class="num">1</td>`,
      ),
    );
    expect(after.html).not.toContain('/complete"');
    expect((await syncs()).json.items.map((r: { id: string }) => r.id).sort()).toEqual(['new1', 'new2']);
    expect((await syncs('fabrikam')).json.items.map((r: { id: string }) => r.id)).toEqual(['theirs']);
  });

  test('completing a superseded sync is a 409 on the page and removes nothing; bad ids are escaped 404s', async () => {
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'keep', emails: ['keep@example.com'] }] },
    });
    const b = await signedIn(await mintToken('deployment:contoso'), '/deployments/contoso/syncs');
    await b.post('/deployments/contoso/syncs', {});
    await b.post('/deployments/contoso/syncs', {});
    const page = await b.get('/deployments/contoso/syncs');
    const [newer, older] = syncIdsOf(page.html);
    expect(page.html).toContain('superseded by a newer sync (removed nothing)');
    expect(page.html).not.toContain(`/syncs/${older}/complete"`);
    const stale = await b.post(`/deployments/contoso/syncs/${older}/complete`, {});
    expect(stale.status).toBe(409);
    expect(stale.html).toContain(`sync ${older} was superseded by a newer sync; nothing was removed`);
    expect(stale.html).toContain(`/syncs/${newer}/complete"`);
    expect((await syncs()).json.items.map((r: { id: string }) => r.id)).toEqual(['keep']);

    const evil = await b.post(`/deployments/contoso/syncs/${encodeURIComponent('<img src=x>')}/complete`, {});
    expect(evil.status).toBe(404);
    expect(evil.html).toContain('sync &lt;img src=x&gt; of deployment contoso does not exist');
    expect(evil.html).not.toContain('<img src=x>');
  });

  test("another deployment's session cannot see, start or complete the syncs; forms need the CSRF field", async () => {
    const admin = await signedIn(undefined, '/deployments/contoso/syncs');
    await admin.post('/deployments/contoso/syncs', {});
    const [id] = syncIdsOf((await admin.get('/deployments/contoso/syncs')).html);
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'not-carried', emails: ['nc@example.com'] }] },
    });

    const other = await signedIn(await mintToken('deployment:fabrikam'), '/deployments/fabrikam/syncs');
    expect((await other.get('/deployments/contoso/syncs')).status).toBe(403);
    expect(
      (await other.post('/deployments/contoso/syncs', {}, { csrfFrom: '/deployments/fabrikam/syncs' }))
        .status,
    ).toBe(403);
    const complete = await other.post(
      `/deployments/contoso/syncs/${id}/complete`,
      {},
      { csrfFrom: '/deployments/fabrikam/syncs' },
    );
    expect(complete.status).toBe(403);
    expect((await other.get('/deployments/fabrikam/syncs')).html).not.toContain(id);

    const forged = await admin.post(`/deployments/contoso/syncs/${id}/complete`, {}, { csrf: false });
    expect(forged.status).toBe(403);
    const list = (await admin.get('/deployments/contoso/syncs')).html;
    expect(syncIdsOf(list)).toEqual([id]);
    expect(list).toContain('open — receiving records');
    expect((await syncs()).json.items.map((r: { id: string }) => r.id)).toEqual(['not-carried']);
    expect((await admin.get('/deployments/nope/syncs')).status).toBe(404);
  });

  test('the Routes page moves a department to another region in one call, all or nothing, scoped', async () => {
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', domains: ['contoso.example'] },
    });
    await api('POST', '/api/v1/mailboxes', {
      body: {
        routes: [
          { address: 'a@sales.contoso.example', region: 'eu', deployment: 'contoso', userId: 'u-a' },
          { address: 'b@sales.contoso.example', region: 'eu', deployment: 'contoso', userId: 'u-b' },
          { address: 'c@contoso.example', region: 'eu', deployment: 'contoso', userId: 'u-c' },
          { address: 'f@fabrikam.example', region: 'eu', deployment: 'fabrikam', userId: 'u-f' },
        ],
      },
    });
    const region = async (address: string) => (await api('GET', `/api/v1/mailboxes/${address}`)).json.region;
    const regions = async () =>
      Promise.all(
        ['a@sales.contoso.example', 'b@sales.contoso.example', 'c@contoso.example', 'f@fabrikam.example'].map(
          region,
        ),
      );

    const b = await signedIn(undefined, '/routes');
    const routes = (await b.get('/routes')).html;
    expect(routes).toContain('Move routes to another region');
    // Each select posts under the name its handler reads.
    for (const [id, name] of [
      ['n-deployment', 'deployment'],
      ['n-region', 'region'],
      ['m-deployment', 'deployment'],
      ['m-region', 'region'],
      ['f-region', 'region'],
      ['region-0', 'region'],
      ['filter-0', 'filter'],
    ])
      expect(routes).toMatch(new RegExp(`<select id="${id}" name="${name}"`));
    const bad = await b.post('/routes/move', {
      deployment: 'contoso',
      search: '@sales.contoso.example',
      region: 'mars',
    });
    expect(bad.status).toBe(400);
    expect(bad.html).toMatch(
      /role="alert">a@sales\.contoso\.example, region: unknown region mars; nothing was moved/,
    );
    expect(bad.html).toContain('value="@sales.contoso.example"');
    const none = await b.post('/routes/move', { deployment: 'contoso', search: '<b>x</b>', region: 'us' });
    expect(none.status).toBe(404);
    expect(none.html).toContain('no routes match; nothing was moved');
    expect(none.html).toContain('value="&lt;b&gt;x&lt;/b&gt;"');
    expect(await regions()).toEqual(['eu', 'eu', 'eu', 'eu']);

    const ok = await b.post('/routes/move', {
      deployment: 'contoso',
      search: '@sales.contoso.example',
      region: 'us',
    });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/routes?deployment=contoso');
    expect((await b.get('/routes')).html).toContain('Moved 2 route(s) of contoso to us (0 already there).');
    expect(await regions()).toEqual(['us', 'us', 'eu', 'eu']);

    // A fabrikam session cannot move contoso's routes; contoso's own session can.
    const other = await signedIn(await mintToken('deployment:fabrikam'), '/routes');
    expect(
      (await other.post('/routes/move', { deployment: 'contoso', search: '', region: 'eu' })).status,
    ).toBe(403);
    expect(await regions()).toEqual(['us', 'us', 'eu', 'eu']);
    const own = await signedIn(await mintToken('deployment:contoso'), '/routes');
    expect((await own.post('/routes/move', { deployment: 'contoso', search: '', region: 'us' })).status).toBe(
      303,
    );
    expect(await regions()).toEqual(['us', 'us', 'us', 'eu']);
    expect(
      (await own.post('/routes/move', { deployment: 'contoso', region: 'eu' }, { csrf: false })).status,
    ).toBe(403);
    expect(await regions()).toEqual(['us', 'us', 'us', 'eu']);
  });
});
