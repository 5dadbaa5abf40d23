import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import { api, edgeSnapshot, expectError, freshBasics, mintToken, routeMailboxes } from './helpers.js';

const register = (body: unknown, token?: string, deployment = 'contoso') =>
  api('POST', `/api/v1/deployments/${deployment}/outbound`, { body, ...(token ? { token } : {}) });

describe('POST /api/v1/deployments/:id/outbound', () => {
  beforeEach(freshBasics);

  test('the first mail of the first user gets the Dynamics-style token CRM:0001001', async () => {
    const res = await register({
      messageId: '<Quote-42@CRM.contoso.example>',
      userId: 'u-ann',
      subject: 'Your quote',
      to: ['Buyer@Example.com'],
      threadIndex: 'AdkQmVwGq8kY',
      regarding: { type: 'opportunity', id: 'opp-7' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      trackingToken: 'CRM:0001001',
      subject: 'Your quote  CRM:0001001',
      messageId: 'quote-42@crm.contoso.example',
    });
    const row = await env.DB.prepare("select * from outbound where deployment = 'contoso'").first();
    expect(row).toMatchObject({
      message_id: 'quote-42@crm.contoso.example',
      user_id: 'u-ann',
      subject: 'Your quote  CRM:0001001',
      to: '["buyer@example.com"]',
      tracking_token: 'CRM:0001001',
      thread_index: 'AdkQmVwGq8kY',
      regarding_type: 'opportunity',
      regarding_id: 'opp-7',
    });
  });

  test('each user keeps a stable number and their own counter; the deployment base is part of the token', async () => {
    const tokens: string[] = [];
    for (const [i, userId] of ['u-ann', 'u-bob', 'u-ann', 'u-ann', 'u-bob'].entries()) {
      const res = await register({ messageId: `m${i}@x.example`, userId }, undefined, 'fabrikam');
      tokens.push(res.json.trackingToken);
    }
    expect(tokens).toEqual(['CRM:1001001', 'CRM:1002001', 'CRM:1001002', 'CRM:1001003', 'CRM:1002002']);
  });

  test('the counter wraps after the largest value counterDigits can hold', async () => {
    await api('PUT', '/api/v1/deployments/tiny', {
      body: {
        name: 'Tiny',
        trackingToken: { prefix: 'T#', deploymentBase: 7, userDigits: 1, counterDigits: 1 },
      },
    });
    const tokens: string[] = [];
    for (let i = 0; i < 11; i++)
      tokens.push(
        (await register({ messageId: `t${i}@x`, userId: 'u' }, undefined, 'tiny')).json.trackingToken,
      );
    expect(tokens).toEqual([
      'T#711',
      'T#712',
      'T#713',
      'T#714',
      'T#715',
      'T#716',
      'T#717',
      'T#718',
      'T#719',
      'T#711',
      'T#712',
    ]);
  });

  test('a subject without a token gets one; a subject that already carries it is left alone', async () => {
    const none = await register({ messageId: 'a@x', userId: 'u-ann' });
    expect(none.json.subject).toBe('CRM:0001001');
    const res = await register({ messageId: 'b@x', userId: 'u-ann', subject: 'Re: CRM:0001002 follow-up' });
    expect(res.json.subject).toBe('Re: CRM:0001002 follow-up');
  });

  test('concurrent registrations never issue the same token twice', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        register({ messageId: `c${i}@x.example`, userId: i % 2 ? 'u-ann' : 'u-bob' }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    const tokens = results.map((r) => r.json.trackingToken);
    expect(new Set(tokens).size).toBe(40);
    const counters = await env.DB.prepare(
      "select user_id, counter from user_counters where deployment = 'contoso' order by user_id",
    ).all();
    expect(counters.results).toEqual([
      { user_id: 'u-ann', counter: 20 },
      { user_id: 'u-bob', counter: 20 },
    ]);
  });

  test('registering the same Message-ID again returns the first token (200) without using a counter', async () => {
    const first = await register({ messageId: '<same@x.example>', userId: 'u-ann', subject: 'Hello' });
    const again = await register({ messageId: 'SAME@x.example', userId: 'u-ann', subject: 'Hello' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    const next = await register({ messageId: 'other@x.example', userId: 'u-ann' });
    expect(next.json.trackingToken).toBe('CRM:0001002');
  });

  test('the same Message-ID for another user is a 409 conflict', async () => {
    await register({ messageId: 'same@x.example', userId: 'u-ann' });
    const res = await register({ messageId: 'same@x.example', userId: 'u-bob' });
    expectError(res, 409, 'conflict', 'messageId same@x.example is already registered for another user');
  });

  test('a deployment that has run out of user numbers answers 409', async () => {
    await api('PUT', '/api/v1/deployments/tiny', {
      body: { name: 'Tiny', trackingToken: { deploymentBase: 7, userDigits: 1, counterDigits: 1 } },
    });
    for (let u = 1; u <= 9; u++)
      expect((await register({ messageId: `u${u}@x`, userId: `u${u}` }, undefined, 'tiny')).status).toBe(201);
    const res = await register({ messageId: 'u10@x', userId: 'u10' }, undefined, 'tiny');
    expect(res.status).toBe(409);
    expect(res.json.error.message).toBe(
      'deployment tiny has no free user number: trackingToken.userDigits 1 allows 9 users',
    );
  });

  test('a registered Message-ID reaches the snapshot of regions serving the deployment', async () => {
    await routeMailboxes(['ann@contoso.example', 'eu', 'contoso', 'u-ann']);
    const before = await edgeSnapshot('eu');
    await register({ messageId: '<Bump@X>', userId: 'u-ann' });
    const after = await edgeSnapshot('eu');
    expect(after.version).toBeGreaterThan(before.version);
    const has = (s: typeof after) =>
      filterHas(s.deployments.contoso!.outbound, keyedHash64(s.hashKey, 'bump@x'));
    expect(has(before)).toBe(false);
    expect(has(after)).toBe(true);
  });

  test('a region whose snapshot does not yet carry a registration says so (snapshotPending) until it is published', async () => {
    await routeMailboxes(['ann@contoso.example', 'eu', 'contoso', 'u-ann']);
    await edgeSnapshot('eu');
    const pending = async (region: string) =>
      (await api('GET', `/api/v1/regions/${region}`)).json.snapshotPending;
    expect(await pending('eu')).toBe(false);
    await register({ messageId: '<Pending@X>', userId: 'u-ann' });
    // Published only at the next build: until then a reply to it would not be recognised at the edge.
    expect(await pending('eu')).toBe(true);
    expect(
      (await api('GET', '/api/v1/regions')).json.items.find((r: { id: string }) => r.id === 'eu'),
    ).toMatchObject({ snapshotPending: true });
    // A region that routes no contoso mailbox is not waiting for it.
    expect(await pending('us')).toBe(false);
    await edgeSnapshot('eu');
    expect(await pending('eu')).toBe(false);
  });

  test.each([
    [{ userId: 'u-ann' }, /^messageId: /],
    [{ messageId: '<>', userId: 'u-ann' }, /^messageId: must be a Message-ID/],
    [{ messageId: 'a@x' }, /^userId: /],
    [{ messageId: 'a@x', userId: 'u', to: ['nope'] }, /^to\.0: must be an e-mail address/],
    [{ messageId: 'a@x', userId: 'u', regarding: { type: 'case' } }, /^regarding\.id: /],
  ])('an invalid body %j is a 400 naming the field', async (body, message) => {
    const res = await register(body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(res.json.error.message).toMatch(message);
  });

  test('an unknown deployment is a 404', async () => {
    const res = await register({ messageId: 'a@x', userId: 'u' }, undefined, 'nowhere');
    expect(res.status).toBe(404);
  });

  test("another deployment's token gets 403 and no counter moves", async () => {
    const token = await mintToken('deployment:fabrikam');
    const res = await register({ messageId: 'a@x', userId: 'u-ann' }, token);
    expect(res.status).toBe(403);
    const rows = await env.DB.prepare(
      "select count(*) as n from user_counters where deployment = 'contoso'",
    ).first<{ n: number }>();
    expect(rows?.n).toBe(0);
    const outbound = await env.DB.prepare('select count(*) as n from outbound').first<{ n: number }>();
    expect(outbound?.n).toBe(0);
  });

  test('a user token registers its own mail but not mail of another user', async () => {
    const token = await mintToken('user:contoso/u-ann');
    expect((await register({ messageId: 'own@x', userId: 'u-ann' }, token)).status).toBe(201);
    const res = await register({ messageId: 'theirs@x', userId: 'u-bob' }, token);
    expect(res.status).toBe(403);
  });
});
