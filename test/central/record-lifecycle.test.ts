// Records that follow the CRM (issue 13): delete, deactivate, bulk, full sync, exact lookup.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { api, edgeSnapshot, freshBasics, mintToken, routeMailboxes, snapshotHasRecord } from './helpers.js';

const R = '/api/v1/deployments/contoso/records';

async function put(
  records: Array<{ type: string; id: string; emails: string[]; emailEnabled?: boolean }>,
  query = '',
) {
  const res = await api('POST', `${R}${query}`, { body: { records } });
  if (res.status !== 200) throw new Error(`records: ${res.status} ${res.text}`);
  return res.json;
}

/** Routes ann@contoso.example in eu (so eu's snapshot carries contoso's records), then {@link put}s the records. */
async function putRouted(records: Parameters<typeof put>[0]) {
  await routeMailboxes(['ann@contoso.example', 'eu', 'contoso', 'u-ann']);
  return put(records);
}

async function ids(deployment = 'contoso'): Promise<string[]> {
  const { results } = await env.DB.prepare(
    'select type, id from records where deployment = ? order by type, id',
  )
    .bind(deployment)
    .all<{ type: string; id: string }>();
  return results.map((r) => `${r.type}/${r.id}`);
}

beforeEach(freshBasics);

describe('DELETE /api/v1/deployments/:id/records/:type/:recordId', () => {
  test('deletes the record; its address leaves the snapshot and party lookups', async () => {
    await putRouted([
      { type: 'contact', id: 'c-1', emails: ['gone@example.com'] },
      { type: 'contact', id: 'c-2', emails: ['stays@example.com'] },
    ]);
    expect(snapshotHasRecord(await edgeSnapshot('eu'), 'contoso', 'gone@example.com')).toBe(true);
    const res = await api('DELETE', `${R}/contact/c-1`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deleted: { type: 'contact', id: 'c-1' } });
    const s = await edgeSnapshot('eu');
    expect(snapshotHasRecord(s, 'contoso', 'gone@example.com')).toBe(false);
    expect(snapshotHasRecord(s, 'contoso', 'stays@example.com')).toBe(true);
    expect((await api('GET', `${R}?address=gone@example.com`)).json.items).toEqual([]);
    expect(await ids()).toEqual(['contact/c-2']);
  });

  test('a missing record is a 404; an unknown type is a 400', async () => {
    const missing = await api('DELETE', `${R}/contact/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found');
    expect((await api('DELETE', `${R}/case/c-1`)).status).toBe(400);
  });

  test("another deployment's token may not delete, and the record stays", async () => {
    await put([{ type: 'contact', id: 'c-1', emails: ['a@example.com'] }]);
    const token = await mintToken('deployment:fabrikam');
    expect((await api('DELETE', `${R}/contact/c-1`, { token })).status).toBe(403);
    // Its own deployment has no such record: a 404, not a delete elsewhere.
    const own = await api('DELETE', '/api/v1/deployments/fabrikam/records/contact/c-1', { token });
    expect(own.status).toBe(404);
    expect(await ids()).toEqual(['contact/c-1']);
  });

  test('?deactivate=true keeps the record inactive until it is written again', async () => {
    await putRouted([{ type: 'lead', id: 'l-1', emails: ['lead@example.com'] }]);
    const res = await api('DELETE', `${R}/lead/l-1?deactivate=true`);
    expect(res.json).toEqual({ deactivated: { type: 'lead', id: 'l-1' } });
    const listed = await api('GET', `${R}?type=lead`);
    expect(listed.json.items).toMatchObject([{ id: 'l-1', active: false }]);
    expect(snapshotHasRecord(await edgeSnapshot('eu'), 'contoso', 'lead@example.com')).toBe(false);
    expect((await api('DELETE', `${R}/lead/l-1?deactivate=true`)).status).toBe(404);
    await put([{ type: 'lead', id: 'l-1', emails: ['lead@example.com'] }]);
    expect((await api('GET', `${R}?type=lead`)).json.items).toMatchObject([{ id: 'l-1', active: true }]);
    expect(snapshotHasRecord(await edgeSnapshot('eu'), 'contoso', 'lead@example.com')).toBe(true);
  });
});

describe('bulk delete and deactivate', () => {
  test('POST …/records/delete removes the named records and counts the missing ones', async () => {
    await put(
      Array.from({ length: 1200 }, (_, i) => ({
        type: 'contact',
        id: `c-${i}`,
        emails: [`c${i}@x.example`],
      })),
    );
    const names = Array.from({ length: 1100 }, (_, i) => ({ type: 'contact', id: `c-${i}` }));
    const res = await api('POST', `${R}/delete`, {
      body: { records: [...names, { type: 'lead', id: 'none' }] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ requested: 1101, removed: 1100, notFound: 1 });
    expect((await ids()).length).toBe(100);
  });

  test('POST …/records/deactivate flags the records and takes them out of the snapshot', async () => {
    await putRouted([
      { type: 'contact', id: 'c-1', emails: ['one@example.com'] },
      { type: 'contact', id: 'c-2', emails: ['two@example.com'] },
    ]);
    const res = await api('POST', `${R}/deactivate`, { body: { records: [{ type: 'contact', id: 'c-1' }] } });
    expect(res.json).toEqual({ requested: 1, removed: 1, notFound: 0 });
    const s = await edgeSnapshot('eu');
    expect(snapshotHasRecord(s, 'contoso', 'one@example.com')).toBe(false);
    expect(snapshotHasRecord(s, 'contoso', 'two@example.com')).toBe(true);
    expect(await ids()).toEqual(['contact/c-1', 'contact/c-2']);
  });

  test('an invalid key is a 400 naming it, and nothing is removed', async () => {
    await put([{ type: 'contact', id: 'c-1', emails: ['one@example.com'] }]);
    const res = await api('POST', `${R}/delete`, {
      body: {
        records: [
          { type: 'contact', id: 'c-1' },
          { type: 'case', id: 'x' },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/records\.1\.type/);
    expect(await ids()).toEqual(['contact/c-1']);
    expect((await api('POST', `${R}/delete`, { body: { records: [] } })).status).toBe(400);
  });

  test("another deployment's token gets a 403 and removes nothing", async () => {
    await put([{ type: 'contact', id: 'c-1', emails: ['one@example.com'] }]);
    const token = await mintToken('deployment:fabrikam');
    for (const verb of ['delete', 'deactivate']) {
      const res = await api('POST', `${R}/${verb}`, {
        token,
        body: { records: [{ type: 'contact', id: 'c-1' }] },
      });
      expect(res.status).toBe(403);
    }
    expect((await api('GET', `${R}?type=contact`)).json.items).toMatchObject([{ id: 'c-1', active: true }]);
  });
});

describe('full sync', () => {
  test('completing a sync removes what it did not carry; the snapshot follows', async () => {
    await putRouted([
      { type: 'contact', id: 'left', emails: ['left@example.com'] },
      { type: 'contact', id: 'stays', emails: ['old@example.com'] },
    ]);
    const start = await api('POST', '/api/v1/deployments/contoso/record-syncs');
    expect(start.status).toBe(201);
    expect(start.json).toMatchObject({ status: 'open', received: 0, removed: 0 });
    const sync = start.json.id as string;
    const posted = await put(
      [{ type: 'contact', id: 'stays', emails: ['new@example.com'] }],
      `?sync=${sync}`,
    );
    expect(posted).toMatchObject({ sync, updated: 1 });
    await put([{ type: 'lead', id: 'new', emails: ['lead@example.com'] }], `?sync=${sync}`);
    // Before completion nothing is removed.
    expect(await ids()).toEqual(['contact/left', 'contact/stays', 'lead/new']);
    const done = await api('POST', `/api/v1/deployments/contoso/record-syncs/${sync}/complete`);
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ status: 'completed', received: 2, removed: 1 });
    expect(await ids()).toEqual(['contact/stays', 'lead/new']);
    const s = await edgeSnapshot('eu');
    expect(snapshotHasRecord(s, 'contoso', 'left@example.com')).toBe(false);
    expect(snapshotHasRecord(s, 'contoso', 'old@example.com')).toBe(false);
    expect(snapshotHasRecord(s, 'contoso', 'new@example.com')).toBe(true);
    expect((await api('GET', `/api/v1/deployments/contoso/record-syncs/${sync}`)).json.status).toBe(
      'completed',
    );
    // Posting to a completed sync is refused.
    const late = await api('POST', `${R}?sync=${sync}`, {
      body: { records: [{ type: 'contact', id: 'x', emails: [] }] },
    });
    expect(late.status).toBe(409);
  });

  test('an interrupted sync removes nothing, and a newer sync supersedes it', async () => {
    await put([{ type: 'contact', id: 'c-1', emails: ['a@example.com'] }]);
    const first = (await api('POST', '/api/v1/deployments/contoso/record-syncs')).json.id as string;
    await put([{ type: 'contact', id: 'c-2', emails: ['b@example.com'] }], `?sync=${first}`);
    const second = (await api('POST', '/api/v1/deployments/contoso/record-syncs')).json.id as string;
    expect(await ids()).toEqual(['contact/c-1', 'contact/c-2']);
    const stale = await api('POST', `/api/v1/deployments/contoso/record-syncs/${first}/complete`);
    expect(stale.status).toBe(409);
    expect(await ids()).toEqual(['contact/c-1', 'contact/c-2']);
    expect((await api('GET', `/api/v1/deployments/contoso/record-syncs/${first}`)).json.status).toBe(
      'superseded',
    );
    await put([{ type: 'contact', id: 'c-1', emails: ['a@example.com'] }], `?sync=${second}`);
    await api('POST', `/api/v1/deployments/contoso/record-syncs/${second}/complete`);
    expect(await ids()).toEqual(['contact/c-1']);
  });

  test('mode=replace is a whole sync in one request; an invalid row removes nothing', async () => {
    await put([
      { type: 'contact', id: 'c-1', emails: ['a@example.com'] },
      { type: 'contact', id: 'c-2', emails: ['b@example.com'] },
    ]);
    const bad = await api('POST', `${R}?mode=replace&onInvalid=skip`, {
      body: {
        records: [
          { type: 'contact', id: 'c-1', emails: ['a@example.com'] },
          { type: 'case', id: 'x', emails: [] },
        ],
      },
    });
    expect(bad.status).toBe(400);
    expect(await ids()).toEqual(['contact/c-1', 'contact/c-2']);
    const ok = await put([{ type: 'contact', id: 'c-2', emails: ['b@example.com'] }], '?mode=replace');
    expect(ok).toMatchObject({ updated: 1, removed: 1 });
    expect(await ids()).toEqual(['contact/c-2']);
  });

  test('an unknown sync is a 404; another deployment cannot see or complete a sync', async () => {
    expect(
      (
        await api('POST', `${R}?sync=sync_nope`, {
          body: { records: [{ type: 'contact', id: 'x', emails: [] }] },
        })
      ).status,
    ).toBe(404);
    const sync = (await api('POST', '/api/v1/deployments/contoso/record-syncs')).json.id as string;
    const token = await mintToken('deployment:fabrikam');
    expect((await api('GET', `/api/v1/deployments/contoso/record-syncs/${sync}`, { token })).status).toBe(
      403,
    );
    expect(
      (await api('POST', `/api/v1/deployments/contoso/record-syncs/${sync}/complete`, { token })).status,
    ).toBe(403);
    // Under its own deployment the id does not exist.
    expect(
      (await api('POST', `/api/v1/deployments/fabrikam/record-syncs/${sync}/complete`, { token })).status,
    ).toBe(404);
    expect(
      (
        await api('POST', `/api/v1/deployments/fabrikam/records?sync=${sync}`, {
          token,
          body: { records: [{ type: 'contact', id: 'x', emails: [] }] },
        })
      ).status,
    ).toBe(404);
  });
});

describe('GET …/records?address= (exact lookup)', () => {
  test('finds every record carrying the address, ignoring case and display name', async () => {
    await put([
      { type: 'contact', id: 'c-1', emails: ['Pat@Example.com', 'pat@home.example'] },
      { type: 'lead', id: 'l-1', emails: ['pat@example.com'] },
      { type: 'contact', id: 'c-2', emails: ['patrick@example.com'] },
    ]);
    const res = await api('GET', `${R}?address=${encodeURIComponent('Pat Smith <PAT@example.COM>')}`);
    expect(res.status).toBe(200);
    expect(res.json.items.map((r: { type: string; id: string }) => `${r.type}/${r.id}`)).toEqual([
      'contact/c-1',
      'lead/l-1',
    ]);
    expect(res.json.counts).toBeUndefined();
    expect((await api('GET', `${R}?address=pat@example.co`)).json.items).toEqual([]);
  });

  test("is scoped to the deployment: another deployment's records are not found", async () => {
    await put([{ type: 'contact', id: 'c-1', emails: ['pat@example.com'] }]);
    const token = await mintToken('deployment:fabrikam');
    const res = await api('GET', '/api/v1/deployments/fabrikam/records?address=pat@example.com', { token });
    expect(res.status).toBe(200);
    expect(res.json.items).toEqual([]);
    expect((await api('GET', `${R}?address=pat@example.com`, { token })).status).toBe(403);
  });

  test('is answered by the address index, not a scan', async () => {
    const plan = await env.DB.prepare(
      "explain query plan select type, record_id from record_emails where deployment = 'contoso' and address = 'a@b.c'",
    ).all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join(' ')).toMatch(
      /USING (COVERING )?INDEX record_emails_address/,
    );
  });
});

describe('record counts (row_counts, kept by triggers)', () => {
  /** The counts the records list answers, beside a count of the rows themselves. */
  async function counts() {
    const listed = (await api('GET', `${R}?limit=1`)).json.counts as Record<string, number>;
    const { results } = await env.DB.prepare(
      'select type, count(*) as n from records where deployment = ? group by type',
    )
      .bind('contoso')
      .all<{ type: string; n: number }>();
    const counted = { user: 0, contact: 0, account: 0, lead: 0, total: 0 } as Record<string, number>;
    for (const r of results) {
      counted[r.type] = r.n;
      counted.total = (counted.total ?? 0) + r.n;
    }
    return { listed, counted };
  }

  test('follow creates, re-sends, deletes, deactivations and a completed sync', async () => {
    await put(
      Array.from({ length: 30 }, (_, i) => ({
        type: i % 3 ? 'contact' : 'lead',
        id: `r-${i}`,
        emails: [`r${i}@x.example`],
      })),
    );
    let c = await counts();
    expect(c.listed).toEqual({ user: 0, contact: 20, account: 0, lead: 10, total: 30 });
    // A re-send updates, it does not count twice; another deployment's records are not counted here.
    await put([{ type: 'contact', id: 'r-1', emails: ['again@x.example'] }]);
    await api('POST', '/api/v1/deployments/fabrikam/records', {
      body: { records: [{ type: 'contact', id: 'f-1', emails: ['f@x.example'] }] },
    });
    expect((await counts()).listed.total).toBe(30);
    expect((await api('DELETE', `${R}/contact/r-1`)).status).toBe(200);
    await api('POST', `${R}/delete`, {
      body: {
        records: [
          { type: 'lead', id: 'r-0' },
          { type: 'lead', id: 'r-3' },
        ],
      },
    });
    // A deactivated record is still a record (it keeps its history).
    await api('POST', `${R}/deactivate`, { body: { records: [{ type: 'contact', id: 'r-2' }] } });
    c = await counts();
    expect(c.listed).toEqual({ user: 0, contact: 19, account: 0, lead: 8, total: 27 });
    expect(c.listed).toEqual(c.counted);
    const sync = (await api('POST', '/api/v1/deployments/contoso/record-syncs')).json.id as string;
    await put([{ type: 'account', id: 'a-1', emails: ['a@x.example'] }], `?sync=${sync}`);
    await api('POST', `/api/v1/deployments/contoso/record-syncs/${sync}/complete`);
    c = await counts();
    expect(c.listed).toEqual({ user: 0, contact: 0, account: 1, lead: 0, total: 1 });
    expect(c.listed).toEqual(c.counted);
  });
});
