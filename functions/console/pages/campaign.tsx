/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { TASK_STATES } from "../../../schema/campaigns";
import type { EventView } from "../../events/queries";
import type { campaignDetail } from "../../campaigns/queries";
import { RUNS_SHOWN } from "../../campaigns/queries";
import { StackedColumnChart } from "../components/chart";
import { CsrfField } from "../components/form";
import { Flash, Layout, Time } from "../components/layout";
import { DataTable, IdLink } from "../components/table";
import { TARGET_FIELDS, CAMPAIGN_LABELS, taskSummary } from "../lib/campaign-form";
import { formatCount, relativeTime, utcMinute } from "../lib/format";
import { queryString } from "../lib/forms";
import { describeCron, schedulePreview } from "../lib/schedule-text";
import { type ConsoleSession, can } from "../session";

type Detail = NonNullable<Awaited<ReturnType<typeof campaignDetail>>>;
type Props = {
  session: ConsoleSession;
  now: Date;
  detail: Detail;
  deliveries: { events: EventView[]; next_cursor: string | null };
  cursor?: string;
  flash?: string | null;
  // OONI check-ins and measurements per run (functions/ooni/console.tsx).
  ooni?: Child;
};

/** "#3 · 11-24 10:00" for a run's column (run numbers count fired runs from 1; a missed-runs record has none). */
export function runLabel(r: { run_no: number | null; scheduled_at: string }): string {
  const t = r.scheduled_at.slice(5, 16).replace("T", " ");
  return r.run_no === null ? t : `#${r.run_no} · ${t}`;
}

/** The schedule in words, as stored (an ISO start left empty was "now" at creation: it reads from the anchor). */
function scheduleWords(schedule: string, creation: string): string {
  const p = schedulePreview(schedule, Date.parse(creation), 0);
  return p.ok ? p.text : describeCron(schedule);
}

const dash = (v: unknown) => (v === null || v === undefined || v === "" ? "—" : String(v));

export function CampaignPage({ session, now, detail, deliveries, cursor, flash, ooni }: Props) {
  const { job: j, runs, task_counts, upcoming_runs } = detail;
  const mayChange = can(session, "operator");
  const base = `/console/campaigns/${j.id}`;
  const chronological = [...runs].reverse();
  const summary = taskSummary(task_counts);
  const Action = ({ action, label, cls }: { action: string; label: string; cls?: string }) => (
    <form method="post" action={`${base}/${action}`}>
      <CsrfField token={session.csrf} />
      <button type="submit" class={cls}>
        {label}
      </button>
    </form>
  );
  return (
    <Layout title={`Campaign ${j.comment}`} session={session} current="campaigns">
      <p>
        <a href="/console/campaigns">← All campaigns</a>
      </p>
      <h1>
        {j.comment} <span class={`state state-${j.state}`}>{j.state}</span>
      </h1>
      <Flash message={flash} />
      {mayChange && j.state !== "deleted" ? (
        <div class="inline-actions" aria-label="Campaign actions" role="group">
          {j.state === "active" ? <Action action="pause" label="Pause" cls="secondary" /> : null}
          {j.state === "paused" ? <Action action="resume" label="Resume" /> : null}
          <details>
            <summary>Delete…</summary>
            <p>No run fires afterwards, unanswered tasks expire and queued pushes are dropped. This cannot be undone.</p>
            <Action action="delete" label="Delete this campaign" cls="danger" />
          </details>
        </div>
      ) : null}

      <dl class="stats" aria-label="Campaign summary">
        <div>
          <dt>Next run</dt>
          <dd>{j.next_run_at ? <Time iso={j.next_run_at} text={relativeTime(j.next_run_at, now)} /> : "none"}</dd>
        </div>
        <div>
          <dt>Runs so far</dt>
          <dd>{formatCount(j.times_run)}</dd>
        </div>
        <div>
          <dt>Tasks</dt>
          <dd>{formatCount(summary.total)}</dd>
        </div>
        <div>
          <dt>Done</dt>
          <dd>{formatCount(task_counts.done ?? 0)}</dd>
        </div>
      </dl>

      <div class="grid">
        <section class="panel" aria-labelledby="def-h">
          <h2 id="def-h">Definition</h2>
          <dl class="meta">
            <dt>Id</dt>
            <dd class="mono">{j.id}</dd>
            <dt>Sends</dt>
            <dd>
              {j.task ? (
                <>
                  task <strong>{j.task.test_name}</strong> with arguments <code>{JSON.stringify(j.task.arguments)}</code>
                </>
              ) : (
                <>
                  alert “{j.alert?.message}” with extra <code>{JSON.stringify(j.alert?.extra ?? {})}</code>
                </>
              )}
            </dd>
            <dt>Schedule</dt>
            <dd>
              <code>{j.schedule}</code> — {scheduleWords(j.schedule, j.creation_time)}
            </dd>
            {TARGET_FIELDS.map((k) => (
              <>
                <dt>{CAMPAIGN_LABELS[k]}</dt>
                <dd>{j.target[k].length ? j.target[k].join(", ") : "all"}</dd>
              </>
            ))}
            <dt>Spread over</dt>
            <dd>{j.delay ? `${formatCount(j.delay)} s` : "sent at once"}</dd>
            <dt>Rollout rate</dt>
            <dd>{j.rollout_per_minute ? `${formatCount(j.rollout_per_minute)} pushes/min` : "as fast as dispatch goes"}</dd>
            <dt>Starting deadline</dt>
            <dd>{formatCount(j.starting_deadline_s)} s</dd>
            <dt>Task timeout</dt>
            <dd>{formatCount(j.task_timeout_s)} s</dd>
            <dt>Created</dt>
            <dd>
              <Time iso={j.creation_time} text={utcMinute(j.creation_time)} /> by {j.created_by}
            </dd>
            <dt>Last run</dt>
            <dd>{j.last_run_at ? <Time iso={j.last_run_at} text={utcMinute(j.last_run_at)} /> : "never"}</dd>
          </dl>
        </section>
        <section class="panel" aria-labelledby="next-h">
          <h2 id="next-h">Next runs</h2>
          {upcoming_runs.length ? (
            <ol id="next-runs">
              {upcoming_runs.map((t) => (
                <li>
                  <time datetime={t}>{utcMinute(t)}</time> <span class="muted">({relativeTime(t, now)})</span>
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">{j.state === "deleted" ? "Deleted: no more runs." : "No runs left."}</p>
          )}
          {j.state === "paused" ? <p class="muted">Paused: runs due while paused are skipped; resuming computes the next run from then.</p> : null}
          <h2>Tasks by state</h2>
          <p>{summary.total ? `${formatCount(summary.total)} task${summary.total === 1 ? "" : "s"}: ${summary.text}.` : "No tasks yet."}</p>
        </section>
      </div>

      <h2 id="runs-h">Runs</h2>
      <section class="panel chart-wide" aria-labelledby="runs-h">
        <StackedColumnChart
          id="run-progress"
          title={`Tasks by state per run (latest ${RUNS_SHOWN})`}
          labelHeader="Run"
          unit={["task", "tasks"]}
          keys={[...TASK_STATES]}
          data={chronological.map((r) => ({ label: runLabel(r), values: r.tasks }))}
          format={(l) => l.split(" · ")[0]}
          empty="No runs yet."
        />
      </section>
      <DataTable
        id="runs"
        caption={`Runs, newest first (latest ${RUNS_SHOWN})`}
        rows={runs}
        empty="No runs yet."
        columns={[
          { label: "Run", header: true, cell: (r) => (r.run_no === null ? "missed" : `#${r.run_no}`) },
          { label: "Scheduled", cell: (r) => <Time iso={r.scheduled_at} text={utcMinute(r.scheduled_at)} /> },
          { label: "Fired", cell: (r) => (r.fired_at ? <Time iso={r.fired_at} text={utcMinute(r.fired_at)} /> : "—") },
          { label: "State", cell: (r) => <span class={`state state-${r.state}`}>{r.state}</span> },
          { label: "Targets", numeric: true, cell: (r) => formatCount(r.targets) },
          { label: "Missed", numeric: true, cell: (r) => (r.missed_count ? formatCount(r.missed_count) : "—") },
          { label: "Tasks", cell: (r) => taskSummary(r.tasks).text },
        ]}
      />

      {ooni}

      <h2 id="deliveries-h">Delivery log</h2>
      <DataTable
        id="deliveries"
        caption="Push notifications for this campaign, newest first"
        rows={deliveries.events}
        empty="No pushes for this campaign yet."
        columns={[
          { label: "When", header: true, cell: (e) => <Time iso={e.at} text={utcMinute(e.at)} /> },
          { label: "Outcome", cell: (e) => <span class={`state state-${e.type.slice(5)}`}>{e.type.slice(5)}</span> },
          {
            label: "Probe",
            cell: (e) => <IdLink kind="probes" id={e.probe_id} />,
          },
          { label: "Provider", cell: (e) => dash(e.data.provider) },
          { label: "Status", cell: (e) => dash(e.data.status) },
          { label: "Attempt", numeric: true, cell: (e) => dash(e.data.attempt) },
          { label: "Error", cell: (e) => dash(e.data.error ?? e.data.reason) },
        ]}
      />
      <nav class="pager" aria-label="Pages of the delivery log">
        {cursor ? <a href={`${base}#deliveries-h`}>Newest</a> : <span />}
        {deliveries.next_cursor ? (
          <a href={`${base}${queryString({ cursor: deliveries.next_cursor })}#deliveries-h`} rel="next">
            Older pushes
          </a>
        ) : null}
      </nav>
      <p>
        <a href={`/console/events${queryString({ job_id: j.id })}`}>Every event of this campaign</a>
      </p>
    </Layout>
  );
}
