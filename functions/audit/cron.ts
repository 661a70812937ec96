import { dbFrom } from "../lib/db";
import type { CronJob } from "../lib/surface";
import { sealAuditSafely } from "./store";

/** Seals entries appended inside other surfaces' batches (functions/audit/store.ts): the chain lags by at most a minute. */
export const auditSealCron: CronJob = { name: "audit.seal", run: (env) => sealAuditSafely(dbFrom(env.DB)) };
