/** @jsxImportSource hono/jsx */
import { Layout, Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { formatCount, relativeTime, utcMinute } from "../console/lib/format";
import type { ConsoleSession } from "../console/session";
import type { GroupSnapshot } from "../../durable-objects/mesh-group";

type Member = GroupSnapshot["members"][number];

function state(m: Member): string {
  if (m.revoked) return "revoked";
  if (m.live) return m.accusations.length ? "live, accused" : "live";
  return m.note ? "removed" : "not yet live";
}

/** One mesh group: its members (live, accused, removed, revoked), their certificates' expiry, recent accusations. */
export function MeshGroupPage({ session, now, group, snap }: { session: ConsoleSession; now: Date; group: string; snap: GroupSnapshot }) {
  const live = snap.members.filter((m) => m.live).length;
  return (
    <Layout title={`Mesh group ${group}`} session={session} current="mesh">
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
