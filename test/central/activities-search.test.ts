// Activity search through the word index `activities_fts` (migrations 0005, 0015; issues 13, 21):
// the term's words in a row, the last one matched at its start, case and diacritics folded; short
// terms and scripts written without spaces as substrings by a scan. The index is kept in step with
// inserts, merged copies and retention deletes by triggers.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { pruneRetention } from '../../src/central/services/retention.js';
import { createDb } from '../../src/db/client.js';
import { api, freshBasics, plainMessage, promoteRaw } from './helpers.js';

const message = plainMessage;
const promote = (mailbox: string, raw: string, deployment = 'contoso') =>
  promoteRaw(deployment, mailbox, raw);

async function search(q: string, extra = '') {
  const res = await api('GET', `/api/v1/activities?q=${encodeURIComponent(q)}${extra}`);
  expect(res.status).toBe(200);
  return res.json as { items: { messageId: string; id: string }[]; nextCursor: string | null };
}
const ids = (r: { items: { messageId: string }[] }) => r.items.map((a) => a.messageId);

/**
 * The index is whole: FTS5's own check of its structure (throws when broken), it holds exactly the
 * activities' rowids (contentless: it keeps no text to compare), and each activity is found by its
 * subject.
 */
async function indexIntact() {
  await env.DB.prepare("insert into activities_fts (activities_fts) values ('integrity-check')").run();
  const rowids = await env.DB.prepare('select rowid as n from activities_fts order by rowid').all<{
    n: number;
  }>();
  const seqs = await env.DB.prepare('select seq as n, subject as s from activities order by seq').all<{
    n: number;
    s: string;
  }>();
  expect(rowids.results.map((r) => r.n)).toEqual(seqs.results.map((r) => r.n));
  for (const { n, s } of seqs.results) {
    const hit = await env.DB.prepare('select rowid as n from activities_fts where activities_fts match ?')
      .bind(`"${s}"`)
      .all<{ n: number }>();
    expect(hit.results.map((r) => r.n)).toContain(n);
  }
}

describe('GET /api/v1/activities?q= (word index)', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-ann' },
    });
    await api('PUT', '/api/v1/mailboxes/bob@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-bob' },
    });
    for (let i = 1; i <= 6; i++) await promote('ann@contoso.example', message(i, `Weekly report ${i}`));
    await promote('ann@contoso.example', message(7, 'Quote request', 'zed.quimby@rare-vendor.example'));
    await promote('ann@contoso.example', message(8, 'Weekly report 8'));
  });

  test('a term is found by its words in a row, the last at its start, in any case, in the subject and the parties', async () => {
    expect(ids(await search('zed.quim'))).toEqual(['m7@customer.example']); // sender: zed, quim… in a row
    expect(ids(await search('RARE-VENDOR'))).toEqual(['m7@customer.example']); // parties / sender, upper case
    expect(ids(await search('quote req'))).toEqual(['m7@customer.example']); // subject, the last word a prefix
    // A last word under three characters: the words before it find the candidates, and the whole
    // term is checked on them as a substring (no prefix walk over every word starting with r).
    expect(ids(await search('zed.quimby@r'))).toEqual(['m7@customer.example']);
    expect(ids(await search('Quote r'))).toEqual(['m7@customer.example']);
    expect(ids(await search('zed.quimby@x'))).toEqual([]);
    expect(ids(await search('quote x'))).toEqual([]);
    // A word is matched from its start: a piece inside one finds nothing, nor do words out of order.
    expect(ids(await search('ed.quim'))).toEqual([]);
    expect(ids(await search('uote req'))).toEqual([]);
    expect(ids(await search('request quote'))).toEqual([]);
    expect(await search('nowhere-at-all')).toEqual({ items: [], nextCursor: null });
    await indexIntact();
  });

  test('diacritics are folded both ways; a script written without spaces is searched inside its text', async () => {
    await promote(
      'ann@contoso.example',
      message(9, 'Réunion à Zürich', '"Émile Brontë" <eb@vendor.example>'),
    );
    await promote('ann@contoso.example', message(10, '会議の議事録について'));
    for (const term of ['reunion a zurich', 'RÉUNION', 'zür', 'emile bronte', 'Émile'])
      expect(ids(await search(term)), term).toEqual(['m9@customer.example']);
    // The tokenizer takes a run of Han and Kana for one word: such a term is a substring (a scan).
    expect(ids(await search('議事録'))).toEqual(['m10@customer.example']);
    expect(ids(await search('会議'))).toEqual(['m10@customer.example']);
    expect(ids(await search('議事堂'))).toEqual([]);
    await indexIntact();
  });

  test('a Message-ID is found whole (brackets and case as mail clients write it), not by a piece of it', async () => {
    for (const whole of ['m7@customer.example', '<M7@Customer.example>', ' <m7@customer.example> '])
      expect(ids(await search(whole)), whole).toEqual(['m7@customer.example']);
    // Indexed as text, Message-IDs were most of the index (migration 0014): a piece finds nothing.
    expect(await search('m7@customer')).toEqual({ items: [], nextCursor: null });
    // The list's filters apply to it as to the text: another deployment's search does not see it.
    expect(ids(await search('m7@customer.example', '&deployment=fabrikam'))).toEqual([]);
    // A term that is both a Message-ID and text of other activities finds all of them, newest first.
    await promote('ann@contoso.example', message(9, 'Re: m3@customer.example'));
    expect(ids(await search('m3@customer.example'))).toEqual(['m9@customer.example', 'm3@customer.example']);
    const first = await search('m3@customer.example', '&limit=1');
    expect(ids(first)).toEqual(['m9@customer.example']);
    expect(ids(await search('m3@customer.example', `&limit=1&cursor=${first.nextCursor}`))).toEqual([
      'm3@customer.example',
    ]);
  });

  test("the parties' names and addresses are searched, not the JSON that holds them", async () => {
    await promote('ann@contoso.example', message(9, 'Intro', '"Yolanda Vance" <yv@vendor-nine.example>'));
    expect(ids(await search('yolanda v'))).toEqual(['m9@customer.example']); // a party's display name
    expect(ids(await search('ann@contoso'))).toHaveLength(9); // a recipient's address
    // The keys and record fields of the parties' JSON are no text of the message.
    for (const term of ['role', 'address', 'recordType', '"to"', 'from"', '":'])
      expect(ids(await search(term)), term).toEqual([]);
    await indexIntact();
  });

  test('a common term pages newest first with a stable cursor, as the list does', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await search('weekly', `&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...ids(page));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([8, 6, 5, 4, 3, 2, 1].map((n) => `m${n}@customer.example`));
  });

  test('terms shorter than three characters, and quotes or LIKE wildcards, still search (no index, no error)', async () => {
    expect(ids(await search('Qu'))).toEqual(['m7@customer.example']);
    expect(ids(await search('ot'))).toEqual(['m7@customer.example']); // short: a substring, as before
    // Quotes are not words: the term is the word quote (FTS5's syntax is not the user's).
    expect(ids(await search('"quote'))).toEqual(['m7@customer.example']);
    expect(ids(await search('quote" OR "weekly'))).toEqual([]);
    expect(ids(await search('quo%te'))).toEqual(['m7@customer.example']);
    expect(ids(await search('zed_quimby'))).toEqual([]);
  });

  test('the filters of the list apply to search: deployment and token scope', async () => {
    expect(ids(await search('report', '&deployment=fabrikam'))).toEqual([]);
    expect(ids(await search('quimby', '&deployment=contoso'))).toEqual(['m7@customer.example']);
  });

  test('an edit of the indexed columns (a merged copy adding a party) updates the index', async () => {
    expect(ids(await search('dana.partner'))).toEqual([]);
    // What ingest's merge of a second copy writes: the union of the parties.
    await env.DB.prepare(
      `update activities set parties = json_insert(parties, '$[#]', json_object('role', 'cc', 'address', 'dana.partner@elsewhere.example'))
       where message_id = 'm7@customer.example'`,
    ).run();
    expect(ids(await search('dana.partner'))).toEqual(['m7@customer.example']);
    expect(ids(await search('quimby'))).toEqual(['m7@customer.example']);
    await env.DB.prepare(
      "update activities set subject = 'Renamed' where message_id = 'm7@customer.example'",
    ).run();
    expect(ids(await search('quote req'))).toEqual([]);
    expect(ids(await search('renamed'))).toEqual(['m7@customer.example']);
    await indexIntact();
  });

  test('an activity pruned by retention leaves the index', async () => {
    await env.DB.prepare(
      "update activities set received_at = 0 where message_id = 'm7@customer.example'",
    ).run();
    expect(ids(await search('quimby'))).toEqual(['m7@customer.example']);
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', retentionDays: 30 } });
    await pruneRetention(createDb(env.DB), env.ARCHIVE, Date.now());
    expect(ids(await search('quimby'))).toEqual([]);
    expect(ids(await search('weekly'))).toHaveLength(7);
    await indexIntact();
  });
});
