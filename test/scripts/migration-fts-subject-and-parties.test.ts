// Migration 0014 on an install that already holds activities: the full-text index is rebuilt with
// one text per activity (its subject and its distinct parties' names and addresses; no Message-ID,
// no second copy of the sender) and left empty for the stored activities, which central's cron
// indexes in steps (src/db/queries/search-backfill.ts, test/central/search-backfill.test.ts): a
// watermark above them, and triggers that index new mail at once and leave the rows below the
// watermark to the backfill. Applied with SQLite (node:sqlite) to a scratch database, the way
// `wrangler d1 migrations apply` runs the files one after another.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';

const files = readdirSync(join(ROOT, 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();
const apply = (db: DatabaseSync, f: string) =>
  db.exec(readFileSync(join(ROOT, 'migrations', f), 'utf8').replaceAll('--> statement-breakpoint', ''));

function insert(db: DatabaseSync, seq: number, subject: string | null, parties: object[]) {
  db.prepare(
    `insert into activities (id, deployment, dedupe_key, message_id, subject, from_address, parties, reason,
      correlation_method, correlation_detail, mailboxes, regions, egress, received_at, ingested_at, updated_at, seq)
     values (?, 'contoso', ?, ?, ?, 'buyer@customer.example', ?, 'tracked:sender-record', 'sender-record', '', '[]', '[]', 'metadata', 1, 1, 1, ?)`,
  ).run(`a${seq}`, `m${seq}`, `m${seq}.x7q2@mail.customer.example`, subject, JSON.stringify(parties), seq);
}
const hits = (db: DatabaseSync, term: string) =>
  (
    db
      .prepare('select rowid as n from activities_fts where activities_fts match ? order by rowid')
      .all(`"${term}"`) as { n: number }[]
  ).map((r) => r.n);
const watermark = (db: DatabaseSync) =>
  db.prepare('select below_seq as below, from_seq as "from" from search_backfill').all() as {
    below: number;
    from: number;
  }[];
const ann = { role: 'to', address: 'ann@contoso.example' };

test('0014 on stored activities: an empty index, a watermark above them, triggers for new mail only', () => {
  const at = files.indexOf('0014_fts_subject_and_parties.sql');
  expect(at).toBeGreaterThan(0);
  const db = new DatabaseSync(':memory:');
  for (const f of files.slice(0, at)) apply(db, f);
  insert(db, 1, 'Renewal', [
    { role: 'from', address: 'buyer@customer.example', name: 'Yolanda Vance', recordId: 'c-1' },
    { ...ann, recordType: 'contact', recordId: 'c-2' },
  ]);
  insert(db, 2, null, [{ role: 'from', address: 'zed@rare-vendor.example' }]);
  // Before: the Message-ID was indexed text.
  expect(hits(db, 'x7q2@mail')).toEqual([1, 2]);

  // 0014 alone: 0015 (test/scripts/migration-fts-words.test.ts) replaced its trigrams with words.
  apply(db, files[at] as string);
  expect(watermark(db)).toEqual([{ below: 3, from: 3 }]);
  expect(hits(db, 'renewal')).toEqual([]);
  expect(hits(db, 'rare-vendor')).toEqual([]);

  // New mail is indexed at once: subject, a line feed, each distinct party's name and address.
  insert(db, 3, 'Intro', [
    { role: 'from', address: 'new@third.example', name: 'Third Party' },
    // To lists every record an address matches: one party per match, one address.
    { ...ann, recordType: 'contact', recordId: 'c-2' },
    { ...ann, recordType: 'lead', recordId: 'l-2' },
  ]);
  expect(hits(db, 'intro')).toEqual([3]);
  expect(hits(db, 'third party new@third.example')).toEqual([3]);
  expect(hits(db, 'ann@contoso')).toEqual([3]);
  expect(hits(db, 'ann@contoso.example ann@contoso.example')).toEqual([]);
  expect(hits(db, 'intro third')).toEqual([]); // subject and parties are apart
  expect(hits(db, 'm3.x7q2')).toEqual([]); // no Message-ID

  // Below the watermark an edit waits for the backfill; above it, edits and deletes follow.
  db.prepare(`update activities set subject = 'Renewal signed' where seq = 1`).run();
  expect(hits(db, 'renewal signed')).toEqual([]);
  db.prepare(`update activities set subject = 'Intro call' where seq = 3`).run();
  expect(hits(db, 'intro call')).toEqual([3]);
  db.prepare('delete from activities where seq = 2').run();
  db.prepare('delete from activities where seq = 3').run();
  expect(hits(db, 'intro')).toEqual([]);
  db.exec("insert into activities_fts (activities_fts) values ('integrity-check')");
});

test('0014 on an install with no activities: nothing to backfill', () => {
  const db = new DatabaseSync(':memory:');
  for (const f of files.slice(0, files.indexOf('0014_fts_subject_and_parties.sql') + 1)) apply(db, f);
  expect(watermark(db)).toEqual([]);
  insert(db, 1, 'First', [{ role: 'from', address: 'a@b.example' }]);
  expect(hits(db, 'first')).toEqual([1]);
});
