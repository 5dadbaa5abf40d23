DROP INDEX `record_emails_address`;--> statement-breakpoint
DROP INDEX `record_emails_hash`;--> statement-breakpoint
CREATE INDEX `record_emails_address` ON `record_emails` (`deployment`,`address`,`type`,`record_id`);--> statement-breakpoint
CREATE INDEX `record_emails_hash` ON `record_emails` (`deployment`,`hash_hi`,`hash_lo`,`type`,`email_enabled`);--> statement-breakpoint
ALTER TABLE `records` ADD `active` integer DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX `activities_deployment_seq` ON `activities` (`deployment`,`seq`);