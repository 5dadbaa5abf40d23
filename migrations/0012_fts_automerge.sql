-- The full-text index (0005) merges its segments 8 at a time instead of FTS5's default 4
-- (sqlite.org/fts5.html#the_automerge_configuration_option). Every ingest transaction flushes its
-- trigrams as a new segment; merging 4 at a time rewrote each trigram about twice as often, and the
-- merges were the largest part of a batch's commit at 1 M activities (issue 21: 250 items, 200
-- batches on central's local D1 file, mean commit 59 ms at 4, 41–48 ms at 8, 37–44 ms at 16). At 16
-- a search walks twice as many segments (a rare term 31 → 58 ms); at 8 searches measured as at 4.
-- A setting, not a rebuild: the index as it stands is kept, whatever its size.
INSERT INTO `activities_fts` (`activities_fts`, `rank`) VALUES ('automerge', 8);
