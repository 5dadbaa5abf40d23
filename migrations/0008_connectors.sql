CREATE TABLE `connectors` (
	`deployment` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`settings` text NOT NULL,
	`secrets` text,
	`secret_names` text NOT NULL,
	`state` text DEFAULT 'ok' NOT NULL,
	`pause_reason` text,
	`sync_cursor` text,
	`sync_id` text,
	`sync_done` integer DEFAULT 0 NOT NULL,
	`sync_total` integer,
	`sync_started_at` integer,
	`last_sync_at` integer,
	`last_error` text,
	`last_error_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `activities` ADD `crm_object` text;--> statement-breakpoint
ALTER TABLE `webhook_outbox` ADD `last_outcome` text;--> statement-breakpoint
CREATE INDEX `webhook_outbox_delivered` ON `webhook_outbox` (`deployment`,`delivered_at`);