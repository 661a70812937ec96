CREATE TABLE `school_backups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uid` text NOT NULL,
	`admitted_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `school_backups_live_idx` ON `school_backups` (`expires_at`);--> statement-breakpoint
CREATE INDEX `school_backups_uid_idx` ON `school_backups` (`uid`,`expires_at`);--> statement-breakpoint
CREATE TABLE `school_config` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `school_delegations` (
	`serial` text NOT NULL,
	`server_kid` text NOT NULL,
	`master_kid` text NOT NULL,
	`expires_at` text NOT NULL,
	`token` text NOT NULL,
	`imported_at` text NOT NULL,
	PRIMARY KEY(`serial`, `server_kid`)
);
--> statement-breakpoint
CREATE INDEX `school_delegations_expiry_idx` ON `school_delegations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `school_machines` (
	`serial` text PRIMARY KEY NOT NULL,
	`uuid` text,
	`known` integer DEFAULT false NOT NULL,
	`stolen` integer DEFAULT false NOT NULL,
	`stolen_at` text,
	`first_seen_at` text NOT NULL,
	`last_seen_at` text,
	`lease` text,
	`legacy_lease` text,
	`lease_issued_at` text,
	`lease_expires_at` text,
	`lease_delegated` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `school_machines_lease_idx` ON `school_machines` (`known`,`stolen`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `school_machines_seen_idx` ON `school_machines` (`last_seen_at`);--> statement-breakpoint
CREATE TABLE `school_users` (
	`uid` text PRIMARY KEY NOT NULL,
	`nickname` text,
	`serial` text,
	`machine_uuid` text,
	`pubkey` text,
	`stamp` text NOT NULL,
	`registered_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`deregistered_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `school_users_serial_idx` ON `school_users` (`serial`);--> statement-breakpoint
CREATE INDEX `school_users_registered_idx` ON `school_users` (`registered_at`);