import { eq, type SQL } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { normalizeTarget, type Target, targetConditions } from "./targeting";

/**
 * Who a push can reach: a probe whose push token is valid. An expired or absent token is never pushed (the
 * provider told us it is dead, or there is none), so such a probe can only pull its tasks.
 */
export function canPush(tokenState: string | null | undefined): boolean {
  return tokenState === "valid";
}

/** The same rule as a WHERE condition on `probes`. */
export function pushable(): SQL {
  return eq(probes.pushTokenState, "valid");
}

/**
 * The one reach rule: the probes a campaign's run hands an occurrence to. Its target, the task's own test (a
 * probe never gets a test it lacks), and for alerts only probes that can be pushed (an alert has no task to
 * pull, so any other probe would get nothing). The dry run counts these, the runner pages through them.
 */
export function reachConditions(job: { kind: "task" | "alert"; target: Partial<Target>; testName: string | null }): SQL[] {
  const conds = targetConditions(normalizeTarget(job.target), job.kind === "task" ? job.testName : null);
  if (job.kind === "alert") conds.push(pushable());
  return conds;
}
