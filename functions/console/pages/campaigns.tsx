/** @jsxImportSource hono/jsx */
import type { CampaignListRow } from "../../campaigns/queries";
import { CAMPAIGN_LIST_LIMIT } from "../../campaigns/queries";
import { Flash, Layout, Time } from "../components/layout";
import { DataTable } from "../components/table";
import { taskSummary } from "../lib/campaign-form";
import { formatCount, relativeTime, utcMinute } from "../lib/format";
import { type ConsoleSession, can } from "../session";

type Props = { session: ConsoleSession; now: Date; rows: CampaignListRow[]; flash?: string | null };

/** What a campaign sends, in a few words: "task web_connectivity" or "alert". */
export const whatItSends = (j: CampaignListRow | { task: { test_name: string } | null; alert: unknown }) => (j.task ? `task: ${j.task.test_name}` : "alert");

const SECTIONS = [
  { key: "active", title: "Active", states: ["active"], empty: "No active campaigns." },
  { key: "paused", title: "Paused", states: ["paused"], empty: "No paused campaigns." },
  { key: "finished", title: "Finished", states: ["done", "deleted"], empty: "No finished campaigns." },
] as const;

/** Campaigns by state: active and paused with their next run first, finished (done or deleted) newest first. */
export function CampaignsPage({ session, now, rows, flash }: Props) {
  const byNext = (a: CampaignListRow, b: CampaignListRow) => (a.next_run_at ?? "~").localeCompare(b.next_run_at ?? "~");
  return (
    <Layout title="Campaigns" session={session} current="campaigns">
      <h1>Campaigns</h1>
      <Flash message={flash} />
      {can(session, "operator") ? (
        <p>
          <a class="button" href="/console/campaigns/new">
            New campaign
          </a>
        </p>
      ) : (
        <p class="muted">You can look at campaigns; creating and changing them needs the operator role.</p>
      )}
      {rows.length >= CAMPAIGN_LIST_LIMIT ? <p class="muted">Showing the {CAMPAIGN_LIST_LIMIT} newest campaigns.</p> : null}
      {SECTIONS.map((s) => {
        const list = rows.filter((r) => (s.states as readonly string[]).includes(r.state));
        if (s.key !== "finished") list.sort(byNext);
        return (
          <section aria-labelledby={`${s.key}-h`}>
            <h2 id={`${s.key}-h`}>
              {s.title} <span class="muted">({formatCount(list.length)})</span>
            </h2>
            <DataTable
              id={`campaigns-${s.key}`}
              caption={`${s.title} campaigns`}
              rows={list}
              empty={s.empty}
              columns={[
                {
                  label: "Campaign",
                  header: true,
                  cell: (j) => (
                    <a href={`/console/campaigns/${j.id}`} title={j.id}>
                      {j.comment}
                    </a>
                  ),
                },
                { label: "Sends", cell: (j) => whatItSends(j) },
                { label: "Schedule", cell: (j) => <code>{j.schedule}</code> },
                ...(s.key === "finished"
                  ? [{ label: "State", cell: (j: CampaignListRow) => <span class={`state state-${j.state}`}>{j.state}</span> }]
                  : [
                      {
                        label: "Next run",
                        cell: (j: CampaignListRow) =>
                          j.next_run_at ? (
                            <time datetime={j.next_run_at} title={utcMinute(j.next_run_at)}>
                              {relativeTime(j.next_run_at, now)}
                            </time>
                          ) : (
                            "none"
                          ),
                      },
                    ]),
                { label: "Runs so far", numeric: true, cell: (j) => formatCount(j.times_run) },
                {
                  label: "Tasks",
                  cell: (j) => {
                    const t = taskSummary(j.task_counts);
                    return t.total ? `${formatCount(t.total)}: ${t.text}` : t.text;
                  },
                },
                { label: "Created", cell: (j) => <Time iso={j.creation_time} text={`${utcMinute(j.creation_time)} by ${j.created_by}`} /> },
              ]}
            />
          </section>
        );
      })}
    </Layout>
  );
}
