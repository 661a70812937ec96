CREATE TABLE `login_failures` (
	`account` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL,
	`last_failed_at` text NOT NULL,
	`locked_until` text
);
--> statement-breakpoint
CREATE INDEX `login_failures_last_failed_at` ON `login_failures` (`last_failed_at`);--> statement-breakpoint
CREATE TABLE `principal_versions` (
	`kind` text NOT NULL,
	`sub` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`disabled_at` text,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`kind`, `sub`)
);
--> statement-breakpoint
CREATE TABLE `revoked_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `revoked_tokens_expires_at` ON `revoked_tokens` (`expires_at`);