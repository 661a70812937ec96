import type { TaskState } from "../../schema/campaigns";

/**
 * The task state machine: ready → notified → accepted | rejected, accepted → done; expired (no answer in time)
 * and failed (undeliverable) from the unanswered states. Everything else is an illegal transition (409).
 */
export type TaskAction = "notify" | "accept" | "reject" | "done" | "expire" | "fail";

export const TRANSITIONS: Record<TaskAction, { from: readonly TaskState[]; to: TaskState }> = {
  notify: { from: ["ready"], to: "notified" },
  accept: { from: ["ready", "notified"], to: "accepted" },
  reject: { from: ["ready", "notified", "accepted"], to: "rejected" },
  done: { from: ["accepted"], to: "done" },
  expire: { from: ["ready", "notified"], to: "expired" },
  fail: { from: ["ready"], to: "failed" },
};

export function canTransition(from: TaskState, action: TaskAction): boolean {
  return TRANSITIONS[action].from.includes(from);
}

/** States in which a probe still has something to do: listed by GET /tasks. */
export const OPEN_STATES: readonly TaskState[] = ["ready", "notified"];
