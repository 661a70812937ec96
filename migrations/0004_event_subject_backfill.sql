-- Carry existing events over to the generic subject (functions/events/store.ts): minions move out of probe_id
-- into their own subject; every other event is about its most specific cross-reference (task, probe, job).
UPDATE `events` SET `subject_kind` = 'minion', `subject_id` = coalesce(`probe_id`, ''), `probe_id` = NULL WHERE `type` LIKE 'minion.%';
--> statement-breakpoint
UPDATE `events` SET `subject_kind` = 'operator', `subject_id` = coalesce(json_extract(`data`, '$.username'), '') WHERE `type` LIKE 'operator.%';
--> statement-breakpoint
UPDATE `events` SET `subject_kind` = 'task', `subject_id` = `task_id` WHERE `subject_kind` = 'system' AND `task_id` IS NOT NULL;
--> statement-breakpoint
UPDATE `events` SET `subject_kind` = 'probe', `subject_id` = `probe_id` WHERE `subject_kind` = 'system' AND `probe_id` IS NOT NULL;
--> statement-breakpoint
UPDATE `events` SET `subject_kind` = 'job', `subject_id` = `job_id` WHERE `subject_kind` = 'system' AND `job_id` IS NOT NULL;
