CREATE TABLE `retention_sweeps` (
	`name` text PRIMARY KEY NOT NULL,
	`cursor` integer DEFAULT 0 NOT NULL,
	`rest_until` text,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_ready` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_notified` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_accepted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_rejected` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_done` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_expired` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `job_runs` ADD `tasks_failed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` DROP COLUMN `arguments`;