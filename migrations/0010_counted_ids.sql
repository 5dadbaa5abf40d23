CREATE TABLE `counted_ids` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `counted_ids_at` ON `counted_ids` (`at`);