/** @jsxImportSource hono/jsx */
import type { EventView } from "../../events/queries";
import { Layout, Time } from "../components/layout";
import { DataTable } from "../components/table";
import { formatCount, relativeTime, utcMinute } from "../lib/format";
import { queryString } from "../lib/forms";
import type { minionFleet } from "../minions";
import type { ConsoleSession } from "../session";

export const MINIONS_PER_PAGE = 200;

type Fleet = Awaited<ReturnType<typeof minionFleet>>;

/** The registry: fleet checksum, bucket digests, and the present minions in join order (paged in memory). */
export function MinionsPage({ session, now, fleet, page }: { session: ConsoleSession; now: Date; fleet: Fleet; page: number }) {
  const pages = Math.max(1, Math.ceil(fleet.minions.length / MINIONS_PER_PAGE));
  const p = Math.min(Math.max(1, page), pages);
  const rows = fleet.minions.slice((p - 1) * MINIONS_PER_PAGE, p * MINIONS_PER_PAGE);
  return (
    <Layout title="Minions" session={session} current="minions">
      <h1>Minions</h1>
      <dl class="stats" aria-label="Registry summary">
        <div>
          <dt>Minions present</dt>
          <dd>{formatCount(fleet.count)}</dd>
        </div>
        <div>
          <dt>Non-empty buckets</dt>
          <dd>{formatCount(fleet.buckets.length)}</dd>
        </div>
        <div>
          <dt>Fleet checksum</dt>
          <dd class="mono checksum" id="fleet-checksum">
            {fleet.checksum}
          </dd>
        </div>
      </dl>
      <p class="muted">
        The fleet checksum changes whenever any minion's status (without its <code>os</code> block) changes; controllers poll it with <code>HEAD /minions</code>
        . See docs/minions.md.
      </p>
      <DataTable
        id="minions"
        caption={`Minions in join order${pages > 1 ? `, page ${p} of ${pages}` : ""}`}
        rows={rows}
        empty="No minion is connected."
        columns={[
          {
            label: "Minion",
            header: true,
            cell: (m) => (
              <a href={`/console/minions/${m.id}`} class="mono" aria-label={`Minion ${m.id}`}>
                {m.id}
              </a>
            ),
          },
          { label: "Checksum", cell: (m) => <span class="mono">{m.checksum}</span> },
          { label: "Status changed", cell: (m) => <Time iso={m.changed_at} text={relativeTime(m.changed_at, now)} /> },
          { label: "Joined", cell: (m) => <Time iso={m.joined_at} text={utcMinute(m.joined_at)} /> },
        ]}
      />
      {pages > 1 ? (
        <nav class="pager" aria-label="Pages of minions">
          {p > 1 ? <a href={`/console/minions${queryString({ page: p > 2 ? String(p - 1) : undefined })}`}>Previous page</a> : <span />}
          {p < pages ? (
            <a href={`/console/minions${queryString({ page: String(p + 1) })}`} rel="next">
              Next page
            </a>
          ) : null}
        </nav>
      ) : null}
      {fleet.buckets.length ? (
        <details class="chart-data">
          <summary>Bucket digests ({formatCount(fleet.buckets.length)})</summary>
          <DataTable
            id="buckets"
            caption="Non-empty buckets (first two hex characters of md5(id))"
            rows={fleet.buckets}
            columns={[
              { label: "Bucket", header: true, cell: (b) => <span class="mono">{b.bucket}</span> },
              { label: "Digest", cell: (b) => <span class="mono">{b.digest}</span> },
              { label: "Minions", numeric: true, cell: (b) => formatCount(b.count) },
            ]}
          />
        </details>
      ) : null}
    </Layout>
  );
}

type MinionProps = {
  session: ConsoleSession;
  id: string;
  minion: { checksum: string; status: unknown } | null;
  events: EventView[];
};

/** One minion: its stored status JSON (as its agent's GET /status returned it) and its registry events. */
export function MinionPage({ session, id, minion, events }: MinionProps) {
  return (
    <Layout title={`Minion ${id.slice(0, 8)}`} session={session} current="minions">
      <p>
        <a href="/console/minions">← All minions</a>
      </p>
      <h1>
        Minion <span class="mono">{id}</span>
      </h1>
      {minion ? (
        <>
          <dl class="meta">
            <dt>Checksum</dt>
            <dd class="mono" id="minion-checksum">
              {minion.checksum}
            </dd>
            <dt>Device</dt>
            <dd>
              <a href={`/console/probes/${id}`}>Registration and metadata</a>
            </dd>
          </dl>
          <h2 id="status-h">Stored status</h2>
          <pre class="json" id="minion-status" role="region" aria-labelledby="status-h" tabindex={0}>
            {JSON.stringify(minion.status, null, 2)}
          </pre>
        </>
      ) : (
        <p>This minion is not connected now (it left, or never joined). Its history is below.</p>
      )}
      <DataTable
        id="minion-events"
        caption="Registry events for this minion, newest first"
        rows={events}
        empty="No registry events."
        columns={[
          { label: "When", header: true, cell: (e) => <Time iso={e.at} text={utcMinute(e.at)} /> },
          { label: "Type", cell: (e) => e.type },
          { label: "Details", cell: (e) => <code>{JSON.stringify(e.data)}</code> },
        ]}
      />
    </Layout>
  );
}
