CREATE TABLE `cross_region_counters` (
	`region` text NOT NULL,
	`minute` integer NOT NULL,
	`kind` text NOT NULL,
	`to_central` integer DEFAULT 0 NOT NULL,
	`from_central` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`region`, `minute`, `kind`)
);
--> statement-breakpoint
CREATE TABLE `region_canaries` (
	`region` text PRIMARY KEY NOT NULL,
	`round_trip_ms` integer NOT NULL,
	`sent_at` integer NOT NULL,
	`at` integer NOT NULL
);
