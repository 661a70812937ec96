CREATE TABLE `mesh_certificates` (
	`serial` text PRIMARY KEY NOT NULL,
	`group_name` text NOT NULL,
	`member_id` text NOT NULL,
	`subject` text NOT NULL,
	`addresses` text NOT NULL,
	`kind` text NOT NULL,
	`issued_at` text NOT NULL,
	`not_after` text NOT NULL,
	`der` text NOT NULL,
	`revoked` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mesh_certificates_member_idx` ON `mesh_certificates` (`group_name`,`member_id`,`not_after`);--> statement-breakpoint
CREATE TABLE `mesh_enrolment_tokens` (
	`hash` text PRIMARY KEY NOT NULL,
	`group_name` text NOT NULL,
	`uses_left` integer NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`created_by` text NOT NULL,
	FOREIGN KEY (`group_name`) REFERENCES `mesh_groups`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `mesh_enrolment_tokens_group_idx` ON `mesh_enrolment_tokens` (`group_name`);--> statement-breakpoint
CREATE TABLE `mesh_groups` (
	`name` text PRIMARY KEY NOT NULL,
	`num_rings` integer NOT NULL,
	`boot_nodes` integer NOT NULL,
	`closed` integer DEFAULT false NOT NULL,
	`ca_cert_der` text NOT NULL,
	`ca_key_sha256` text NOT NULL,
	`created_at` text NOT NULL,
	`created_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `mesh_members` (
	`group_name` text NOT NULL,
	`id` text NOT NULL,
	`seq` integer NOT NULL,
	`spki_sha256` text NOT NULL,
	`spki_der` text NOT NULL,
	`named_curve` text NOT NULL,
	`rpc_addr` text NOT NULL,
	`ping_addr` text NOT NULL,
	`http_addr` text,
	`enrolled_at` text NOT NULL,
	`revoked_at` text,
	`revoked_by` text,
	PRIMARY KEY(`group_name`, `id`),
	FOREIGN KEY (`group_name`) REFERENCES `mesh_groups`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mesh_members_key_idx` ON `mesh_members` (`group_name`,`spki_sha256`);--> statement-breakpoint
CREATE UNIQUE INDEX `mesh_members_seq_idx` ON `mesh_members` (`group_name`,`seq`);