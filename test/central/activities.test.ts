import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import {
  api,
  expectError,
  expectInvalidField,
  freshRoutes,
  mintToken,
  plainMessage,
  promoteRaw,
} from './helpers.js';

const message = plainMessage;
const promote = promoteRaw;

const ids = (res: { json: { items: { messageId: string }[] } }) => res.json.items.map((a) => a.messageId);

describe('GET /api/v1/activities', () => {
  beforeEach(async () => {
    await freshRoutes(
      ['ann@contoso.example', 'us', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'eu', 'contoso', 'u-bob'],
      ['fay@fabrikam.example', 'eu', 'fabrikam', 'u-fay'],
    );
    await promote('contoso', 'ann@contoso.example', message(1, 'Invoice March'));
    await promote('contoso', 'bob@contoso.example', message(2, 'Quote request'));
    await promote('contoso', 'ann@contoso.example', message(3, 'Delivery date', 'carol@supplier.example'));
    await promote('fabrikam', 'fay@fabrikam.example', message(4, 'Fabrikam order'));
  });

  test('lists activities newest first, in whole', async () => {
    const res = await api('GET', '/api/v1/activities?limit=1');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      items: [
        {
          id: expect.any(String),
          deployment: 'fabrikam',
          messageId: 'm4@customer.example',
          subject: 'Fabrikam order',
          from: 'buyer@customer.example',
          fromName: null,
          parties: [
            { role: 'from', address: 'buyer@customer.example' },
            { role: 'to', address: 'ann@contoso.example' },
          ],
          regarding: null,
          correlation: { method: 'promoted', detail: 'promoted by admin' },
          reason: 'tracked:promoted',
          mailboxes: ['fay@fabrikam.example'],
          regions: ['eu'],
          egress: 'metadata+subject',
          sizeBytes: message(4, 'Fabrikam order').length,
          content: [],
          bodyHeldRegionally: false,
          partiesHeldRegionally: false,
          receivedAt: expect.any(Number),
          ingestedAt: expect.any(Number),
          updatedAt: expect.any(Number),
        },
      ],
      nextCursor: expect.any(String),
    });
  });

  test('pages with a stable cursor until nextCursor is null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { json: { items: { messageId: string }[]; nextCursor: string | null } } = await api(
        'GET',
        `/api/v1/activities?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...ids(res));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual([
      'm4@customer.example',
      'm3@customer.example',
      'm2@customer.example',
      'm1@customer.example',
    ]);
  });

  test('finds by Message-ID with or without angle brackets, by deployment and by search text', async () => {
    expect(ids(await api('GET', '/api/v1/activities?messageId=%3CM2@customer.example%3E'))).toEqual([
      'm2@customer.example',
    ]);
    expect(ids(await api('GET', '/api/v1/activities?messageId=m2@customer.example'))).toEqual([
      'm2@customer.example',
    ]);
    expect(ids(await api('GET', '/api/v1/activities?deployment=fabrikam'))).toEqual(['m4@customer.example']);
    expect(ids(await api('GET', '/api/v1/activities?q=supplier'))).toEqual(['m3@customer.example']);
    expect(ids(await api('GET', '/api/v1/activities?q=invoice'))).toEqual(['m1@customer.example']);
  });

  test('a limit out of range is a 400 naming limit', async () => {
    const res = await api('GET', '/api/v1/activities?limit=0');
    expectInvalidField(res, 'limit');
  });

  test("a deployment token sees its own activities only and gets 403 asking for another deployment's", async () => {
    const token = await mintToken('deployment:fabrikam');
    expect(ids(await api('GET', '/api/v1/activities', { token }))).toEqual(['m4@customer.example']);
    expect((await api('GET', '/api/v1/activities?deployment=contoso', { token })).status).toBe(403);
  });

  test('a user token sees only activities of its own mailboxes', async () => {
    const token = await mintToken('user:contoso/u-bob');
    expect(ids(await api('GET', '/api/v1/activities', { token }))).toEqual(['m2@customer.example']);
  });
});

describe('GET /api/v1/activities/:id', () => {
  beforeEach(() =>
    freshRoutes(
      ['ann@contoso.example', 'us', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'us', 'contoso', 'u-bob'],
    ),
  );

  test('reads one activity', async () => {
    const created = await promote('contoso', 'ann@contoso.example', message(1, 'Hello'));
    const res = await api('GET', `/api/v1/activities/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ...created, webhookDeliveries: [] });
  });

  test('an unknown id is a 404', async () => {
    const res = await api('GET', '/api/v1/activities/nope');
    expectError(res, 404, 'not_found', 'activity nope does not exist');
  });

  test("another deployment's token and another user's token get 404, and the activity is unchanged", async () => {
    const created = await promote('contoso', 'ann@contoso.example', message(1, 'Private'));
    const other = await mintToken('deployment:fabrikam');
    expect((await api('GET', `/api/v1/activities/${created.id}`, { token: other })).status).toBe(404);
    const bob = await mintToken('user:contoso/u-bob');
    expect((await api('GET', `/api/v1/activities/${created.id}`, { token: bob })).status).toBe(404);
    const ann = await mintToken('user:contoso/u-ann');
    expect((await api('GET', `/api/v1/activities/${created.id}`, { token: ann })).status).toBe(200);
    const row = await env.DB.prepare('select count(*) as n from activities').first<{ n: number }>();
    expect(row?.n).toBe(1);
  });

  test('an edge token may not read activities', async () => {
    const token = await mintToken('edge:us');
    expect((await api('GET', '/api/v1/activities', { token })).status).toBe(403);
  });
});
