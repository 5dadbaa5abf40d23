// Dashboard: bulk route import (Routes page) and record delete/deactivate (a deployment's records).
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
});
