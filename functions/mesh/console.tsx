/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { GroupSnapshot } from "../../durable-objects/mesh-group";
import { Layout, Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { formatCount, relativeTime, utcMinute } from "../console/lib/format";
import type { ConsoleEnv, ConsoleSession } from "../console/session";
import { ApiError } from "../lib/errors";
import type { ConsolePages } from "../lib/surface";
import { GROUP_NAME_RE } from "./ca-store";
import { type GroupSummary, groupByName, groupSummaries } from "./ca-queries";
import { groupStub } from "./group-routes";

/** Groups per page of /console/mesh. */
export const MESH_GROUPS_PER_PAGE = 100;

type Member = GroupSnapshot["members"][number];

function state(m: Member): string {
  if (m.revoked) return "revoked";
  if (m.live) return m.accusations.length ? "live, accused" : "live";
  return m.note ? "removed" : "not yet live";
}

/** The mesh groups (from D1): ring and boot-node counts, enrolled and revoked members; each links to its page. */
export function MeshGroupsPage({ session, groups, next }: { session: ConsoleSession; groups: GroupSummary[]; next: string | null }) {
  return (
    <Layout title="Mesh groups" session={session} current="mesh">
      <h1>Mesh groups</h1>
      <DataTable
        id="mesh-groups"
        caption="Groups"
        rows={groups}
        empty="No mesh group yet: an operator creates one with POST /api/v1/admin/mesh/groups."
        columns={[
          { label: "Group", header: true, cell: (g) => <a href={`/console/mesh/${g.name}`}>{g.name}</a> },
          { label: "Members", numeric: true, cell: (g) => formatCount(g.members - g.revoked) },
          { label: "Revoked", numeric: true, cell: (g) => formatCount(g.revoked) },
          { label: "Rings", numeric: true, cell: (g) => String(g.numRings) },
          { label: "Boot nodes", numeric: true, cell: (g) => String(g.bootNodes) },
          { label: "Enrolment", cell: (g) => (g.closed ? "closed (token)" : "open") },
          { label: "Created", cell: (g) => <Time iso={g.createdAt} text={utcMinute(g.createdAt)} /> },
        ]}
      />
      {next ? (
        <p>
          <a href={`/console/mesh?after=${encodeURIComponent(next)}`} rel="next">
            Next groups
          </a>
        </p>
      ) : null}
    </Layout>
  );
}

/** One mesh group: its members (live, accused, removed, revoked), their certificates' expiry, recent accusations. */
export function MeshGroupPage({ session, now, group, snap }: { session: ConsoleSession; now: Date; group: string; snap: GroupSnapshot }) {
  const live = snap.members.filter((m) => m.live).length;
  return (
    <Layout title={`Mesh group ${group}`} session={session} current="mesh">
      <p>
        <a href="/console/mesh">Mesh groups</a>
      </p>
      <h1>
        Mesh group <span class="mono">{group}</span>
      </h1>
      <dl class="stats" aria-label="Group summary">
        <div>
          <dt>Live members</dt>
          <dd id="mesh-live">{formatCount(live)}</dd>
        </div>
        <div>
          <dt>Certificates (full view)</dt>
          <dd>{formatCount(snap.members.length)}</dd>
        </div>
        <div>
          <dt>Rings</dt>
          <dd>{snap.numRings}</dd>
        </div>
      </dl>
      <DataTable
        id="mesh-members"
        caption="Members"
        rows={[...snap.members].sort((a, b) => Number(b.live) - Number(a.live) || a.id.localeCompare(b.id))}
        empty="No member has enrolled in this group."
        columns={[
          {
            label: "Member",
            header: true,
            cell: (m) => (
              <span class="mono" title={m.id}>
                {m.id.slice(0, 16)}…
              </span>
            ),
          },
          { label: "State", cell: (m) => state(m) },
          { label: "Connected", cell: (m) => (m.connected ? "yes" : "no") },
          { label: "RPC address", cell: (m) => <span class="mono">{m.rpcAddr}</span> },
          { label: "Note epoch", numeric: true, cell: (m) => (m.note ? String(m.note.epoch) : "–") },
          { label: "Certificate expires", cell: (m) => <Time iso={m.notAfter} text={relativeTime(m.notAfter, now)} /> },
          { label: "Removal due", cell: (m) => (m.removalAt ? <Time iso={m.removalAt} text={relativeTime(m.removalAt, now)} /> : "–") },
          { label: "Boot node", cell: (m) => (m.trusted ? "yes" : "no") },
        ]}
      />
      <DataTable
        id="mesh-accusations"
        caption="Recent accusations (newest first)"
        rows={snap.recentAccusations}
        empty="No accusation yet."
        columns={[
          { label: "When", header: true, cell: (a) => <Time iso={a.at} text={utcMinute(a.at)} /> },
          { label: "Accused", cell: (a) => <span class="mono">{a.accused.slice(0, 16)}…</span> },
          { label: "Accuser", cell: (a) => (a.accuser ? <span class="mono">{a.accuser.slice(0, 16)}…</span> : "–") },
          { label: "Ring", numeric: true, cell: (a) => (a.ring ? String(a.ring) : "–") },
          { label: "Epoch", numeric: true, cell: (a) => String(a.epoch) },
          { label: "Outcome", cell: (a) => a.outcome },
        ]}
      />
      <p class="muted">The group's Durable Object relays every ping, message and gossip of its members; see docs/mesh.md.</p>
    </Layout>
  );
}

type C = Context<ConsoleEnv>;

async function render(c: C, node: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

/** /console/mesh (groups, from D1) and /console/mesh/:group (the group object's snapshot). Every role may read. */
export const meshConsole: ConsolePages = (r) => {
  r.get("/console/mesh", async (c) => {
    const after = c.req.query("after") ?? "";
    if (after !== "" && !GROUP_NAME_RE.test(after)) throw new ApiError("bad_request", "after must be a group name");
    const rows = await groupSummaries(c.var.services.db, { after, limit: MESH_GROUPS_PER_PAGE + 1 });
    const page = rows.slice(0, MESH_GROUPS_PER_PAGE);
    const next = rows.length > MESH_GROUPS_PER_PAGE ? page[page.length - 1].name : null;
    return render(c, <MeshGroupsPage session={c.var.session} groups={page} next={next} />);
  });

  r.get("/console/mesh/:group", async (c) => {
    const name = c.req.param("group");
    const group = GROUP_NAME_RE.test(name) ? await groupByName(c.var.services.db, name) : undefined;
    if (!group) throw new ApiError("not_found", "There is no mesh group with that name.");
    const snap = await groupStub(c.env, group.name).snapshot();
    return render(c, <MeshGroupPage session={c.var.session} now={c.var.services.clock.now()} group={group.name} snap={snap} />);
  });
};
