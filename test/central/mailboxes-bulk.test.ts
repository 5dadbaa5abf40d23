// Mailboxes in bulk (issue 13): POST /api/v1/mailboxes (CSV or JSON, all-or-nothing, the rules of
// PUT /api/v1/mailboxes/:address) and POST /api/v1/mailboxes/move.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { api, freshBasics, mintToken } from './helpers.js';

const csv = (rows: string[]) => ['address,region,deployment,userId,filter', ...rows].join('\r\n');
const postCsv = (text: string, token?: string) =>
  api('POST', '/api/v1/mailboxes', { raw: text, token, type: 'text/csv' });

async function routeCount(): Promise<number> {
  return (await env.DB.prepare('select count(*) as n from mailboxes').first<{ n: number }>())?.n ?? 0;
}

describe('POST /api/v1/mailboxes', () => {
  beforeEach(freshBasics);

  test('routes 5,000 mailboxes from one CSV and bumps the region once', async () => {
    const before = (await api('GET', '/api/v1/regions/eu')).json.snapshotVersion;
    const rows = Array.from(
      { length: 5000 },
      (_, i) => `u${i}@contoso.example,eu,contoso,u-${i},email-enabled`,
    );
    const res = await postCsv(csv(rows));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ created: 5000, moved: 0, updated: 0, dryRun: false });
    expect(await routeCount()).toBe(5000);
    expect((await api('GET', '/api/v1/regions/eu')).json.snapshotVersion).toBe(before + 1);
    const one = await api('GET', '/api/v1/mailboxes/u4999@contoso.example');
    expect(one.json).toMatchObject({
      region: 'eu',
      deployment: 'contoso',
      userId: 'u-4999',
      filter: 'email-enabled',
    });
  });

  test('JSON works the same; moving rows to another region counts them as moved', async () => {
    await api('POST', '/api/v1/mailboxes', {
      body: {
        routes: [{ address: 'A@Contoso.example', region: 'us', deployment: 'contoso', userId: 'u-a' }],
      },
    });
    const res = await api('POST', '/api/v1/mailboxes', {
      body: {
        routes: [
          { address: 'a@contoso.example', region: 'eu', deployment: 'contoso', userId: 'u-a' },
          { address: 'b@contoso.example', region: 'eu', deployment: 'contoso', userId: 'u-b', filter: 'all' },
        ],
      },
    });
    expect(res.json).toEqual({ created: 1, moved: 1, updated: 0, dryRun: false });
    expect((await api('GET', '/api/v1/mailboxes/a@contoso.example')).json.region).toBe('eu');
  });

  test('one bad row refuses the whole file, naming every bad line', async () => {
    const res = await postCsv(
      csv([
        'ok@contoso.example,eu,contoso,u-1,',
        'not-an-address,eu,contoso,u-2,',
        'c@contoso.example,mars,contoso,u-3,',
        'd@contoso.example,eu,contoso,u-4,sometimes',
        'ok@contoso.example,eu,contoso,u-5,',
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(res.json.error.message).toMatch(/^line 3, address: .*nothing was written$/);
    expect(res.json.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [3, 'address'],
      [4, 'region'],
      [5, 'filter'],
      [6, 'address'],
    ]);
    expect(await routeCount()).toBe(0);
  });

  test('dryRun validates without writing; a bad header or content type is refused', async () => {
    const dry = await api('POST', '/api/v1/mailboxes?dryRun=true', {
      body: { routes: [{ address: 'a@contoso.example', region: 'eu', deployment: 'contoso', userId: 'u' }] },
    });
    expect(dry.json).toMatchObject({ dryRun: true, created: 0 });
    expect(await routeCount()).toBe(0);
    const header = await postCsv('address,region,deployment\r\na@x.example,eu,contoso');
    expect(header.status).toBe(400);
    expect(header.json.error.message).toMatch(/missing column "userId"/);
    const type = await api('POST', '/api/v1/mailboxes', { raw: 'x', type: 'text/plain' });
    expect(type.status).toBe(415);
  });

  test("a deployment token may not route into another deployment nor take over another's mailbox", async () => {
    // contoso's token routes only addresses of contoso's domains (route-claims.ts).
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', domains: ['contoso.example'] },
    });
    await api('PUT', '/api/v1/mailboxes/boss@fabrikam.example', {
      body: { region: 'us', deployment: 'fabrikam', userId: 'u-boss' },
    });
    const token = await mintToken('deployment:contoso');
    const res = await postCsv(
      csv([
        'mine@contoso.example,eu,contoso,u-1,',
        'x@fabrikam.example,eu,fabrikam,u-2,',
        'boss@fabrikam.example,eu,contoso,u-3,',
      ]),
      token,
    );
    expect(res.status).toBe(403);
    expect(res.json.errors.map((e: { line: number }) => e.line)).toEqual([3, 4]);
    expect(await routeCount()).toBe(1);
    expect((await api('GET', '/api/v1/mailboxes/boss@fabrikam.example')).json.deployment).toBe('fabrikam');
    const ok = await postCsv(csv(['mine@contoso.example,eu,contoso,u-1,']), token);
    expect(ok.json).toMatchObject({ created: 1 });
  });

  test('a PUT and a bulk row are refused for the same reasons', async () => {
    const token = await mintToken('deployment:contoso');
    const put = await api('PUT', '/api/v1/mailboxes/z@fabrikam.example', {
      token,
      body: { region: 'eu', deployment: 'fabrikam', userId: 'u' },
    });
    const bulk = await api('POST', '/api/v1/mailboxes', {
      token,
      body: {
        routes: [{ address: 'z@fabrikam.example', region: 'eu', deployment: 'fabrikam', userId: 'u' }],
      },
    });
    expect([put.status, bulk.status]).toEqual([403, 403]);
    expect(bulk.json.errors[0].message).toBe(put.json.error.message);
    const unknown = await api('PUT', '/api/v1/mailboxes/z@contoso.example', {
      body: { region: 'mars', deployment: 'contoso', userId: 'u' },
    });
    const unknownBulk = await api('POST', '/api/v1/mailboxes', {
      body: {
        routes: [{ address: 'z@contoso.example', region: 'mars', deployment: 'contoso', userId: 'u' }],
      },
    });
    expect(unknownBulk.json.errors[0].message).toBe(unknown.json.error.message.replace(/^region: /, ''));
  });
});

describe('POST /api/v1/mailboxes/move', () => {
  beforeEach(freshBasics);

  async function department() {
    const rows = Array.from(
      { length: 30 },
      (_, i) => `s${i}@sales.contoso.example,us,contoso,u-s${i},records`,
    );
    rows.push('ceo@contoso.example,us,contoso,u-ceo,all');
    await postCsv(csv(rows));
  }

  test('moves a department (a search within the deployment) to another region in one call', async () => {
    await department();
    const res = await api('POST', '/api/v1/mailboxes/move', {
      body: { region: 'eu', deployment: 'contoso', search: '@sales.contoso.example' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ moved: 30, created: 0 });
    expect((await api('GET', '/api/v1/mailboxes?region=eu')).json.items).toHaveLength(30);
    const ceo = await api('GET', '/api/v1/mailboxes/ceo@contoso.example');
    expect(ceo.json).toMatchObject({ region: 'us', filter: 'all' });
    expect((await api('GET', '/api/v1/mailboxes/s3@sales.contoso.example')).json.filter).toBe('records');
  });

  test('a listed address that is not routed moves nothing; an unknown region is a 400', async () => {
    await department();
    const res = await api('POST', '/api/v1/mailboxes/move', {
      body: { region: 'eu', addresses: ['s1@sales.contoso.example', 'nobody@contoso.example'] },
    });
    expect(res.status).toBe(404);
    expect(res.json.error.message).toMatch(/nobody@contoso.example/);
    expect((await api('GET', '/api/v1/mailboxes/s1@sales.contoso.example')).json.region).toBe('us');
    const region = await api('POST', '/api/v1/mailboxes/move', {
      body: { region: 'mars', addresses: ['s1@sales.contoso.example'] },
    });
    expect(region.status).toBe(400);
  });

  test("another deployment's token can neither move nor see the department", async () => {
    await department();
    const token = await mintToken('deployment:fabrikam');
    const bySearch = await api('POST', '/api/v1/mailboxes/move', {
      token,
      body: { region: 'eu', deployment: 'contoso', search: '@sales' },
    });
    expect(bySearch.status).toBe(403);
    const byList = await api('POST', '/api/v1/mailboxes/move', {
      token,
      body: { region: 'eu', addresses: ['s1@sales.contoso.example'] },
    });
    expect(byList.status).toBe(404);
    expect((await api('GET', '/api/v1/mailboxes?region=eu')).json.items).toHaveLength(0);
  });
});
