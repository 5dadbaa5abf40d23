CREATE TABLE `record_syncs` (
	`id` text PRIMARY KEY NOT NULL,
	`deployment` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`removed` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `record_syncs_deployment` ON `record_syncs` (`deployment`,`started_at`);--> statement-breakpoint
CREATE TABLE `snapshot_dirty` (
	`deployment` text NOT NULL,
	`bucket` integer NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`deployment`, `bucket`)
);
--> statement-breakpoint
CREATE TABLE `snapshot_parts` (
	`deployment` text PRIMARY KEY NOT NULL,
	`data_version` integer DEFAULT 1 NOT NULL,
	`built_version` integer DEFAULT 0 NOT NULL,
	`changed_at` integer DEFAULT 0 NOT NULL,
	`built_at` integer DEFAULT 0 NOT NULL,
	`building_until` integer DEFAULT 0 NOT NULL,
	`shard_bits` integer DEFAULT 0 NOT NULL,
	`shards` text,
	`part_key` text,
	`part_hash` text,
	`part_bytes` integer,
	`build_ms` integer
);
--> statement-breakpoint
ALTER TABLE `deployments` ADD `retention_days` integer;--> statement-breakpoint
ALTER TABLE `record_emails` ADD `hash_hi` integer;--> statement-breakpoint
ALTER TABLE `record_emails` ADD `hash_lo` integer;--> statement-breakpoint
CREATE INDEX `record_emails_hash` ON `record_emails` (`deployment`,`hash_hi`);--> statement-breakpoint
ALTER TABLE `records` ADD `sync_id` text;--> statement-breakpoint
ALTER TABLE `regions` ADD `published_key` text;--> statement-breakpoint
ALTER TABLE `regions` ADD `published_etag` text;--> statement-breakpoint
ALTER TABLE `regions` ADD `published_version` integer;--> statement-breakpoint
ALTER TABLE `regions` ADD `published_bytes` integer;--> statement-breakpoint
CREATE INDEX `activities_received` ON `activities` (`deployment`,`received_at`);--> statement-breakpoint
CREATE INDEX `dispositions_deployment_at` ON `dispositions` (`deployment`,`at`);