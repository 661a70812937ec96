CREATE TABLE `job_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`run_no` integer,
	`scheduled_at` text NOT NULL,
	`fired_at` text,
	`state` text NOT NULL,
	`targets` integer DEFAULT 0 NOT NULL,
	`missed_count` integer DEFAULT 0 NOT NULL,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `job_runs_job_idx` ON `job_runs` (`job_id`,`scheduled_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`comment` text NOT NULL,
	`schedule` text NOT NULL,
	`schedule_kind` text NOT NULL,
	`start_at` text NOT NULL,
	`delay_s` integer DEFAULT 0 NOT NULL,
	`kind` text NOT NULL,
	`test_name` text,
	`arguments` text,
	`alert_message` text,
	`alert_extra` text,
	`target` text NOT NULL,
	`state` text NOT NULL,
	`rollout_per_minute` integer,
	`starting_deadline_s` integer NOT NULL,
	`task_timeout_s` integer NOT NULL,
	`times_run` integer DEFAULT 0 NOT NULL,
	`next_run_at` text,
	`last_run_at` text,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` text NOT NULL,
	`idempotency_key` text,
	`request_hash` text
);
--> statement-breakpoint
CREATE INDEX `jobs_due_idx` ON `jobs` (`state`,`next_run_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_idem_idx` ON `jobs` (`created_by`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`run_id` text NOT NULL,
	`probe_id` text NOT NULL,
	`test_name` text NOT NULL,
	`arguments` text NOT NULL,
	`state` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`notified_at` text,
	`fetched_at` text,
	`accepted_at` text,
	`done_at` text,
	`expires_at` text NOT NULL,
	`result` text,
	`error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_occurrence_idx` ON `tasks` (`job_id`,`run_id`,`probe_id`);--> statement-breakpoint
CREATE INDEX `tasks_probe_idx` ON `tasks` (`probe_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `tasks_job_state_idx` ON `tasks` (`job_id`,`state`);