// Migration 0013 on an install that already holds activities: the full-text index is refilled with
// the parties' names and addresses (not their JSON), from the rows as they stand, and the triggers
// keep it in step afterwards. Applied with SQLite (node:sqlite) to a scratch database, the way
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

function insert(db: DatabaseSync, seq: number, subject: string, parties: object[]) {
  db.prepare(
    `insert into activities (id, deployment, dedupe_key, message_id, subject, from_address, parties, reason,
      correlation_method, correlation_detail, mailboxes, regions, egress, received_at, ingested_at, updated_at, seq)
     values (?, 'contoso', ?, ?, ?, 'buyer@customer.example', ?, 'tracked:sender-record', 'sender-record', '', '[]', '[]', 'metadata', 1, 1, 1, ?)`,
  ).run(`a${seq}`, `m${seq}`, `m${seq}@customer.example`, subject, JSON.stringify(parties), seq);
}
const hits = (db: DatabaseSync, term: string) =>
  (
    db
      .prepare('select rowid as n from activities_fts where activities_fts match ? order by rowid')
      .all(`"${term}"`) as { n: number }[]
  ).map((r) => r.n);

test('0013 refills the index with names and addresses from the stored rows, and triggers follow', () => {
  const at = files.indexOf('0013_fts_party_text.sql');
  expect(at).toBeGreaterThan(0);
  const db = new DatabaseSync(':memory:');
  for (const f of files.slice(0, at)) apply(db, f);
  insert(db, 1, 'Renewal', [
    {
      role: 'from',
      address: 'buyer@customer.example',
      name: 'Yolanda Vance',
      recordType: 'contact',
      recordId: 'c-1',
    },
    { role: 'to', address: 'ann@contoso.example' },
  ]);
  insert(db, 2, 'Quote', [{ role: 'from', address: 'zed@rare-vendor.example' }]);
  // Before: the JSON was the text.
  expect(hits(db, 'recordType')).toEqual([1]);
  expect(hits(db, 'role')).toEqual([1, 2]);

  apply(db, files[at] as string); // 0013 alone: 0014 rebuilds the index again
  expect(hits(db, 'yolanda v')).toEqual([1]);
  expect(hits(db, 'ann@contoso')).toEqual([1]);
  expect(hits(db, 'rare-vendor')).toEqual([2]);
  expect(hits(db, 'renewal')).toEqual([1]);
  for (const term of ['role', 'recordType', 'address', 'c-1']) expect(hits(db, term), term).toEqual([]);

  // Afterwards: insert, edit (a merged copy's parties) and delete through the triggers.
  insert(db, 3, 'Intro', [{ role: 'from', address: 'new@third.example', name: 'Third Party' }]);
  db.prepare(
    `update activities set parties = json_insert(parties, '$[#]', json('{"role":"cc","address":"dana@partner.example"}')) where seq = 2`,
  ).run();
  db.prepare('delete from activities where seq = 1').run();
  expect(hits(db, 'third party')).toEqual([3]);
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
