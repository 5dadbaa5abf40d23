// Migration 0014 on an install that already holds activities: the full-text index is refilled with
// one text per activity (its subject and its distinct parties' names and addresses; no Message-ID,
// no second copy of the sender), from the rows as they stand, and the triggers keep it in step
// afterwards. Applied with SQLite (node:sqlite) to a scratch database, the way
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
const ann = { role: 'to', address: 'ann@contoso.example' };

test('0014 refills the index with subject and distinct parties from the stored rows, and triggers follow', () => {
  const at = files.indexOf('0014_fts_subject_and_parties.sql');
  expect(at).toBeGreaterThan(0);
  const db = new DatabaseSync(':memory:');
  for (const f of files.slice(0, at)) apply(db, f);
  insert(db, 1, 'Renewal', [
    { role: 'from', address: 'buyer@customer.example', name: 'Yolanda Vance', recordId: 'c-1' },
    // To lists every record an address matches: one party per match, one address.
    { ...ann, recordType: 'contact', recordId: 'c-2' },
    { ...ann, recordType: 'lead', recordId: 'l-2' },
  ]);
  insert(db, 2, null, [{ role: 'from', address: 'zed@rare-vendor.example' }]);
  // Before: the Message-ID was indexed text, and the duplicate party twice.
  expect(hits(db, 'x7q2@mail')).toEqual([1, 2]);
  expect(hits(db, 'ann@contoso.example ann@contoso.example')).toEqual([1]);

  for (const f of files.slice(at)) apply(db, f);
  expect(hits(db, 'yolanda vance buyer@customer')).toEqual([1]);
  expect(hits(db, 'ann@contoso')).toEqual([1]);
  expect(hits(db, 'rare-vendor')).toEqual([2]); // no subject: the parties alone
  expect(hits(db, 'renewal')).toEqual([1]);
  expect(hits(db, 'x7q2@mail')).toEqual([]);
  expect(hits(db, 'ann@contoso.example ann@contoso.example')).toEqual([]);
  // Subject and parties are apart: a phrase does not run from one into the other.
  expect(hits(db, 'renewal yolanda')).toEqual([]);

  // Afterwards: insert, edit (a merged copy's parties, a subject) and delete through the triggers.
  insert(db, 3, 'Intro', [{ role: 'from', address: 'new@third.example', name: 'Third Party' }]);
  db.prepare(
    `update activities set parties = json_insert(parties, '$[#]', json('{"role":"cc","address":"dana@partner.example"}')) where seq = 2`,
  ).run();
  db.prepare(`update activities set subject = 'Renewal signed' where seq = 1`).run();
  expect(hits(db, 'renewal signed')).toEqual([1]);
  db.prepare('delete from activities where seq = 1').run();
  expect(hits(db, 'third party')).toEqual([3]);
  expect(hits(db, 'm3.x7q2')).toEqual([]);
  expect(hits(db, 'dana@partner')).toEqual([2]);
  expect(hits(db, 'rare-vendor')).toEqual([2]);
  expect(hits(db, 'yolanda')).toEqual([]);
  expect(
    (db.prepare('select rowid as n from activities_fts order by rowid').all() as { n: number }[]).map(
      (r) => r.n,
    ),
  ).toEqual([2, 3]);
  db.exec("insert into activities_fts (activities_fts) values ('integrity-check')");
});
