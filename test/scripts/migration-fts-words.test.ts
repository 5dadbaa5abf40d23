// Migration 0015 on an install that already holds activities: the full-text index is rebuilt with
// FTS5's `unicode61` tokenizer (words, case and diacritics folded) instead of trigrams, over 0014's
// text (the subject, then each distinct party's name and address), left empty for the stored
// activities, which central's cron indexes in steps again (src/db/queries/search-backfill.ts), and
// kept by triggers for new mail. Applied with SQLite (node:sqlite) to a scratch database, the way
// `wrangler d1 migrations apply` runs the files one after another; queried as `q` queries it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import { wordPrefixMatch } from '../../src/db/queries/activities.js';

const files = readdirSync(join(ROOT, 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();
const at = files.indexOf('0015_fts_words.sql');
const apply = (db: DatabaseSync, f: string) =>
  db.exec(readFileSync(join(ROOT, 'migrations', f), 'utf8').replaceAll('--> statement-breakpoint', ''));

function insert(db: DatabaseSync, seq: number, subject: string | null, parties: object[]) {
  db.prepare(
    `insert into activities (id, deployment, dedupe_key, message_id, subject, from_address, parties, reason,
      correlation_method, correlation_detail, mailboxes, regions, egress, received_at, ingested_at, updated_at, seq)
     values (?, 'contoso', ?, ?, ?, 'buyer@customer.example', ?, 'tracked:sender-record', 'sender-record', '', '[]', '[]', 'metadata', 1, 1, 1, ?)`,
  ).run(`a${seq}`, `m${seq}`, `m${seq}@mail.customer.example`, subject, JSON.stringify(parties), seq);
}
/** The rowids `q` finds for a term through the index (its words in a row, the last a prefix). */
const hits = (db: DatabaseSync, term: string) =>
  (
    db
      .prepare('select rowid as n from activities_fts where activities_fts match ? order by rowid')
      .all(wordPrefixMatch(term)) as { n: number }[]
  ).map((r) => r.n);
const watermark = (db: DatabaseSync) =>
  db.prepare('select below_seq as below, from_seq as "from" from search_backfill').all() as {
    below: number;
    from: number;
  }[];
const buyer = { role: 'from', address: 'buyer@customer.example', name: 'Yolanda Vance' };

test('0015 on stored activities, its backfill half done: an empty word index, the watermark above every activity', () => {
  expect(at).toBeGreaterThan(0);
  const db = new DatabaseSync(':memory:');
  for (const f of files.slice(0, at)) apply(db, f);
  insert(db, 1, 'Renewal', [buyer]);
  insert(db, 2, 'Quote request', [{ role: 'from', address: 'zed.quimby@rare-vendor.example' }]);
  // 0014's backfill indexed activity 2 only; then new mail (3) was indexed by its trigger.
  db.exec(`insert into activities_fts (rowid, text) values (2, 'Quote request')`);
  db.exec('update search_backfill set below_seq = 2');
  insert(db, 3, 'Intro', [buyer]);
  expect(
    db.prepare(`select rowid as n from activities_fts where activities_fts match '"uote"'`).all(),
  ).toHaveLength(1); // trigrams

  apply(db, files[at] as string);
  for (const f of files.slice(at + 1)) apply(db, f);
  expect(watermark(db)).toEqual([{ below: 4, from: 4 }]);
  for (const term of ['renewal', 'quote', 'intro', 'yolanda']) expect(hits(db, term), term).toEqual([]);

  // New mail is indexed at once, by words: subject, then each distinct party's name and address.
  insert(db, 4, 'Réunion à Zürich', [
    { role: 'from', address: 'emile@third-party.example', name: 'Émile Brontë' },
    { role: 'to', address: 'ann@contoso.example', recordType: 'contact', recordId: 'c-2' },
    { role: 'to', address: 'ann@contoso.example', recordType: 'lead', recordId: 'l-2' },
  ]);
  expect(hits(db, 'reunion a zurich')).toEqual([4]);
  expect(hits(db, 'ZÜR')).toEqual([4]); // the last word a prefix, case and diacritics folded
  expect(hits(db, 'emile bronte emile@third-party.example')).toEqual([4]);
  expect(hits(db, 'ann@contoso')).toEqual([4]);
  expect(hits(db, 'ann@contoso.example ann@contoso.example')).toEqual([]); // each party once
  expect(hits(db, 'union')).toEqual([]); // not inside a word
  expect(hits(db, 'contact')).toEqual([]); // no JSON keys or record fields
  expect(hits(db, 'm4')).toEqual([]); // no Message-ID

  // Below the watermark an edit waits for the backfill; above it, edits and deletes follow.
  db.prepare(`update activities set subject = 'Renewal signed' where seq = 1`).run();
  expect(hits(db, 'renewal signed')).toEqual([]);
  db.prepare(`update activities set subject = 'Intro call' where seq = 4`).run();
  expect(hits(db, 'intro call')).toEqual([4]);
  expect(hits(db, 'reunion')).toEqual([]);
  db.prepare('delete from activities where seq = 4').run();
  expect(hits(db, 'intro')).toEqual([]);
  db.exec("insert into activities_fts (activities_fts) values ('integrity-check')");
  expect(db.prepare(`select v from activities_fts_config where k = 'automerge'`).get()).toEqual({ v: 8 });
});

test('0015 on an install with no activities: nothing to backfill, new mail indexed by words', () => {
  const db = new DatabaseSync(':memory:');
  for (const f of files) apply(db, f);
  expect(watermark(db)).toEqual([]);
  insert(db, 1, 'First contact', [buyer]);
  expect(hits(db, 'first con')).toEqual([1]);
  expect(hits(db, 'yolanda vance buyer@customer')).toEqual([1]);
});
