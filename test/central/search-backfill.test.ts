// The search index's backfill after its rebuild (migration 0014): an install upgraded with
// activities stored has an empty index and a watermark above them; the cron indexes them in steps,
// newest first, while ingest, merges and edits go on. Nothing is indexed twice (a stale text would
// still match), nothing is left out, and what the backfill indexes is what the triggers index.
import { createScheduledController, env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import worker from '../../src/central/index.js';
import { createDb } from '../../src/db/client.js';
import {
  runSearchBackfill,
  searchBackfillState,
  searchBackfillStep,
} from '../../src/db/queries/search-backfill.js';
import { signedIn } from './dashboard-browser.js';
import { api, freshBasics, plainMessage, promoteRaw } from './helpers.js';

const db = createDb(env.DB);
const promote = (n: number, subject: string, from?: string) =>
  promoteRaw('contoso', 'ann@contoso.example', plainMessage(n, subject, from));

async function search(q: string) {
  const res = await api('GET', `/api/v1/activities?q=${encodeURIComponent(q)}&limit=500`);
  expect(res.status).toBe(200);
  return (res.json as { items: { messageId: string }[] }).items.map((a) => a.messageId);
}

async function searchIndex() {
  const res = await api('GET', '/api/v1/stats');
  expect(res.status).toBe(200);
  return (
    res.json as { searchIndex: { complete: boolean; indexedShare: number; backfillStartedAt: number | null } }
  ).searchIndex;
}

/** The index's rowids and the activities' seqs, as sorted lists. */
async function rowids() {
  const index = await env.DB.prepare('select rowid as n from activities_fts order by rowid').all<{
    n: number;
  }>();
  const seqs = await env.DB.prepare('select seq as n from activities order by seq').all<{ n: number }>();
  return { index: index.results.map((r) => r.n), seqs: seqs.results.map((r) => r.n) };
}

/** What an install looks like right after migration 0014: the activities stored, the index empty. */
async function asJustUpgraded() {
  await env.DB.batch([
    env.DB.prepare("insert into activities_fts (activities_fts) values ('delete-all')"),
    env.DB.prepare(
      `insert into search_backfill (id, below_seq, from_seq, started_at)
       select 1, max(seq) + 1, max(seq) + 1, 1765000000000 from activities`,
    ),
  ]);
}

describe('search index backfill (migration 0014)', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    for (let i = 1; i <= 12; i++) await promote(i, `Backlog ${i} renewal`);
  });

  test('steps index the stored activities newest first; edits and new mail meanwhile are indexed once', async () => {
    const before = await search('renewal');
    expect(before).toHaveLength(12);
    await asJustUpgraded();
    expect(await search('renewal')).toEqual([]);
    expect(await search('m3@customer.example')).toEqual(['m3@customer.example']); // by Message-ID meanwhile
    expect(await searchIndex()).toEqual({
      complete: false,
      indexedShare: 0,
      backfillStartedAt: 1765000000000,
    });

    // New mail is indexed at once; an edit of an activity not reached yet is left to the backfill.
    await promote(13, 'Fresh renewal', '"Quinn Newman" <quinn@new.example>');
    await env.DB.prepare(
      "update activities set subject = 'Backlog 2 signed' where message_id = 'm2@customer.example'",
    ).run();
    expect(await search('renewal')).toEqual(['m13@customer.example']);

    // Five at a time: the newest five first.
    let state = await searchBackfillStep(db, 5);
    expect(await search('renewal')).toEqual([13, 12, 11, 10, 9, 8].map((n) => `m${n}@customer.example`));
    expect(state?.belowSeq).toBeGreaterThan(1);
    const share = (await searchIndex()).indexedShare;
    expect(share).toBeCloseTo(5 / 12, 5);

    // An edit of an activity already reached: its old text goes, its new text is found.
    await env.DB.prepare(
      "update activities set subject = 'Backlog 9 cancelled' where message_id = 'm9@customer.example'",
    ).run();
    expect(await search('backlog 9 renewal')).toEqual([]);
    expect(await search('backlog 9 cancelled')).toEqual(['m9@customer.example']);

    // Two crons at once step from the same watermark: the second, having read it before the first
    // moved it, moves nothing (whether it would index a row twice is not visible from here: FTS5
    // answers a contentless index's rowids and matches the same either way).
    const seen = await searchBackfillState(db);
    const a = await searchBackfillStep(db, 5, seen);
    const afterA = await rowids();
    const b = await searchBackfillStep(db, 5, seen);
    expect(a?.belowSeq).toBeLessThan(seen?.belowSeq ?? 0);
    expect(b).toEqual(a);
    expect(await rowids()).toEqual(afterA);
    state = await searchBackfillStep(db, 5);
    expect(state).toBeUndefined();
    expect(await searchBackfillState(db)).toBeUndefined();
    expect(await searchIndex()).toEqual({ complete: true, indexedShare: 1, backfillStartedAt: null });

    // Everything once: the index holds exactly the activities, no stale text matches.
    const { index, seqs } = await rowids();
    expect(index).toEqual(seqs);
    expect(await search('backlog 2 renewal')).toEqual([]);
    expect(await search('backlog 2 signed')).toEqual(['m2@customer.example']);
    expect(await search('renewal')).toEqual(
      [13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 1].map((n) => `m${n}@customer.example`),
    );
    expect(await search('quinn newman')).toEqual(['m13@customer.example']);
    await env.DB.prepare("insert into activities_fts (activities_fts) values ('integrity-check')").run();
  });

  test('the dashboard says while a search may miss older activities, and stops saying it when done', async () => {
    const b = await signedIn();
    const notice = /Search is still indexing older activities \((\d+)% done/;
    expect((await b.get('/activities?q=renewal')).html).not.toMatch(notice);
    await asJustUpgraded();
    await searchBackfillStep(db, 6);
    const during = await b.get('/activities?q=renewal');
    expect(during.html.match(notice)?.[1]).toBe('50');
    expect((await b.get('/activities')).html).not.toMatch(notice); // no search, nothing missed
    await runSearchBackfill(db, { budgetMs: 60_000 });
    expect((await b.get('/activities?q=renewal')).html).not.toMatch(notice);
  });

  test('the backfill indexes the same text as the triggers', async () => {
    await promote(20, 'Parties', '"Yolanda Vance" <yv@vendor.example>');
    const probes = ['yolanda vance yv@vendor.example', 'ann@contoso.example', 'parties', 'backlog 7 renewal'];
    const byTrigger = await Promise.all(probes.map(search));
    await asJustUpgraded();
    expect(await runSearchBackfill(db, { budgetMs: 60_000, step: 4 })).toBeUndefined();
    expect(await Promise.all(probes.map(search))).toEqual(byTrigger);
    expect(byTrigger.every((hits) => hits.length > 0)).toBe(true);
  });

  test("the cron runs it, within its share of the minute, and a retention delete meanwhile is no one's problem", async () => {
    await asJustUpgraded();
    await env.DB.prepare("delete from activities where message_id = 'm4@customer.example'").run();
    const clock = { at: 0 };
    // A budget already spent: no step, the state as it was.
    expect(await runSearchBackfill(db, { budgetMs: 0, now: () => clock.at })).toBeDefined();
    await worker.scheduled(createScheduledController(), env as never);
    expect(await searchBackfillState(db)).toBeUndefined();
    const { index, seqs } = await rowids();
    expect(index).toEqual(seqs);
    expect(await search('renewal')).toHaveLength(11);
  });
});
