-- Per-run task counters (job_runs.tasks_*), kept by triggers so that every write that creates a task or changes its
-- state (the scheduler's hand-off, push outcomes, probe answers, pingbacks, timeouts, a campaign's deletion) updates
-- them in its own transaction, whichever code path issues it. Deleting a task (the retention cron) leaves them as
-- they are: a run's figures do not change when its old tasks are pruned. Triggers first, then the backfill, so a
-- write landing between the two is counted once (the backfill recomputes from the table).
CREATE TRIGGER IF NOT EXISTS `tasks_run_counters_insert` AFTER INSERT ON `tasks` BEGIN
  UPDATE `job_runs` SET
    `tasks_ready` = `tasks_ready` + (NEW.`state` = 'ready'),
    `tasks_notified` = `tasks_notified` + (NEW.`state` = 'notified'),
    `tasks_accepted` = `tasks_accepted` + (NEW.`state` = 'accepted'),
    `tasks_rejected` = `tasks_rejected` + (NEW.`state` = 'rejected'),
    `tasks_done` = `tasks_done` + (NEW.`state` = 'done'),
    `tasks_expired` = `tasks_expired` + (NEW.`state` = 'expired'),
    `tasks_failed` = `tasks_failed` + (NEW.`state` = 'failed')
  WHERE `id` = NEW.`run_id`;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `tasks_run_counters_update` AFTER UPDATE OF `state` ON `tasks` WHEN OLD.`state` IS NOT NEW.`state` BEGIN
  UPDATE `job_runs` SET
    `tasks_ready` = `tasks_ready` + (NEW.`state` = 'ready') - (OLD.`state` = 'ready'),
    `tasks_notified` = `tasks_notified` + (NEW.`state` = 'notified') - (OLD.`state` = 'notified'),
    `tasks_accepted` = `tasks_accepted` + (NEW.`state` = 'accepted') - (OLD.`state` = 'accepted'),
    `tasks_rejected` = `tasks_rejected` + (NEW.`state` = 'rejected') - (OLD.`state` = 'rejected'),
    `tasks_done` = `tasks_done` + (NEW.`state` = 'done') - (OLD.`state` = 'done'),
    `tasks_expired` = `tasks_expired` + (NEW.`state` = 'expired') - (OLD.`state` = 'expired'),
    `tasks_failed` = `tasks_failed` + (NEW.`state` = 'failed') - (OLD.`state` = 'failed')
  WHERE `id` = NEW.`run_id`;
END;
--> statement-breakpoint
UPDATE `job_runs` SET
  `tasks_ready` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'ready'),
  `tasks_notified` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'notified'),
  `tasks_accepted` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'accepted'),
  `tasks_rejected` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'rejected'),
  `tasks_done` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'done'),
  `tasks_expired` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'expired'),
  `tasks_failed` = (SELECT COUNT(*) FROM `tasks` t WHERE t.`job_id` = `job_runs`.`job_id` AND t.`run_id` = `job_runs`.`id` AND t.`state` = 'failed');
