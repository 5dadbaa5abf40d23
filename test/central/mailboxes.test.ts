import { beforeEach, describe, expect, test } from 'vitest';
import { api, expectInvalidField, freshBasics, freshRoutes, mintToken } from './helpers.js';

const version = async (region: string): Promise<number> =>
  (await api('GET', `/api/v1/regions/${region}`)).json.snapshotVersion;

describe('PUT /api/v1/mailboxes/:address', () => {
  beforeEach(freshBasics);

  test('routes a mailbox (address lower-cased, filter defaulting to email-enabled)', async () => {
    const res = await api('PUT', '/api/v1/mailboxes/Ann@Contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      address: 'ann@contoso.example',
      region: 'eu',
      deployment: 'contoso',
      userId: 'u-ann',
      filter: 'email-enabled',
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
  });

  test('moving a mailbox to another region bumps both regions', async () => {
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    const [eu, us] = [await version('eu'), await version('us')];
    const res = await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'responses' },
    });
    expect(res.json).toMatchObject({ region: 'us', filter: 'responses' });
    expect([await version('eu'), await version('us')]).toEqual([eu + 1, us + 1]);
  });

  test.each([
    [{ region: 'mars', deployment: 'contoso', userId: 'u' }, 'region: unknown region mars'],
    [{ region: 'eu', deployment: 'nowhere', userId: 'u' }, 'deployment: unknown deployment nowhere'],
  ])('an unknown reference %j is a 400 naming the field', async (body, message) => {
    const res = await api('PUT', '/api/v1/mailboxes/ann@contoso.example', { body });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'validation_failed', message, requestId: expect.any(String) });
  });

  test.each([
    [{ region: 'eu', deployment: 'contoso' }, /^userId: /],
    [{ region: 'eu', deployment: 'contoso', userId: 'u', filter: 'some' }, /^filter: /],
  ])('the body %j is a 400 naming the field', async (body, message) => {
    const res = await api('PUT', '/api/v1/mailboxes/ann@contoso.example', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(message);
  });

  test('an address that is not an e-mail address is a 400 naming address', async () => {
    const res = await api('PUT', '/api/v1/mailboxes/not-an-address', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u' },
    });
    expectInvalidField(res, 'address');
  });

  test("a deployment token cannot take over another deployment's mailbox", async () => {
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    const token = await mintToken('deployment:fabrikam');
    const res = await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      token,
      body: { region: 'us', deployment: 'fabrikam', userId: 'u-evil' },
    });
    expect(res.status).toBe(403);
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example')).json).toMatchObject({
      deployment: 'contoso',
      region: 'eu',
    });
  });
});

describe('GET, DELETE and list /api/v1/mailboxes', () => {
  beforeEach(() =>
    freshRoutes(
      ['ann@contoso.example', 'eu', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'us', 'contoso', 'u-bob'],
      ['fay@fabrikam.example', 'eu', 'fabrikam', 'u-fay'],
    ),
  );

  test('lists routes, filtered by region, deployment and a search', async () => {
    const all = await api('GET', '/api/v1/mailboxes');
    expect(all.json.items.map((m: { address: string }) => m.address)).toEqual([
      'ann@contoso.example',
      'bob@contoso.example',
      'fay@fabrikam.example',
    ]);
    const eu = await api('GET', '/api/v1/mailboxes?region=eu&deployment=contoso');
    expect(eu.json.items.map((m: { address: string }) => m.address)).toEqual(['ann@contoso.example']);
    const search = await api('GET', '/api/v1/mailboxes?q=FAY');
    expect(search.json.items.map((m: { address: string }) => m.address)).toEqual(['fay@fabrikam.example']);
  });

  test('reads and deletes a route; the region snapshot is bumped and the route is gone', async () => {
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example')).json.userId).toBe('u-ann');
    const before = await version('eu');
    const del = await api('DELETE', '/api/v1/mailboxes/ann@contoso.example');
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ deleted: 'ann@contoso.example' });
    expect(await version('eu')).toBe(before + 1);
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example')).status).toBe(404);
    expect((await api('DELETE', '/api/v1/mailboxes/ann@contoso.example')).status).toBe(404);
  });

  test("a deployment token lists only its own routes and cannot read or delete another deployment's (404)", async () => {
    const token = await mintToken('deployment:fabrikam');
    const list = await api('GET', '/api/v1/mailboxes?deployment=contoso', { token });
    expect(list.json.items.map((m: { address: string }) => m.address)).toEqual(['fay@fabrikam.example']);
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example', { token })).status).toBe(404);
    expect((await api('DELETE', '/api/v1/mailboxes/ann@contoso.example', { token })).status).toBe(404);
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example')).status).toBe(200);
  });

  test('a user token may read routes of its deployment but not delete them', async () => {
    const token = await mintToken('user:contoso/u-ann');
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example', { token })).status).toBe(200);
    expect((await api('DELETE', '/api/v1/mailboxes/ann@contoso.example', { token })).status).toBe(403);
  });
});
