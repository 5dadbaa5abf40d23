-- The full-text index (0005, 0013) holds one text per activity: its subject and its parties' names
-- and addresses, each distinct party once (issue 21). It no longer holds the Message-ID or the
-- sender's address as columns of their own:
-- - the sender's address is a party (role `from`): it was indexed twice;
-- - a Message-ID is a machine identifier, looked up whole: `q` matches it exactly, through
--   `activities_message_id` (src/db/queries/activities.ts). Indexed as text, its random characters
--   were the index's most numerous distinct trigrams.
-- SQLite (node:sqlite), 250 rows a transaction into an index grown batch by batch to 250,000 rows
-- with Message-IDs as mail clients make them: 23.2 → 10.1 ms a batch, the index 184 → 86 MB.
-- One column, not two: a column per text costs each row a position list per column. The subject
-- and the parties are joined by a line feed, so a phrase matches across them only if it holds one.
--
-- The stored activities are indexed in steps, newest first, by central's cron
-- (src/db/queries/search-backfill.ts), not by this migration: D1 stops a statement after 30 s,
-- and refilling the index costs about 30 µs a row (0013 refilled it in one statement). Until then
-- `search_backfill.below_seq` is the watermark: the activities at or above it are indexed, those
-- below are not yet, and the triggers leave those to the backfill (so no row is indexed twice).
DROP TRIGGER `activities_fts_insert`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_delete`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_update`;
--> statement-breakpoint
DROP TABLE `activities_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `activities_fts` USING fts5(
  `text`, content='', contentless_delete=1, tokenize='trigram'
);
--> statement-breakpoint
INSERT INTO `activities_fts` (`activities_fts`, `rank`) VALUES ('automerge', 8);
--> statement-breakpoint
CREATE TABLE `search_backfill` (
  `id` integer PRIMARY KEY NOT NULL CHECK (`id` = 1),
  `below_seq` integer NOT NULL,
  `from_seq` integer NOT NULL,
  `started_at` integer NOT NULL
);
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
