CREATE TABLE `campaign_measurements` (
	`measurement_uid` text NOT NULL,
	`job_id` text NOT NULL,
	`run_id` text NOT NULL,
	`report_id` text NOT NULL,
	`input` text,
	`probe_cc` text NOT NULL,
	`probe_asn` text NOT NULL,
	`submitted_at` text NOT NULL,
	PRIMARY KEY(`measurement_uid`, `job_id`)
);
--> statement-breakpoint
CREATE INDEX `campaign_measurements_run_idx` ON `campaign_measurements` (`job_id`,`run_id`,`submitted_at`);--> statement-breakpoint
CREATE TABLE `campaign_reports` (
	`report_id` text NOT NULL,
	`job_id` text NOT NULL,
	`run_id` text NOT NULL,
	`source` text NOT NULL,
	`probe_id` text,
	`probe_cc` text NOT NULL,
	`probe_asn` text NOT NULL,
	`software_name` text NOT NULL,
	`software_version` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`report_id`, `job_id`)
);
--> statement-breakpoint
CREATE INDEX `campaign_reports_run_idx` ON `campaign_reports` (`job_id`,`run_id`,`source`);--> statement-breakpoint
CREATE INDEX `campaign_reports_match_idx` ON `campaign_reports` (`probe_cc`,`probe_asn`,`software_name`,`created_at`);--> statement-breakpoint
CREATE TABLE `test_list_urls` (
	`country_code` text NOT NULL,
	`url` text NOT NULL,
	`category_code` text NOT NULL,
	`category_description` text DEFAULT '' NOT NULL,
	`date_added` text DEFAULT '' NOT NULL,
	`source` text DEFAULT '' NOT NULL,
	`notes` text DEFAULT '' NOT NULL,
	`imported_at` text NOT NULL,
	PRIMARY KEY(`country_code`, `url`)
);
--> statement-breakpoint
CREATE INDEX `test_list_urls_cc_cat_idx` ON `test_list_urls` (`country_code`,`category_code`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `features` text;