-- Hand-written (kept as is when migrations are regenerated): the audit log refuses, in the database itself,
-- any change to a sealed row and any delete. Sealing (hash NULL -> set) may only add prev_hash and hash.
-- Someone with raw access can drop these triggers; the hash chain is what detects that (docs/audit.md).
CREATE TRIGGER IF NOT EXISTS `audit_log_no_delete` BEFORE DELETE ON `audit_log`
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `audit_log_seal_only` BEFORE UPDATE ON `audit_log`
WHEN OLD.`hash` IS NOT NULL
  OR NEW.`seq` IS NOT OLD.`seq` OR NEW.`at` IS NOT OLD.`at` OR NEW.`actor` IS NOT OLD.`actor` OR NEW.`action` IS NOT OLD.`action`
  OR NEW.`subject_kind` IS NOT OLD.`subject_kind` OR NEW.`subject_id` IS NOT OLD.`subject_id` OR NEW.`data` IS NOT OLD.`data`
BEGIN
  SELECT RAISE(ABORT, 'audit_log rows are sealed once and never changed');
END;
