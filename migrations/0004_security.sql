CREATE TABLE `deployment_domains` (
	`domain` text PRIMARY KEY NOT NULL,
	`deployment` text NOT NULL,
	FOREIGN KEY (`deployment`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `deployment_domains_deployment` ON `deployment_domains` (`deployment`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `revoked_sessions` (
	`sid` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `activities` ADD `fingerprint` text;--> statement-breakpoint
ALTER TABLE `deployments` ADD `forwarding_generation` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments` ADD `forwarding_rotated_at` integer;--> statement-breakpoint
ALTER TABLE `deployments` ADD `webhook_secret_generation` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `latency_samples` ADD `deployment` text;--> statement-breakpoint
CREATE INDEX `latency_samples_deployment` ON `latency_samples` (`deployment`,`at`);--> statement-breakpoint
CREATE INDEX `outbound_recent` ON `outbound` (`deployment`,`created_at`);