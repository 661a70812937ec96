ALTER TABLE `events` ADD `subject_kind` text DEFAULT 'system' NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `subject_id` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `events_subject_idx` ON `events` (`subject_kind`,`subject_id`,`id`);