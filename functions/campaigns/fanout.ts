import type { JobRow } from "../../schema/campaigns";
import { newPace, onThrottle, type Pace, recover, schedule } from "../push/pace";
import type { Occurrence } from "./delivery";
import { occurrenceId, runId, unitHash } from "./ids";
import type { DuePlan } from "./schedule";

// A run's fan-out, pure: which runs a due campaign fires, the occurrences one page of its targets becomes, when the
// next page is handed out, and how a provider's throttling slows the run. Applied by its CampaignRunner object
// (durable-objects/campaign-runner.ts), which only stores the run's paging state and sets its alarm.

/** The runner's row for one run being handed out. */
export type RunRow = {
  run_id: string;
  job_id: string;
  run_at: number;
  /** firing (written before the D1 commit) → paging → dispatched; cancelling → cancelled. */
  state: string;
  cursor: string;
  handed: number;
  pace: string | null;
  /** Scheduler shards the run is handed to (0: one object per probe, runs handed out before sharding). */
  shards: number;
};

/** With a rollout rate, the next page is handed out this long before its first push is due. */
export const PAGE_LEAD_MS = 60_000;

/** The id of the run a due plan fires, or null. */
export function firedRunId(jobId: string, plan: Pick<DuePlan, "fire">): string | null {
  return plan.fire ? runId(jobId, plan.fire.at) : null;
}

/** The run's adaptive rollout state (functions/push/pace.ts): as stored, or fresh from the configured rate. */
export function paceOf(run: Pick<RunRow, "pace" | "run_at">, configured: number | null): Pace {
  return run.pace ? (JSON.parse(run.pace) as Pace) : newPace(configured, run.run_at);
}

/**
 * One page of a run's targets as occurrences. Send slots come from the run's pace (the configured rollout rate,
 * lowered while providers throttle), each spread by the job's delay with a stable per-occurrence jitter.
 */
export function pageOccurrences(
  job: Pick<JobRow, "id" | "kind" | "testName" | "arguments" | "alertMessage" | "alertExtra" | "delayS" | "taskTimeoutS" | "rolloutPerMinute">,
  run: Pick<RunRow, "run_id" | "run_at" | "pace">,
  probeIds: string[],
  nowMs: number,
): { occurrences: Occurrence[]; pace: Pace } {
  const paced = schedule(recover(paceOf(run, job.rolloutPerMinute), nowMs), probeIds.length, run.run_at);
  const occurrences = probeIds.map((probeId, i) => {
    const id = occurrenceId(job.id, run.run_at, probeId);
    const send = Math.max(paced.times[i] + Math.floor(unitHash(id) * job.delayS * 1000), 0);
    return {
      id,
      jobId: job.id,
      runId: run.run_id,
      probeId,
      kind: job.kind,
      testName: job.testName,
      arguments: job.arguments,
      alertMessage: job.alertMessage,
      alertExtra: job.alertExtra,
      sendAtMs: send,
      expireAtMs: Math.max(send, nowMs) + job.taskTimeoutS * 1000,
    };
  });
  return { occurrences, pace: paced.pace };
}

/** When a run that has more pages hands out the next: at once, or with a rollout rate shortly before its next send slot. */
export function nextPageAt(nowMs: number, pace: Pace): number {
  return Math.max(nowMs, pace.cursorMs - PAGE_LEAD_MS);
}

/**
 * A provider throttled `count` of the run's pushes (one answer, or one gateway request of many): its rate halves (once
 * per burst) and each push gets the next free send slot at the new rate. `slowed` is set when the rate changed (then
 * it is recorded).
 */
export function throttledRun(
  run: Pick<RunRow, "pace" | "run_at">,
  configured: number | null,
  nowMs: number,
  retryAfterMs?: number,
  count = 1,
): { pace: Pace; slotMs: number; slotsMs: number[]; slowed: { from: number | null; to: number | null } | null } {
  const before = paceOf(run, configured);
  const after = onThrottle(before, nowMs, retryAfterMs);
  const slot = schedule(after, Math.max(1, count), nowMs);
  return {
    pace: slot.pace,
    slotMs: slot.times[0],
    slotsMs: slot.times,
    slowed: after.current !== before.current ? { from: before.current, to: after.current } : null,
  };
}
