import type { z } from "zod";
import { type FieldErrors, push, utcInput } from "./forms";

// Console filter forms (plain GET forms with readable field names) mapped onto the API's query schemas, so the same
// zod validation (ClientListQuery, EventQuery) decides, and its errors come back under the form's field names.

export const SEEN_WINDOWS = {
  "": { label: "Any time" },
  "1h": { label: "In the last hour", afterMs: 3_600_000 },
  "24h": { label: "In the last 24 hours", afterMs: 86_400_000 },
  "7d": { label: "In the last 7 days", afterMs: 7 * 86_400_000 },
  "30d": { label: "In the last 30 days", afterMs: 30 * 86_400_000 },
  stale30d: { label: "Not in the last 30 days", beforeMs: 30 * 86_400_000 },
} as const satisfies Record<string, { label: string; afterMs?: number; beforeMs?: number }>;

export const PROBE_FILTER_FIELDS = ["country", "asn", "platform", "network_type", "software_name", "software_version", "token_state", "seen", "limit"] as const;
export type ProbeFilterForm = Partial<Record<(typeof PROBE_FILTER_FIELDS)[number] | "cursor", string>>;

/** The probes filter form as ClientListQuery input; `errors` holds what the form itself can tell is wrong. */
export function probeQueryInput(form: ProbeFilterForm, now: Date): { input: Record<string, string>; errors: FieldErrors } {
  const input: Record<string, string> = {};
  const errors: FieldErrors = {};
  for (const k of ["country", "asn", "platform", "network_type", "software_name", "software_version", "token_state", "limit", "cursor"] as const) {
    const v = form[k]?.trim();
    if (v) input[k] = v;
  }
  const seen = form.seen ?? "";
  if (!(seen in SEEN_WINDOWS)) errors.seen = ["must be one of the listed choices"];
  else {
    const w = SEEN_WINDOWS[seen as keyof typeof SEEN_WINDOWS] as { afterMs?: number; beforeMs?: number };
    if (w.afterMs) input.last_seen_after = new Date(now.getTime() - w.afterMs).toISOString();
    if (w.beforeMs) input.last_seen_before = new Date(now.getTime() - w.beforeMs).toISOString();
  }
  input.limit ??= "50";
  return { input, errors };
}

/** Query-schema paths that are not form field names. */
export const PROBE_PATH_TO_FIELD: Record<string, string> = { last_seen_after: "seen", last_seen_before: "seen", country_code: "country" };

export const EVENT_FILTER_FIELDS = ["type", "probe_id", "job_id", "since", "until", "limit"] as const;
export type EventFilterForm = Partial<Record<(typeof EVENT_FILTER_FIELDS)[number] | "cursor", string>>;

/** The events filter form as EventQuery input (`datetime-local` values are read as UTC). */
export function eventQueryInput(form: EventFilterForm): Record<string, string> {
  const input: Record<string, string> = {};
  for (const k of ["type", "probe_id", "job_id", "limit", "cursor"] as const) {
    const v = form[k]?.trim();
    if (v) input[k] = v;
  }
  const since = utcInput(form.since?.trim());
  const until = utcInput(form.until?.trim());
  if (since) input.since = since;
  if (until) input.until = until;
  input.limit ??= "50";
  return input;
}

/** zod issues keyed by form field, through an optional path → field rename. */
export function issuesByField(err: z.ZodError, rename: Record<string, string> = {}): FieldErrors {
  const out: FieldErrors = {};
  for (const i of err.issues) {
    const path = i.path.map(String).join(".");
    const head = path.split(".")[0];
    const key = rename[head] ?? head;
    push(out, key, i.message);
  }
  return out;
}
