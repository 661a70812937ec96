/** @jsxImportSource hono/jsx */
import type { ProbeRow } from "../../../schema/probes";
import type { EventView } from "../../events/queries";
import { Layout, Time } from "../components/layout";
import { DataTable } from "../components/table";
import { relativeTime, shortId, utcMinute } from "../lib/format";
import type { ProbeTask } from "../queries";
import type { ConsoleSession } from "../session";

type Update = { at: string; update_type: string; changed: string[]; snapshot: Record<string, unknown> };

type Props = {
  session: ConsoleSession;
  now: Date;
  probe: ProbeRow;
  updates: Update[];
  tasks: ProbeTask[];
  events: EventView[];
};

const fmt = (v: unknown) => (v === null || v === undefined || v === "" ? "—" : Array.isArray(v) ? v.join(", ") : String(v));

export function ProbePage({ session, now, probe: p, updates, tasks, events }: Props) {
  const tests = JSON.parse(p.supportedTests) as string[];
  return (
    <Layout title={`Probe ${shortId(p.id)}`} session={session} current="probes">
      <p>
        <a href="/console/probes">← All probes</a>
      </p>
      <h1>
        Probe <span class="mono">{p.id}</span>
      </h1>
      <section class="panel" aria-labelledby="meta-h">
        <h2 id="meta-h">Metadata</h2>
        <dl class="meta">
          <dt>Country</dt>
          <dd>{p.probeCc}</dd>
          <dt>ASN</dt>
          <dd>{p.probeAsn}</dd>
          <dt>Platform</dt>
          <dd>{p.platform}</dd>
          <dt>Software</dt>
          <dd>
            {p.softwareName} {p.softwareVersion}
          </dd>
          <dt>Network type</dt>
          <dd>{fmt(p.networkType)}</dd>
          <dt>Bandwidth</dt>
          <dd>{fmt(p.availableBandwidth)}</dd>
          <dt>Language</dt>
          <dd>{fmt(p.language)}</dd>
          <dt>Probe family / id</dt>
          <dd>
            {fmt(p.probeFamily)} / {fmt(p.probeId)}
          </dd>
          <dt>Supported tests</dt>
          <dd>{tests.length ? tests.join(", ") : "—"}</dd>
          <dt>Push token</dt>
          <dd>
            <span class={`state state-${p.pushTokenState}`}>{p.pushTokenState}</span>
            {p.pushTokenUpdatedAt ? <> since {utcMinute(p.pushTokenUpdatedAt)}</> : null}
          </dd>
          <dt>Login</dt>
          <dd>{p.passwordHash ? "with a secret" : "none (anonymous registration)"}</dd>
          <dt>Registered</dt>
          <dd>
            <Time iso={p.createdAt} text={utcMinute(p.createdAt)} />
          </dd>
          <dt>Metadata changed</dt>
          <dd>
            <Time iso={p.updatedAt} text={relativeTime(p.updatedAt, now)} />
          </dd>
          <dt>Last seen</dt>
          <dd>
            <Time iso={p.lastSeenAt} text={relativeTime(p.lastSeenAt, now)} />
          </dd>
        </dl>
      </section>

      <h2 id="tasks-h">Tasks</h2>
      <DataTable
        id="tasks"
        caption="Latest tasks handed to this probe"
        rows={tasks}
        empty="No tasks for this probe yet."
        columns={[
          {
            label: "Task",
            header: true,
            cell: (t) => (
              <span class="mono" title={t.id}>
                {shortId(t.id)}
              </span>
            ),
          },
          {
            label: "Campaign",
            cell: (t) => (
              <a href={`/console/campaigns/${t.job_id}`} title={t.job_id}>
                {t.comment ?? shortId(t.job_id)}
              </a>
            ),
          },
          { label: "Test", cell: (t) => t.test_name },
          { label: "State", cell: (t) => <span class={`state state-${t.state}`}>{t.state}</span> },
          { label: "Created", cell: (t) => <Time iso={t.created_at} text={relativeTime(t.created_at, now)} /> },
          { label: "Updated", cell: (t) => <Time iso={t.updated_at} text={relativeTime(t.updated_at, now)} /> },
        ]}
      />

      <h2>Metadata history</h2>
      <DataTable
        id="history"
        caption="Registration and every change, newest first"
        rows={updates}
        columns={[
          { label: "When", header: true, cell: (u) => <Time iso={u.at} text={utcMinute(u.at)} /> },
          { label: "Kind", cell: (u) => u.update_type },
          { label: "Changed", cell: (u) => (u.update_type === "register" ? "—" : u.changed.join(", ") || "nothing") },
          {
            label: "Metadata after",
            cell: (u) => (
              <code>
                {Object.entries(u.snapshot)
                  .map(([k, v]) => `${k}=${fmt(v)}`)
                  .join(" · ")}
              </code>
            ),
          },
        ]}
      />

      <h2>Events</h2>
      <DataTable
        id="probe-events"
        caption="Latest events about this probe"
        rows={events}
        empty="No events."
        columns={[
          { label: "When", header: true, cell: (e) => <Time iso={e.at} text={utcMinute(e.at)} /> },
          { label: "Type", cell: (e) => e.type },
          { label: "Actor", cell: (e) => e.actor },
          { label: "Details", cell: (e) => <code>{JSON.stringify(e.data)}</code> },
        ]}
      />
      <p>
        <a href={`/console/events?probe_id=${p.id}`}>All events of this probe</a>
      </p>
    </Layout>
  );
}
