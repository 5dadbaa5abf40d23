// The changes feed (design §4, GET /api/v1/activities/changes): ascending, resumable, at least
// once, inserts and merges, scoped like the activity list.
import { beforeEach, describe, expect, test } from 'vitest';
import {
  api,
  expectError,
  freshRoutes,
  mintToken,
  plainMessage,
  postPromote,
  promoteRaw,
} from './helpers.js';

interface Change {
  change: 'inserted' | 'merged';
  cursor: string;
  activity: { id: string; messageId: string; mailboxes: string[]; deployment: string };
}
interface Page {
  items: Change[];
  nextCursor: string | null;
  hasMore: boolean;
}

async function changes(query = '', token?: string): Promise<Page> {
  const res = await api('GET', `/api/v1/activities/changes${query}`, { token });
  expect(res.status).toBe(200);
  return res.json as Page;
}

/** Every change after `cursor`, page by page of `limit`: the whole feed as a consumer reads it. */
async function readAll(cursor: string | null, limit: number, token?: string) {
  const seen: Change[] = [];
  let at = cursor;
  for (let pages = 0; pages < 50; pages++) {
    const page = await changes(`?limit=${limit}${at ? `&cursor=${at}` : ''}`, token);
    seen.push(...page.items);
    at = page.nextCursor;
    if (!page.hasMore) return { seen, cursor: at };
  }
  throw new Error('the feed never ended');
}

const messageIds = (items: Change[]) => items.map((c) => c.activity.messageId);

describe('GET /api/v1/activities/changes', () => {
  beforeEach(async () => {
    await freshRoutes(
      ['ann@contoso.example', 'us', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'eu', 'contoso', 'u-bob'],
      ['fay@fabrikam.example', 'eu', 'fabrikam', 'u-fay'],
    );
  });

  test('lists inserts oldest first and pages through them without skipping or repeating', async () => {
    for (let n = 1; n <= 5; n++) await promoteRaw('contoso', 'ann@contoso.example', plainMessage(n, `S${n}`));
    const { seen, cursor } = await readAll(null, 2);
    expect(messageIds(seen)).toEqual([1, 2, 3, 4, 5].map((n) => `m${n}@customer.example`));
    expect(seen.every((c) => c.change === 'inserted')).toBe(true);
    const cursors = seen.map((c) => Number(c.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(5);
    expect(cursor).toBe(seen[4]?.cursor);
    // Nothing new: an empty page that keeps the cursor, so polling with it goes on from there.
    expect(await changes(`?cursor=${cursor}`)).toEqual({ items: [], nextCursor: cursor, hasMore: false });
  });

  test('a merge moves the activity after the cursor again, as merged, with its new state', async () => {
    const first = await promoteRaw('contoso', 'ann@contoso.example', plainMessage(1, 'Offer'));
    await promoteRaw('contoso', 'ann@contoso.example', plainMessage(2, 'Other'));
    const { cursor } = await readAll(null, 10);
    // Bob forwards the same message: a second copy, merged into the first activity.
    const merged = await postPromote('contoso', 'bob@contoso.example', plainMessage(1, 'Offer'));
    expect(merged.status).toBe(200);
    expect(merged.json.id).toBe(first.id);
    const after = await changes(`?cursor=${cursor}`);
    expect(after.items).toEqual([
      {
        change: 'merged',
        cursor: expect.any(String),
        activity: expect.objectContaining({
          id: first.id,
          mailboxes: expect.arrayContaining(['ann@contoso.example', 'bob@contoso.example']),
        }),
      },
    ]);
    expect(Number(after.items[0]?.cursor)).toBeGreaterThan(Number(cursor));
    // Read from the start, the activity appears once, at its latest change, after m2.
    const all = await readAll(null, 10);
    expect(messageIds(all.seen)).toEqual(['m2@customer.example', 'm1@customer.example']);
    expect(all.seen.map((c) => c.change)).toEqual(['inserted', 'merged']);
  });

  test('a deployment token reads its deployment only; a user token its own mailboxes only', async () => {
    await promoteRaw('contoso', 'ann@contoso.example', plainMessage(1, 'For Ann'));
    await promoteRaw('contoso', 'bob@contoso.example', plainMessage(2, 'For Bob'));
    await promoteRaw('fabrikam', 'fay@fabrikam.example', plainMessage(3, 'For Fay'));
    expect(messageIds((await readAll(null, 10)).seen)).toHaveLength(3);
    const contoso = await mintToken('deployment:contoso');
    expect(messageIds((await readAll(null, 10, contoso)).seen)).toEqual([
      'm1@customer.example',
      'm2@customer.example',
    ]);
    const ann = await mintToken('user:contoso/u-ann');
    expect(messageIds((await readAll(null, 10, ann)).seen)).toEqual(['m1@customer.example']);
    const denied = await api('GET', '/api/v1/activities/changes?deployment=fabrikam', { token: contoso });
    expectError(denied, 403, 'forbidden', 'this token may not read deployment fabrikam');
    const admin = await changes('?deployment=fabrikam');
    expect(messageIds(admin.items)).toEqual(['m3@customer.example']);
  });

  test('a cursor that is not a number, or a limit out of range, is a 400', async () => {
    for (const query of ['?cursor=abc', '?cursor=-1', '?limit=0', '?limit=501']) {
      const res = await api('GET', `/api/v1/activities/changes${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
  });
});
