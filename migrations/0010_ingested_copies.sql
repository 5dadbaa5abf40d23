CREATE TABLE `ingested_copies` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ingested_copies_at` ON `ingested_copies` (`at`);