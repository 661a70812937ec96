/** @jsxImportSource hono/jsx */
import type { z } from "@hono/zod-openapi";
import type { DryRun } from "../../../schema/campaigns-api";
import type { FleetValue, FleetValues } from "../../probes/queries";
import { BarChart } from "../components/chart";
import { CsrfField, ErrorSummary, Field, fieldId } from "../components/form";
import { Layout } from "../components/layout";
import { Stats } from "../components/stats";
import { CAMPAIGN_LABELS as LABELS, type CampaignForm, type TargetField } from "../lib/campaign-form";
import { formatCount, relativeTime, utcMinute } from "../lib/format";
import type { FieldErrors } from "../lib/forms";
import type { SchedulePreview } from "../lib/schedule-text";
import { type ConsoleSession, can } from "../session";

export type DryRunResult = z.infer<typeof DryRun>;

type Props = {
  session: ConsoleSession;
  now: Date;
  fleet: FleetValues;
  form: CampaignForm;
  errors?: FieldErrors;
  general?: string | null;
  /** The schedule in words and its next runs (shown after Preview, and after a refused Create). */
  preview?: SchedulePreview | null;
  /** The API's dry run (after Preview, when the body was valid). */
  dryRun?: DryRunResult | null;
  /** Sent as Idempotency-Key on Create: a double submit or a resubmitted page creates one campaign. */
  idempotencyKey: string;
};

const HINTS: Partial<Record<string, string>> = {
  schedule:
    "ISO 8601 R[n]/<start>/<period> — e.g. R/2026-12-01T00:00:00Z/P1D (daily, forever), R5//PT1H (hourly, 5 times from now), R1//PT1M (once, now) — or a 5-field cron in UTC such as */15 * * * * or 0 3 * * MON.",
  comment: "Shown in the console and the event history.",
  test_name: "The measurement the probes run; only probes that support it are targeted.",
  arguments: 'Optional, e.g. {"urls": ["https://example.org"]}. Blank means {}.',
  alert_message: "The text the probes show.",
  alert_extra: "Optional key/value data sent with the alert. Blank means {}.",
  delay: "Each probe's push is sent at a random moment within this many seconds after the run starts (0 = all at once).",
  rollout_per_minute: "The most pushes sent per minute; blank sends as fast as dispatch goes.",
  starting_deadline_s: "A run missed while the service was down still fires if it is at most this late (60-86400, default 900).",
  task_timeout_s: "A task not accepted or rejected within this time expires (60-2592000, default 86400).",
};

/** The error block of a hand-built control (the same ids as Field's, so the error summary links work). */
function Errors({ name, errors }: { name: string; errors?: FieldErrors }) {
  const errs = errors?.[name] ?? [];
  if (!errs.length) return null;
  return (
    <p class="field-error" id={`${fieldId(name)}-error`}>
      <span class="visually-hidden">Error: </span>
      {errs.join("; ")}
    </p>
  );
}

const describedBy = (name: string, errors?: FieldErrors) =>
  [`${fieldId(name)}-hint`, errors?.[name]?.length ? `${fieldId(name)}-error` : null].filter(Boolean).join(" ");

/** A target field offering the values present in the fleet, with what the form had selected. */
type ChoiceProps = { name: TargetField; values: FleetValue[]; selected: string[]; errors?: FieldErrors; hint: string };

/** A multiple-choice list of the values present in the fleet (countries, networks), most probes first. */
function MultiSelect({ name, values, selected, errors, hint }: ChoiceProps) {
  const id = fieldId(name);
  return (
    <div class={`field${errors?.[name]?.length ? " has-error" : ""}`}>
      <label for={id}>
        {LABELS[name]}
        <span class="optional"> (optional)</span>
      </label>
      <p class="hint" id={`${id}-hint`}>
        {hint}
      </p>
      <Errors name={name} errors={errors} />
      <select
        id={id}
        name={name}
        multiple
        size={Math.min(8, Math.max(3, values.length))}
        aria-describedby={describedBy(name, errors)}
        aria-invalid={errors?.[name]?.length ? "true" : undefined}
      >
        {values.map((v) => (
          <option value={v.value} selected={selected.includes(v.value)}>
            {`${v.value} (${formatCount(v.n)} probe${v.n === 1 ? "" : "s"})`}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The delivery fields: whole numbers, each with the placeholder of its default. */
const DELIVERY_FIELDS = [
  ["delay", "0"],
  ["rollout_per_minute", undefined],
  ["starting_deadline_s", "900"],
  ["task_timeout_s", "86400"],
] as const;

/** The target's checkbox groups, each listing what the fleet reported. */
const TARGET_CHECKBOXES = [
  ["platforms", "Platforms in the fleet."],
  ["network_types", "Network types probes reported."],
  ["software_names", "Probe software in the fleet."],
  ["supported_tests", "Only probes supporting every checked test (a task's own test is always required)."],
] as const;

/** Checkboxes for a short list of values present in the fleet (platforms, network types, software, tests). */
function Checkboxes({ name, values, selected, errors, hint }: ChoiceProps) {
  const id = fieldId(name);
  const extra = selected.filter((s) => !values.some((v) => v.value === s));
  const all = [...values, ...extra.map((value) => ({ value, n: 0 }))];
  return (
    <fieldset id={id} class={errors?.[name]?.length ? "has-error" : undefined} aria-describedby={describedBy(name, errors)}>
      <legend>
        {LABELS[name]} <span class="optional">(optional)</span>
      </legend>
      <p class="hint" id={`${id}-hint`}>
        {hint}
      </p>
      <Errors name={name} errors={errors} />
      {all.length === 0 ? (
        <p class="muted">No values in the fleet yet.</p>
      ) : (
        <div class="checks">
          {all.map((v, i) => (
            <label for={`${id}-${i}`}>
              <input type="checkbox" id={`${id}-${i}`} name={name} value={v.value} checked={selected.includes(v.value)} />
              {v.value} <span class="muted">({formatCount(v.n)})</span>
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}

function SchedulePreviewBlock({ preview, now }: { preview: SchedulePreview; now: Date }) {
  if (!preview.ok) return null;
  return (
    <section class="preview" id="schedule-preview" aria-labelledby="schedule-preview-h">
      <p id="schedule-preview-h">
        <strong>{preview.text}.</strong> {preview.next.length ? "Next runs:" : "No runs left after now."}
      </p>
      {preview.next.length ? (
        <ol>
          {preview.next.map((t) => (
            <li>
              <time datetime={t}>{utcMinute(t)}</time> <span class="muted">({relativeTime(t, now)})</span>
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
}

function DryRunBlock({ d }: { d: DryRunResult }) {
  const bars = (rows: { key: string; count: number }[]) => rows.slice(0, 10).map((r) => ({ label: r.key, value: r.count }));
  return (
    <section class="panel" aria-labelledby="dry-run-h" id="dry-run">
      <h2 id="dry-run-h">Who this campaign reaches (dry run: nothing was created)</h2>
      <Stats
        items={[
          { label: "Targeted probes", value: formatCount(d.targets) },
          { label: "With a live push token", value: formatCount(d.with_push_token) },
          { label: "Projected pushes per run", value: formatCount(d.projected_pushes_per_run) },
          { label: "Rollout per run", value: d.rollout_minutes === null ? "at once" : `${formatCount(d.rollout_minutes)} min` },
        ]}
      />
      {d.targets > 0 ? (
        <div class="grid">
          <BarChart id="dry-country" title="Targeted probes by country (top 10)" labelHeader="Country" unit={["probe", "probes"]} data={bars(d.by_country)} />
          <BarChart id="dry-asn" title="Targeted probes by network (top 10)" labelHeader="ASN" unit={["probe", "probes"]} data={bars(d.by_asn)} />
          <BarChart id="dry-platform" title="Targeted probes by platform" labelHeader="Platform" unit={["probe", "probes"]} data={bars(d.by_platform)} />
        </div>
      ) : (
        <p class="muted">No probe matches this target.</p>
      )}
    </section>
  );
}

/** The "New campaign" form: fields mirror the API's body; Preview runs the API's dry run, Create posts the job. */
export function NewCampaignPage({ session, now, fleet, form, errors, general, preview, dryRun, idempotencyKey }: Props) {
  if (!can(session, "operator")) {
    return (
      <Layout title="New campaign" session={session} current="campaigns">
        <h1>New campaign</h1>
        <p>Creating campaigns needs the operator role; you are signed in as a {session.principal.role}.</p>
        <p>
          <a href="/console/campaigns">Back to campaigns</a>
        </p>
      </Layout>
    );
  }
  const kind = form.kind === "alert" ? "alert" : "task";
  const asnChoices = new Set(fleet.asns.map((a) => a.value));
  const otherAsns = (form.asns ?? []).filter((a) => !asnChoices.has(a)).join(", ");
  const v = (k: keyof CampaignForm) => (form[k] as string | undefined) ?? "";
  return (
    <Layout title="New campaign" session={session} current="campaigns">
      <p>
        <a href="/console/campaigns">← All campaigns</a>
      </p>
      <h1>New campaign</h1>
      <ErrorSummary errors={errors} labels={LABELS} general={general} />
      <form method="post" action="/console/campaigns/new" class="stack wide" aria-labelledby="new-h" novalidate>
        <h2 id="new-h" class="visually-hidden">
          Campaign definition
        </h2>
        <CsrfField token={session.csrf} />
        <input type="hidden" name="idempotency_key" value={idempotencyKey} />
        <Field name="comment" label={LABELS.comment} value={v("comment")} errors={errors} required hint={HINTS.comment} autocomplete="off" />
        <Field name="schedule" label={LABELS.schedule} value={v("schedule")} errors={errors} required hint={HINTS.schedule} autocomplete="off" />
        {preview ? <SchedulePreviewBlock preview={preview} now={now} /> : null}

        <fieldset>
          <legend>What it sends</legend>
          <div class="checks" role="radiogroup" aria-label={LABELS.kind}>
            <label for="kind-task">
              <input type="radio" id="kind-task" name="kind" value="task" checked={kind === "task"} />A task (probes run a test)
            </label>
            <label for="kind-alert">
              <input type="radio" id="kind-alert" name="kind" value="alert" checked={kind === "alert"} />
              An alert (probes show a message)
            </label>
          </div>
        </fieldset>
        <fieldset>
          <legend>Task (used when sending a task)</legend>
          <div class="stack">
            <Field
              name="test_name"
              label={LABELS.test_name}
              value={v("test_name")}
              errors={errors}
              hint={HINTS.test_name}
              list="fleet-tests"
              autocomplete="off"
              markOptional={false}
            />
            <datalist id="fleet-tests">
              {fleet.supported_tests.map((t) => (
                <option value={t.value} />
              ))}
            </datalist>
            <Field name="arguments" label={LABELS.arguments} value={v("arguments")} errors={errors} hint={HINTS.arguments} rows={3} />
          </div>
        </fieldset>
        <fieldset>
          <legend>Alert (used when sending an alert)</legend>
          <div class="stack">
            <Field
              name="alert_message"
              label={LABELS.alert_message}
              value={v("alert_message")}
              errors={errors}
              hint={HINTS.alert_message}
              markOptional={false}
            />
            <Field name="alert_extra" label={LABELS.alert_extra} value={v("alert_extra")} errors={errors} hint={HINTS.alert_extra} rows={2} />
          </div>
        </fieldset>

        <fieldset>
          <legend>Target</legend>
          <p class="hint">Nothing selected in a list means every value. Lists combine: a probe must match all of them.</p>
          <div class="stack">
            <MultiSelect
              name="countries"
              values={fleet.countries}
              selected={form.countries ?? []}
              errors={errors}
              hint="Countries in the fleet, most probes first. Ctrl/Cmd or Shift to select several."
            />
            <MultiSelect
              name="asns"
              values={fleet.asns}
              selected={form.asns ?? []}
              errors={errors}
              hint={`The ${fleet.asns.length} most common networks in the fleet; add others below.`}
            />
            <Field name="asns_other" label="Other networks (ASN, comma-separated)" value={otherAsns} hint="e.g. AS3269, AS30722" autocomplete="off" />
            {TARGET_CHECKBOXES.map(([name, hint]) => (
              <Checkboxes name={name} values={fleet[name]} selected={form[name] ?? []} errors={errors} hint={hint} />
            ))}
          </div>
        </fieldset>

        <fieldset>
          <legend>Delivery</legend>
          <div class="stack">
            {DELIVERY_FIELDS.map(([name, placeholder]) => (
              <Field name={name} label={LABELS[name]} value={v(name)} errors={errors} hint={HINTS[name]} inputmode="numeric" placeholder={placeholder} />
            ))}
          </div>
        </fieldset>

        {dryRun ? <DryRunBlock d={dryRun} /> : null}

        <div class="actions">
          {/* First in the form, so pressing Enter in a field previews rather than creates. */}
          <button type="submit" name="intent" value="preview" class="secondary">
            Preview
          </button>
          <button type="submit" name="intent" value="create">
            Create campaign
          </button>
        </div>
      </form>
    </Layout>
  );
}
