CREATE TABLE `activities` (
	`id` text PRIMARY KEY NOT NULL,
	`deployment` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`message_id` text,
	`subject` text,
	`from_address` text,
	`from_name` text,
	`parties` text NOT NULL,
	`regarding_type` text,
	`regarding_id` text,
	`reason` text NOT NULL,
	`correlation_method` text NOT NULL,
	`correlation_detail` text NOT NULL,
	`mailboxes` text NOT NULL,
	`regions` text NOT NULL,
	`egress` text NOT NULL,
	`body_text` text,
	`content` text,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`received_at` integer NOT NULL,
	`ingested_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `activities_dedupe` ON `activities` (`deployment`,`dedupe_key`);--> statement-breakpoint
CREATE INDEX `activities_message_id` ON `activities` (`message_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `activities_seq` ON `activities` (`seq`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`scope` text NOT NULL,
	`label` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_hash_unique` ON `api_tokens` (`hash`);--> statement-breakpoint
CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`deployment` text,
	`item` text NOT NULL,
	`error` text NOT NULL,
	`attempts` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`replayed_at` integer,
	`replay_result` text
);
--> statement-breakpoint
CREATE INDEX `dead_letters_created` ON `dead_letters` (`created_at`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`token_prefix` text DEFAULT 'CRM:' NOT NULL,
	`token_base` integer NOT NULL,
	`token_user_digits` integer DEFAULT 3 NOT NULL,
	`token_counter_digits` integer DEFAULT 3 NOT NULL,
	`webhook_url` text,
	`max_message_bytes` integer DEFAULT 26214400 NOT NULL,
	`attachment_policy` text DEFAULT 'regional' NOT NULL,
	`smart_match` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_token_base` ON `deployments` (`token_base`);--> statement-breakpoint
CREATE TABLE `dispositions` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`reason` text NOT NULL,
	`detail` text,
	`mailbox` text,
	`deployment` text,
	`message_id_hash` text,
	`mailbox_hash` text,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dispositions_message` ON `dispositions` (`message_id_hash`);--> statement-breakpoint
CREATE INDEX `dispositions_at` ON `dispositions` (`at`);--> statement-breakpoint
CREATE INDEX `dispositions_region` ON `dispositions` (`region`,`reason`);--> statement-breakpoint
CREATE TABLE `edge_counters` (
	`region` text NOT NULL,
	`minute` integer NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`received_bytes` integer DEFAULT 0 NOT NULL,
	`crm_bound` integer DEFAULT 0 NOT NULL,
	`crm_bound_bytes` integer DEFAULT 0 NOT NULL,
	`tossed` text NOT NULL,
	`bytes_sent` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`region`, `minute`)
);
--> statement-breakpoint
CREATE TABLE `ingest_batches` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`received_at` integer NOT NULL,
	`items` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `latency_samples` (
	`region` text NOT NULL,
	`at` integer NOT NULL,
	`ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `latency_samples_at` ON `latency_samples` (`region`,`at`);--> statement-breakpoint
CREATE TABLE `mailboxes` (
	`address` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`deployment` text NOT NULL,
	`user_id` text NOT NULL,
	`filter` text DEFAULT 'email-enabled' NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`region`) REFERENCES `regions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`deployment`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `mailboxes_region` ON `mailboxes` (`region`);--> statement-breakpoint
CREATE INDEX `mailboxes_deployment` ON `mailboxes` (`deployment`);--> statement-breakpoint
CREATE TABLE `outbound` (
	`deployment` text NOT NULL,
	`message_id` text NOT NULL,
	`user_id` text NOT NULL,
	`subject` text,
	`to` text,
	`tracking_token` text NOT NULL,
	`thread_index` text,
	`regarding_type` text,
	`regarding_id` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`deployment`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `outbound_token` ON `outbound` (`deployment`,`tracking_token`);--> statement-breakpoint
CREATE TABLE `record_emails` (
	`deployment` text NOT NULL,
	`address` text NOT NULL,
	`type` text NOT NULL,
	`record_id` text NOT NULL,
	`email_enabled` integer DEFAULT true NOT NULL,
	PRIMARY KEY(`deployment`, `type`, `record_id`, `address`)
);
--> statement-breakpoint
CREATE INDEX `record_emails_address` ON `record_emails` (`deployment`,`address`);--> statement-breakpoint
CREATE TABLE `records` (
	`deployment` text NOT NULL,
	`type` text NOT NULL,
	`id` text NOT NULL,
	`name` text,
	`emails` text NOT NULL,
	`email_enabled` integer DEFAULT true NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`deployment`, `type`, `id`)
);
--> statement-breakpoint
CREATE TABLE `regions` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`rules_enabled` integer DEFAULT true NOT NULL,
	`egress` text DEFAULT 'metadata+subject' NOT NULL,
	`config_version` integer DEFAULT 1 NOT NULL,
	`edge_url` text,
	`last_heartbeat_at` integer,
	`edge_snapshot_version` integer,
	`queue_depth` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `suppressions` (
	`deployment` text NOT NULL,
	`entry` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`deployment`, `entry`)
);
--> statement-breakpoint
CREATE TABLE `user_counters` (
	`deployment` text NOT NULL,
	`user_id` text NOT NULL,
	`user_number` integer NOT NULL,
	`counter` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`deployment`, `user_id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_counters_number` ON `user_counters` (`deployment`,`user_number`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`activity_id` text NOT NULL,
	`deployment` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_activity` ON `webhook_deliveries` (`activity_id`);