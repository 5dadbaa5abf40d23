CREATE TABLE `row_counts` (
	`deployment` text NOT NULL,
	`kind` text NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`deployment`, `kind`)
);
--> statement-breakpoint
-- Already made by 0003; the 0004 snapshot had lost it, so drizzle-kit emits it again.
CREATE INDEX IF NOT EXISTS `activities_deployment_seq` ON `activities` (`deployment`,`seq`);--> statement-breakpoint
-- Counts kept by triggers (records: per type; activities), filled from what is there.
CREATE TRIGGER `records_count_insert` AFTER INSERT ON `records` BEGIN
  INSERT INTO `row_counts` (`deployment`, `kind`, `n`) VALUES (new.`deployment`, 'record:' || new.`type`, 1)
  ON CONFLICT (`deployment`, `kind`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `records_count_delete` AFTER DELETE ON `records` BEGIN
  UPDATE `row_counts` SET `n` = `n` - 1 WHERE `deployment` = old.`deployment` AND `kind` = 'record:' || old.`type`;
END;
--> statement-breakpoint
CREATE TRIGGER `activities_count_insert` AFTER INSERT ON `activities` BEGIN
  INSERT INTO `row_counts` (`deployment`, `kind`, `n`) VALUES (new.`deployment`, 'activity', 1)
  ON CONFLICT (`deployment`, `kind`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `activities_count_delete` AFTER DELETE ON `activities` BEGIN
  UPDATE `row_counts` SET `n` = `n` - 1 WHERE `deployment` = old.`deployment` AND `kind` = 'activity';
END;
--> statement-breakpoint
INSERT INTO `row_counts` (`deployment`, `kind`, `n`)
  SELECT `deployment`, 'record:' || `type`, count(*) FROM `records` GROUP BY `deployment`, `type`;
--> statement-breakpoint
INSERT INTO `row_counts` (`deployment`, `kind`, `n`)
  SELECT `deployment`, 'activity', count(*) FROM `activities` GROUP BY `deployment`;
