CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`secret_hash` text NOT NULL,
	`state` text NOT NULL,
	`name` text,
	`enrolment` text NOT NULL,
	`created_at` text NOT NULL,
	`approved_at` text,
	`approved_by` text
);
--> statement-breakpoint
CREATE INDEX `agents_state_idx` ON `agents` (`state`,`created_at`);