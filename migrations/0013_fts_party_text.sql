-- The full-text index (0005) holds the parties' names and addresses, not the JSON that carries them
-- (issue 21). `parties` is a JSON array of {role, address, name?, recordType?, recordId?}: indexed
-- as text, its keys and record ids were most of an activity's trigrams — a search for `role` or
-- `address` found every activity — and most of the index's cost at each ingest batch (SQLite, 250
-- rows into an index of 200,000: 50 ms with the JSON, 25 ms with names and addresses; the index
-- 297 → 174 MB).
--
-- A contentless table with contentless_delete (sqlite.org/fts5.html#contentless_delete_tables):
-- its text is what the triggers compute from the row, which an external-content table could not
-- re-read (its `rebuild` and checks read the content table's columns; a view as content fails in
-- D1, whose views cannot call json_each from inside FTS5). A delete is by rowid, so an edit or a
-- retention delete needs no old text. Search reads rowids only (src/db/queries/activities.ts).
DROP TRIGGER `activities_fts_insert`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_delete`;
--> statement-breakpoint
DROP TRIGGER `activities_fts_update`;
--> statement-breakpoint
DROP TABLE `activities_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `activities_fts` USING fts5(
  `subject`, `from_address`, `message_id`, `parties`,
  content='', contentless_delete=1, tokenize='trigram'
);
--> statement-breakpoint
INSERT INTO `activities_fts` (`activities_fts`, `rank`) VALUES ('automerge', 8);
--> statement-breakpoint
INSERT INTO `activities_fts` (rowid, `subject`, `from_address`, `message_id`, `parties`)
  SELECT `seq`, `subject`, `from_address`, `message_id`,
    (SELECT group_concat(concat_ws(' ', `value` ->> 'name', `value` ->> 'address'), ' ') FROM json_each(`parties`))
  FROM `activities`;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_insert` AFTER INSERT ON `activities` BEGIN
  INSERT INTO `activities_fts` (rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES (new.`seq`, new.`subject`, new.`from_address`, new.`message_id`,
    (SELECT group_concat(concat_ws(' ', `value` ->> 'name', `value` ->> 'address'), ' ') FROM json_each(new.`parties`)));
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_delete` AFTER DELETE ON `activities` BEGIN
  DELETE FROM `activities_fts` WHERE rowid = old.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_update` AFTER UPDATE OF `subject`, `from_address`, `message_id`, `parties`, `seq` ON `activities` BEGIN
  DELETE FROM `activities_fts` WHERE rowid = old.`seq`;
  INSERT INTO `activities_fts` (rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES (new.`seq`, new.`subject`, new.`from_address`, new.`message_id`,
    (SELECT group_concat(concat_ws(' ', `value` ->> 'name', `value` ->> 'address'), ' ') FROM json_each(new.`parties`)));
END;
