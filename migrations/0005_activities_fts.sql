-- Full-text index for `GET /api/v1/activities?q=` (issue 13): a trigram FTS5 table over the four
-- columns the search covers (subject, sender, Message-ID, parties), so a term matches where it
-- occurs inside a word or an address, as the substring search it replaces did. External content
-- (the text stays only in `activities`), its rowid is the activity's `seq`: newest-first pages
-- walk the index in rowid order. Triggers keep it in step with inserts, edits and deletes
-- (retention pruning included).
CREATE VIRTUAL TABLE `activities_fts` USING fts5(
  `subject`, `from_address`, `message_id`, `parties`,
  content='activities', content_rowid='seq', tokenize='trigram'
);
--> statement-breakpoint
CREATE TRIGGER `activities_fts_insert` AFTER INSERT ON `activities` BEGIN
  INSERT INTO `activities_fts` (rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES (new.`seq`, new.`subject`, new.`from_address`, new.`message_id`, new.`parties`);
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_delete` AFTER DELETE ON `activities` BEGIN
  INSERT INTO `activities_fts` (`activities_fts`, rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES ('delete', old.`seq`, old.`subject`, old.`from_address`, old.`message_id`, old.`parties`);
END;
--> statement-breakpoint
CREATE TRIGGER `activities_fts_update` AFTER UPDATE OF `subject`, `from_address`, `message_id`, `parties`, `seq` ON `activities` BEGIN
  INSERT INTO `activities_fts` (`activities_fts`, rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES ('delete', old.`seq`, old.`subject`, old.`from_address`, old.`message_id`, old.`parties`);
  INSERT INTO `activities_fts` (rowid, `subject`, `from_address`, `message_id`, `parties`)
  VALUES (new.`seq`, new.`subject`, new.`from_address`, new.`message_id`, new.`parties`);
END;
--> statement-breakpoint
INSERT INTO `activities_fts` (`activities_fts`) VALUES ('rebuild');
