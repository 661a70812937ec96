import { cachedSettings, readInt } from "../lib/config";

/** How long each kind of record is kept, and how much the retention cron may delete per run. */
export type RetentionSettings = {
  /** Tasks in a final state (rejected, done, expired, failed) whose run and last change are older; 0 = keep forever. */
  taskDays: number;
  /** Events of every type; 0 = keep forever. */
  eventDays: number;
  /** A probe's metadata history (probe_updates) except its latest row; 0 = keep forever. */
  probeHistoryDays: number;
  /** Delivery records (push.* events), usually kept shorter than other events; 0 = keep them as long as events. */
  deliveryDays: number;
  /** Rows one DELETE may remove (and rows one history window may examine). */
  batchRows: number;
  /** D1 statements one cron run may issue for pruning (the invocation's other jobs need theirs); at least 8. */
  statementsPerRun: number;
};

const DAYS = { min: 0, max: 36_500 };

/** Retention settings, in the one dialect (lib/config.ts); declared in wrangler.toml [vars]. */
export const retentionSettings = cachedSettings(
  (env: Env): RetentionSettings => ({
    taskDays: readInt(env, "TASK_RETENTION_DAYS", { fallback: 90, ...DAYS }),
    eventDays: readInt(env, "EVENT_RETENTION_DAYS", { fallback: 180, ...DAYS }),
    probeHistoryDays: readInt(env, "PROBE_HISTORY_RETENTION_DAYS", { fallback: 90, ...DAYS }),
    deliveryDays: readInt(env, "DELIVERY_RETENTION_DAYS", { fallback: 30, ...DAYS }),
    batchRows: readInt(env, "RETENTION_BATCH_ROWS", { fallback: 2000, min: 1, max: 5000 }),
    // At least one turn of every kind (functions/retention/store.ts STATEMENTS_PER_TURN), so none is starved.
    statementsPerRun: readInt(env, "RETENTION_STATEMENTS_PER_RUN", { fallback: 20, min: 8, max: 200 }),
  }),
);
