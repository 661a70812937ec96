import { cachedSettings, readInt, readSecret, readString } from "../lib/config";
import { ApiError } from "../lib/errors";

/** How agents join the registry (docs/minions.md "Enrolment"). */
export type AgentEnrolment = "open" | "token" | "approval";

/**
 * The minion registry's hardening settings, in the one dialect (lib/config.ts). The poll, beacon and relay timings
 * stay in the core settings (settingsFrom(env).minions), where the agent's object already reads them.
 */
export type MinionsSettings = {
  /** AGENT_ENROLMENT: open (anyone may register an agent; probe tokens may also connect), token, approval. */
  enrolment: AgentEnrolment;
  /** AGENT_ENROLMENT_SECRET: the shared secret an agent presents at register in `token` mode (≥ 16 characters). */
  enrolmentSecret: string | null;
  /** AGENT_STATUS_MAX_BYTES: the largest status reply stored; a larger one is refused (the minion keeps its last). */
  statusMaxBytes: number;
  /** AGENT_HELLO_POLLS_PER_INTERVAL (N): a hello triggers a poll at most once per MONITOR_INTERVAL_MS / N per agent. */
  helloPollsPerInterval: number;
  /** MINIONS_PAGE_SIZE: statuses per page of GET /minions (the listing reads ids and checksums, statuses per page). */
  pageSize: number;
};

export const minionsSettings = cachedSettings((env: Env): MinionsSettings => {
  const mode = readString(env, "AGENT_ENROLMENT", "open");
  if (mode !== "open" && mode !== "token" && mode !== "approval") throw new ApiError("misconfigured", "AGENT_ENROLMENT must be open, token or approval");
  const enrolmentSecret = readSecret(env, "AGENT_ENROLMENT_SECRET", { minLength: 16, required: mode === "token" } as { minLength: number; required: false });
  return {
    enrolment: mode,
    enrolmentSecret,
    statusMaxBytes: readInt(env, "AGENT_STATUS_MAX_BYTES", { fallback: 65_536, min: 1024, max: 1_048_576 }),
    helloPollsPerInterval: readInt(env, "AGENT_HELLO_POLLS_PER_INTERVAL", { fallback: 4, min: 1, max: 1000 }),
    pageSize: readInt(env, "MINIONS_PAGE_SIZE", { fallback: 500, min: 1, max: 5000 }),
  };
});
