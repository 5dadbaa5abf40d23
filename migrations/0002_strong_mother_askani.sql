CREATE TABLE `webhook_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`activity_id` text NOT NULL,
	`deployment` text NOT NULL,
	`event` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`last_status` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_outbox_due` ON `webhook_outbox` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_activity` ON `webhook_outbox` (`activity_id`);--> statement-breakpoint
CREATE INDEX `webhook_outbox_deployment` ON `webhook_outbox` (`deployment`,`state`);