ALTER TABLE `connectors` ADD `sync_lease_holder` text;--> statement-breakpoint
ALTER TABLE `connectors` ADD `sync_lease_until` integer;