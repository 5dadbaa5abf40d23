-- The changes feed (GET /api/v1/activities/changes): each activity's position is its latest change,
-- a number that rises in commit order. Existing activities take their `seq`, which is unique and
-- already in insertion order, before the unique index is built.
ALTER TABLE `activities` ADD `change_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `merged` integer DEFAULT false NOT NULL;--> statement-breakpoint
UPDATE `activities` SET `change_seq` = `seq`;--> statement-breakpoint
CREATE UNIQUE INDEX `activities_change_seq` ON `activities` (`change_seq`);--> statement-breakpoint
CREATE INDEX `activities_deployment_change_seq` ON `activities` (`deployment`,`change_seq`);--> statement-breakpoint
-- Ingest sets the position itself; a row written without one (an import, a fixture) takes the next.
CREATE TRIGGER `activities_change_seq_default` AFTER INSERT ON `activities` WHEN new.`change_seq` = 0 BEGIN
  UPDATE `activities` SET `change_seq` = (SELECT max(`change_seq`) + 1 FROM `activities`) WHERE `id` = new.`id`;
END;
