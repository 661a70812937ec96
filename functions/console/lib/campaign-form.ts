import type { TaskState } from "../../../schema/campaigns";
import type { ErrorDetail } from "../../lib/errors";
import { type FieldErrors, push } from "./forms";

// The "New campaign" form ⇄ the API's job body (POST /api/v1/admin/job and its dry run). Pure, unit-tested.
// The API decides what is valid: this module only reshapes form fields (strings, repeated checkboxes) into the JSON
// body, and maps the API's error paths ("task.test_name", "target.countries.0") back to the form's fields.

export const TARGET_FIELDS = ["countries", "asns", "platforms", "network_types", "software_names", "supported_tests"] as const;
export type TargetField = (typeof TARGET_FIELDS)[number];

export const SCALAR_FIELDS = [
  "kind",
  "comment",
  "schedule",
  "delay",
  "test_name",
  "arguments",
  "alert_message",
  "alert_extra",
  "rollout_per_minute",
  "starting_deadline_s",
  "task_timeout_s",
] as const;
export type ScalarField = (typeof SCALAR_FIELDS)[number];

export type CampaignForm = Partial<Record<ScalarField, string>> & Partial<Record<TargetField, string[]>>;

export const CAMPAIGN_LABELS: Record<ScalarField | TargetField, string> = {
  kind: "Kind",
  comment: "Name",
  schedule: "Schedule",
  delay: "Spread each run over (seconds)",
  test_name: "Test",
  arguments: "Test arguments (JSON object)",
  alert_message: "Alert message",
  alert_extra: "Alert extra data (JSON object)",
  rollout_per_minute: "Rollout rate (pushes per minute)",
  starting_deadline_s: "Starting deadline (seconds)",
  task_timeout_s: "Task timeout (seconds)",
  countries: "Countries",
  asns: "Networks (ASN)",
  platforms: "Platforms",
  network_types: "Network types",
  software_names: "Software",
  supported_tests: "Probes must support",
};

const MAX_LIST = 500;

/** The posted form (from parseBody({ all: true })) as strings and lists; anything else is dropped. */
export function campaignFormFrom(body: Record<string, unknown>): CampaignForm {
  const form: CampaignForm = {};
  const one = (v: unknown): string | undefined => (typeof v === "string" ? v : Array.isArray(v) && typeof v[0] === "string" ? v[0] : undefined);
  for (const k of SCALAR_FIELDS) {
    const v = one(body[k]);
    if (v !== undefined) form[k] = v.slice(0, 10_000);
  }
  const strings = (raw: unknown) => (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((x): x is string => typeof x === "string");
  for (const k of TARGET_FIELDS) {
    // "asns_other": the free-text box next to the ASN picker, for networks the picker does not list.
    const list = [...strings(body[k]), ...(k === "asns" ? strings(body.asns_other) : [])];
    // A text box may hold several values separated by commas or spaces; select and checkbox values come one by one.
    form[k] = [...new Set(list.flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== ""))].slice(0, MAX_LIST);
  }
  return form;
}

/** A whole number as a number; blank as absent (the API's default); anything else as typed, for the API to refuse. */
function num(v: string | undefined): number | string | undefined {
  const t = v?.trim() ?? "";
  if (t === "") return undefined;
  return /^-?\d{1,15}$/.test(t) ? Number(t) : t;
}

/** A JSON object field: blank is {}, otherwise it must parse to an object. */
function jsonObject(v: string | undefined): { value: Record<string, unknown> } | { error: string } {
  const t = v?.trim() ?? "";
  if (t === "") return { value: {} };
  try {
    const parsed = JSON.parse(t);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return { value: parsed as Record<string, unknown> };
    return { error: 'must be a JSON object, e.g. {"urls": ["https://example.org"]}' };
  } catch (e) {
    return { error: `is not valid JSON (${String((e as Error).message).slice(0, 120)})` };
  }
}

/**
 * The API body for a form. `errors` holds what cannot be expressed in the body at all (unparseable JSON); the rest
 * (required fields, formats, ranges, the schedule) is the API's to judge.
 */
export function jobBodyFromForm(form: CampaignForm): { body: Record<string, unknown>; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const body: Record<string, unknown> = { schedule: form.schedule ?? "", comment: form.comment ?? "" };
  const put = (k: string, v: unknown) => {
    if (v !== undefined) body[k] = v;
  };
  put("delay", num(form.delay));
  put("rollout_per_minute", num(form.rollout_per_minute));
  put("starting_deadline_s", num(form.starting_deadline_s));
  put("task_timeout_s", num(form.task_timeout_s));
  if (form.kind === "alert") {
    const extra = jsonObject(form.alert_extra);
    if ("error" in extra) errors.alert_extra = [extra.error];
    body.alert = { message: form.alert_message ?? "", extra: "value" in extra ? extra.value : {} };
  } else {
    const args = jsonObject(form.arguments);
    if ("error" in args) errors.arguments = [args.error];
    body.task = { test_name: form.test_name ?? "", arguments: "value" in args ? args.value : {} };
  }
  body.target = Object.fromEntries(TARGET_FIELDS.map((k) => [k, form[k] ?? []]));
  return { body, errors };
}

/** API error paths → form fields (the longest matching prefix wins). */
const PATH_TO_FIELD: [string, ScalarField | TargetField][] = [
  ["task.test_name", "test_name"],
  ["task.arguments", "arguments"],
  ["task", "test_name"],
  ["alert.message", "alert_message"],
  ["alert.extra", "alert_extra"],
  ["alert", "alert_message"],
  ...TARGET_FIELDS.map((k) => [`target.${k}`, k] as [string, TargetField]),
  ...(["schedule", "comment", "delay", "rollout_per_minute", "starting_deadline_s", "task_timeout_s"] as const).map((k) => [k, k] as [string, ScalarField]),
];

/** The API's `details` next to the form's fields; a path no field owns goes under "" (shown at the top). */
export function campaignFieldErrors(details: ErrorDetail[] | undefined): FieldErrors {
  const out: FieldErrors = {};
  for (const d of details ?? []) {
    const hit = PATH_TO_FIELD.filter(([p]) => d.path === p || d.path.startsWith(`${p}.`)).sort((a, b) => b[0].length - a[0].length)[0];
    const key = hit ? hit[1] : "";
    // "target.countries.3" → say which value: the list is long and the message alone does not tell.
    const m = /^target\.[a-z_]+\.(\d+)$/.exec(d.path);
    push(out, key, m ? `item ${Number(m[1]) + 1}: ${d.message}` : d.message);
  }
  return out;
}

/** Merge two error maps (the form's own and the API's). */
export function mergeErrors(a: FieldErrors, b: FieldErrors): FieldErrors {
  const out: FieldErrors = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = [...(out[k] ?? []), ...v];
  return out;
}

/** A stored job's definition back as a form (for "Copy as new"). */
export function formFromJob(job: {
  schedule: string;
  delay: number;
  comment: string;
  task: { test_name: string; arguments: Record<string, unknown> } | null;
  alert: { message: string; extra: Record<string, unknown> } | null;
  target: Record<TargetField, string[]>;
  rollout_per_minute: number | null;
  starting_deadline_s: number;
  task_timeout_s: number;
}): CampaignForm {
  return {
    kind: job.alert ? "alert" : "task",
    comment: job.comment,
    schedule: job.schedule,
    delay: String(job.delay),
    test_name: job.task?.test_name ?? "",
    arguments: job.task ? JSON.stringify(job.task.arguments) : "",
    alert_message: job.alert?.message ?? "",
    alert_extra: job.alert ? JSON.stringify(job.alert.extra) : "",
    rollout_per_minute: job.rollout_per_minute === null ? "" : String(job.rollout_per_minute),
    starting_deadline_s: String(job.starting_deadline_s),
    task_timeout_s: String(job.task_timeout_s),
    ...Object.fromEntries(TARGET_FIELDS.map((k) => [k, job.target[k] ?? []])),
  };
}

/** Task states grouped for a one-line summary: open (ready, notified), accepted, done, and not delivered. */
export function taskSummary(counts: Partial<Record<TaskState, number>>): { total: number; text: string } {
  const n = (s: TaskState) => counts[s] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  if (total === 0) return { total, text: "no tasks yet" };
  const parts: string[] = [];
  const open = n("ready") + n("notified");
  if (open) parts.push(`${open} open`);
  if (n("accepted")) parts.push(`${n("accepted")} accepted`);
  if (n("done")) parts.push(`${n("done")} done`);
  if (n("rejected")) parts.push(`${n("rejected")} rejected`);
  const lost = n("expired") + n("failed");
  if (lost) parts.push(`${lost} expired or failed`);
  return { total, text: parts.join(", ") };
}
