CREATE TABLE `probe_updates` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`probe_id` text NOT NULL,
	`at` text NOT NULL,
	`update_type` text NOT NULL,
	`snapshot` text NOT NULL,
	`changed` text DEFAULT '[]' NOT NULL,
	FOREIGN KEY (`probe_id`) REFERENCES `probes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `probe_updates_probe_idx` ON `probe_updates` (`probe_id`,`id`);--> statement-breakpoint
CREATE TABLE `probes` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`last_seen_at` text NOT NULL,
	`probe_cc` text NOT NULL,
	`probe_asn` text NOT NULL,
	`platform` text NOT NULL,
	`software_name` text NOT NULL,
	`software_version` text NOT NULL,
	`supported_tests` text DEFAULT '[]' NOT NULL,
	`network_type` text,
	`available_bandwidth` text,
	`language` text,
	`probe_family` text,
	`probe_id` text,
	`push_token` text,
	`push_token_state` text DEFAULT 'none' NOT NULL,
	`push_token_updated_at` text,
	`password_hash` text
);
--> statement-breakpoint
CREATE INDEX `probes_created_idx` ON `probes` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `probes_cc_idx` ON `probes` (`probe_cc`);--> statement-breakpoint
CREATE INDEX `probes_asn_idx` ON `probes` (`probe_asn`);--> statement-breakpoint
CREATE INDEX `probes_platform_idx` ON `probes` (`platform`);--> statement-breakpoint
CREATE INDEX `probes_last_seen_idx` ON `probes` (`last_seen_at`);--> statement-breakpoint
CREATE INDEX `probes_token_state_idx` ON `probes` (`push_token_state`);--> statement-breakpoint
CREATE TABLE `operators` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL,
	`disabled_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `operators_username_unique` ON `operators` (`username`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` text NOT NULL,
	`type` text NOT NULL,
	`actor` text NOT NULL,
	`job_id` text,
	`probe_id` text,
	`task_id` text,
	`data` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_at_idx` ON `events` (`at`);--> statement-breakpoint
CREATE INDEX `events_job_idx` ON `events` (`job_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_probe_idx` ON `events` (`probe_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_type_idx` ON `events` (`type`,`id`);