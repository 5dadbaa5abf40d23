import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import {
  api,
  expectInvalidField,
  freshBasics,
  mintToken,
  postPromote,
  routeMailboxes,
  suppress,
} from './helpers.js';

async function insertDisposition(row: {
  id: string;
  region: string;
  reason: string;
  deployment?: string;
  mailbox?: string;
  at: number;
}) {
  await env.DB.prepare(
    'insert into dispositions (id, region, reason, detail, mailbox, deployment, size_bytes, at) values (?, ?, ?, ?, ?, ?, ?, ?)',
  )
    .bind(
      row.id,
      row.region,
      row.reason,
      `detail of ${row.id}`,
      row.mailbox ?? null,
      row.deployment ?? null,
      1000,
      row.at,
    )
    .run();
}

describe('GET /api/v1/dispositions', () => {
  beforeEach(async () => {
    await freshBasics();
    await insertDisposition({
      id: 'd-1',
      region: 'us',
      reason: 'bulk',
      deployment: 'contoso',
      mailbox: 'ann@contoso.example',
      at: 1000,
    });
    await insertDisposition({
      id: 'd-2',
      region: 'eu',
      reason: 'auto-reply',
      deployment: 'contoso',
      at: 2000,
    });
    await insertDisposition({ id: 'd-3', region: 'eu', reason: 'bulk', deployment: 'fabrikam', at: 3000 });
    await insertDisposition({ id: 'd-4', region: 'eu', reason: 'no-route', at: 4000 });
  });

  test('lists content-free receipts newest first, in whole', async () => {
    const res = await api('GET', '/api/v1/dispositions?limit=2');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      items: [
        {
          id: 'd-4',
          region: 'eu',
          reason: 'no-route',
          detail: 'detail of d-4',
          mailbox: null,
          deployment: null,
          sizeBytes: 1000,
          at: 4000,
        },
        {
          id: 'd-3',
          region: 'eu',
          reason: 'bulk',
          detail: 'detail of d-3',
          mailbox: null,
          deployment: 'fabrikam',
          sizeBytes: 1000,
          at: 3000,
        },
      ],
    });
  });

  test('filters by region, reason and deployment', async () => {
    const pick = async (query: string) =>
      (await api('GET', `/api/v1/dispositions?${query}`)).json.items.map((d: { id: string }) => d.id);
    expect(await pick('region=us')).toEqual(['d-1']);
    expect(await pick('reason=bulk')).toEqual(['d-3', 'd-1']);
    expect(await pick('region=eu&reason=bulk')).toEqual(['d-3']);
    expect(await pick('deployment=contoso')).toEqual(['d-2', 'd-1']);
  });

  test('finds the receipt of a message by its Message-ID, with or without angle brackets', async () => {
    await routeMailboxes(['ann@contoso.example', 'us', 'contoso', 'u-ann']);
    await suppress('contoso', ['spam@bad.example']);
    const refused = await postPromote(
      'contoso',
      'ann@contoso.example',
      'From: spam@bad.example\r\nTo: ann@contoso.example\r\nSubject: Buy\r\nMessage-ID: <Spam-1@bad.example>\r\n\r\nbuy now\r\n',
    );
    expect(refused.status).toBe(409);
    for (const messageId of ['%3CSpam-1@bad.example%3E', 'spam-1@bad.example']) {
      const res = await api('GET', `/api/v1/dispositions?messageId=${messageId}`);
      expect(res.json.items.map((d: { reason: string; mailbox: string }) => [d.reason, d.mailbox])).toEqual([
        ['suppressed', 'ann@contoso.example'],
      ]);
    }
    expect(
      JSON.stringify((await api('GET', '/api/v1/dispositions?messageId=spam-1@bad.example')).json),
    ).not.toContain('bad.example');
  });

  test("a deployment token sees only its deployment's receipts and gets 403 for another's", async () => {
    const token = await mintToken('deployment:fabrikam');
    const own = await api('GET', '/api/v1/dispositions', { token });
    expect(own.json.items.map((d: { id: string }) => d.id)).toEqual(['d-3']);
    expect((await api('GET', '/api/v1/dispositions?deployment=contoso', { token })).status).toBe(403);
  });

  test('user tokens may not read dispositions', async () => {
    const token = await mintToken('user:contoso/u-ann');
    const res = await api('GET', '/api/v1/dispositions', { token });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('forbidden');
  });

  test('a limit out of range is a 400 naming limit', async () => {
    const res = await api('GET', '/api/v1/dispositions?limit=5000');
    expectInvalidField(res, 'limit');
  });
});
