ALTER TABLE `probes` ADD `register_key` text;--> statement-breakpoint
ALTER TABLE `probes` ADD `register_fingerprint` text;--> statement-breakpoint
CREATE UNIQUE INDEX `probes_register_key_idx` ON `probes` (`register_key`);