-- The full-text index (0005, 0013, 0014) holds words, not trigrams (issue 21): FTS5's `unicode61`
-- tokenizer (letters and digits make a word; case and diacritics folded, `remove_diacritics 2`),
-- and `q` matches words at their start (src/db/queries/activities.ts: the last word of a term is a
-- prefix). A trigram index stores every three-character window of the text: about five times the
-- postings of its words, and FTS5 rewrites each posting once per level of its merges, on every
-- ingest commit. SQLite (node:sqlite), 300 transactions of 250 rows into an index grown to 1.1 M
-- rows with 0014's text: 9.2 → 3.6 ms a batch (p90 23.2 → 2.4 ms), the index 353 → 73 MB; in
-- workerd the index's merges were a quarter of central's CPU in an ingest run at 1 M activities.
-- A term in a script written without spaces (Han, Kana, Thai, …) is matched as a substring by a scan
-- instead: such a text is one "word" to `unicode61`.
--
-- The text is 0014's: the subject, a line feed, each distinct party's name and address. The index
-- is rebuilt empty and the stored activities are indexed in steps by central's cron, as 0014 does
-- (src/db/queries/search-backfill.ts): the watermark goes back above every stored activity.
DROP TRIGGER `activities_fts_insert`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_delete`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_update`;
--> statement-breakpoint
DROP TABLE `activities_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `activities_fts` USING fts5(
  `text`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
--> statement-breakpoint
INSERT INTO `activities_fts` (`activities_fts`, `rank`) VALUES ('automerge', 8);
--> statement-breakpoint
DELETE FROM `search_backfill`;
--> statement-breakpoint
INSERT INTO `search_backfill` (`id`, `below_seq`, `from_seq`, `started_at`)
  SELECT 1, max(`seq`) + 1, max(`seq`) + 1, cast(unixepoch('subsec') * 1000 as integer) FROM `activities`
  HAVING count(*) > 0;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_insert` AFTER INSERT ON `activities` WHEN NOT EXISTS (SELECT 1 FROM `search_backfill` WHERE new.`seq` < `below_seq`) BEGIN
  INSERT INTO `activities_fts` (rowid, `text`)
  VALUES (new.`seq`, concat_ws(char(10), new.`subject`,
    (SELECT group_concat(`party`, ' ') FROM (SELECT DISTINCT concat_ws(' ', `value` ->> 'name', `value` ->> 'address') AS `party` FROM json_each(new.`parties`)))));
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_delete` AFTER DELETE ON `activities` BEGIN
  DELETE FROM `activities_fts` WHERE rowid = old.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_update` AFTER UPDATE OF `subject`, `parties`, `seq` ON `activities` BEGIN
  DELETE FROM `activities_fts` WHERE rowid = old.`seq`;
  INSERT INTO `activities_fts` (rowid, `text`)
  SELECT new.`seq`, concat_ws(char(10), new.`subject`,
    (SELECT group_concat(`party`, ' ') FROM (SELECT DISTINCT concat_ws(' ', `value` ->> 'name', `value` ->> 'address') AS `party` FROM json_each(new.`parties`))))
  WHERE NOT EXISTS (SELECT 1 FROM `search_backfill` WHERE new.`seq` < `below_seq`);
END;
