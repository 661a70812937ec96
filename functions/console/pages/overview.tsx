/** @jsxImportSource hono/jsx */
import { BarChart, ColumnChart, LineChart, StackedColumnChart } from "../components/chart";
import { Layout } from "../components/layout";
import { Stats } from "../components/stats";
import { DataTable } from "../components/table";
import { cumulative, fillDays, pushesPerHour, seriesOutcomes, topN } from "../lib/aggregate";
import { formatCount, relativeTime } from "../lib/format";
import { queryString } from "../lib/forms";
import type { CampaignSummary, fleetOverview } from "../queries";
import { REGISTRATION_DAYS } from "../queries";
import type { ConsoleSession } from "../session";

type Props = {
  session: ConsoleSession;
  now: Date;
  fleet: Awaited<ReturnType<typeof fleetOverview>>;
  campaigns: { byState: { state: string; n: number }[]; active: CampaignSummary[] };
};

export function OverviewPage({ session, now, fleet, campaigns }: Props) {
  const t = fleet.totals ?? { total: 0, seen24h: 0, seen7d: 0, validTokens: 0, before: 0 };
  const perDay = fillDays(fleet.perDay, now, REGISTRATION_DAYS);
  const perHour = pushesPerHour(fleet.pushes, now);
  const outcomes = seriesOutcomes(perHour); // "accepted" only where it occurred (lib/aggregate.ts)
  const pushData = outcomes.map((o) => ({ label: o, value: perHour.reduce((s, h) => s + (h.values[o] ?? 0), 0) }));
  const pushTotal = pushData.reduce((s, d) => s + d.value, 0);
  const activeCount = campaigns.byState.find((r) => r.state === "active")?.n ?? 0;
  return (
    <Layout title="Overview" session={session} current="overview">
      <h1>Overview</h1>
      <Stats
        label="Fleet summary"
        items={[
          { label: "Registered probes", value: formatCount(t.total) },
          { label: "Seen in the last 24 h", value: formatCount(t.seen24h) },
          { label: "Seen in the last 7 days", value: formatCount(t.seen7d) },
          { label: "With a valid push token", value: formatCount(t.validTokens) },
        ]}
      />

      <h2>Probes</h2>
      <div class="grid">
        {(
          [
            ["by-country", "Probes by country", "Probes by country (top 12)", "Country", topN(fleet.byCountry, 12)],
            ["by-platform", "Probes by platform", "Probes by platform", "Platform", topN(fleet.byPlatform, 10)],
            ["by-network", "Probes by network type", "Probes by network type", "Network type", topN(fleet.byNetwork, 10)],
          ] as const
        ).map(([id, name, title, labelHeader, data]) => (
          <section class="panel" aria-label={name}>
            <BarChart id={id} title={title} labelHeader={labelHeader} unit={["probe", "probes"]} data={data} empty="No probes registered yet." />
          </section>
        ))}
      </div>

      <h2>Registrations</h2>
      <div class="grid">
        <section class="panel" aria-label="Registrations per day">
          <ColumnChart
            id="registrations"
            title={`Registrations per day, last ${REGISTRATION_DAYS} days (UTC)`}
            labelHeader="Day"
            unit={["registration", "registrations"]}
            data={perDay}
          />
        </section>
        <section class="panel" aria-label="Fleet size">
          <LineChart
            id="fleet-size"
            title={`Registered probes over the last ${REGISTRATION_DAYS} days`}
            labelHeader="Day"
            unit={["probe", "probes"]}
            data={cumulative(perDay, t.before)}
          />
        </section>
      </div>

      <h2>Campaigns</h2>
      {campaigns.byState.length === 0 ? (
        <p class="muted">
          No campaigns yet. <a href="/console/campaigns">Campaigns</a>
        </p>
      ) : (
        <div class="grid">
          <section class="panel" aria-label="Campaigns by state">
            <BarChart
              id="campaign-states"
              title="Campaigns by state"
              labelHeader="State"
              unit={["campaign", "campaigns"]}
              data={campaigns.byState.map((r) => ({ label: r.state, value: r.n }))}
            />
          </section>
          <section class="panel" aria-label="Active campaigns">
            <DataTable
              id="active-campaigns"
              caption={`${formatCount(activeCount)} active campaign${activeCount === 1 ? "" : "s"}, next run first`}
              rows={campaigns.active}
              empty="No active campaigns."
              columns={[
                { label: "Campaign", cell: (j) => <a href={`/console/campaigns/${j.id}`}>{j.comment}</a>, header: true },
                { label: "Kind", cell: (j) => j.kind },
                { label: "Schedule", cell: (j) => <code>{j.schedule}</code> },
                {
                  label: "Next run",
                  cell: (j) =>
                    j.next_run_at ? (
                      <time datetime={j.next_run_at} title={j.next_run_at}>
                        {relativeTime(j.next_run_at, now)}
                      </time>
                    ) : (
                      "none"
                    ),
                },
              ]}
            />
            <p>
              <a href="/console/campaigns">All campaigns</a>
            </p>
          </section>
        </div>
      )}

      <h2>Pushes in the last 24 hours</h2>
      {pushTotal === 0 ? (
        <p class="muted">No pushes in the last 24 hours.</p>
      ) : (
        <div class="grid">
          <section class="panel" aria-label="Push outcomes">
            <BarChart id="pushes" title="Push notifications by outcome, last 24 h" labelHeader="Outcome" unit={["push", "pushes"]} data={pushData} />
            <p>
              <a href={`/console/events${queryString({ type: "push.*" })}`}>See the push events</a>
            </p>
          </section>
          <section class="panel" aria-label="Pushes per hour">
            <StackedColumnChart
              id="pushes-hourly"
              title="Push notifications per hour by outcome (UTC)"
              labelHeader="Hour (UTC)"
              unit={["push", "pushes"]}
              keys={outcomes}
              data={perHour}
            />
          </section>
        </div>
      )}
    </Layout>
  );
}
