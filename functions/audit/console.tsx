/** @jsxImportSource hono/jsx */
import type { AuditVerification } from "../../schema/audit-api";
import type { z } from "@hono/zod-openapi";
import { callApi } from "../console/api";
import { Layout, Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { utcMinute } from "../console/lib/format";
import { render } from "../console/routes/shared";
import { type ConsoleSession, can } from "../console/session";
import { ApiError } from "../lib/errors";
import type { ConsolePages } from "../lib/surface";
import type { ChainRow } from "./chain";
import { latestAudit } from "./queries";

export const AUDIT_PAGE_SIZE = 50;
type Verification = z.infer<typeof AuditVerification>;

type Props = { session: ConsoleSession; rows: ChainRow[]; check: Verification; before: number | null };

/** The chain's state as one banner: verified up to seq N, or the first entry that breaks it. */
function ChainBanner({ check }: { check: Verification }) {
  if (!check.ok && check.problem)
    return (
      <div class="error-summary" role="alert" id="chain-status">
        Chain broken at seq {check.problem.seq}: {check.problem.reason}. Verified up to seq {check.verified_seq}; nothing after it is trusted.
      </div>
    );
  return (
    <div class="flash" role="status" id="chain-status">
      Chain verified up to seq {check.verified_seq}
      {check.pending ? ` (${check.pending} newer entr${check.pending === 1 ? "y" : "ies"} not yet sealed)` : ""}. Head hash <code>{check.verified_hash}</code>.
    </div>
  );
}

/** The newest audit entries first, a page at a time, under the chain's verification. */
export function AuditPageView({ session, rows, check, before }: Props) {
  const oldest = rows.length === AUDIT_PAGE_SIZE ? rows[rows.length - 1].seq : null;
  return (
    <Layout title="Audit log" session={session} current="audit">
      <h1>Audit log</h1>
      <ChainBanner check={check} />
      <p>
        Operator actions, logins, leases and certificates, hash-chained (docs/audit.md). Export it with <code>GET /api/v1/admin/audit</code> and check a copy
        with <code>npm run audit:verify</code>.
      </p>
      <DataTable
        id="audit"
        caption={before === null ? "Newest entries first" : `Entries before seq ${before}, newest first`}
        rows={rows}
        empty="No audit entries yet."
        columns={[
          { label: "Seq", header: true, numeric: true, cell: (r) => String(r.seq) },
          { label: "When", cell: (r) => <Time iso={r.at} text={utcMinute(r.at)} /> },
          { label: "Actor", cell: (r) => r.actor },
          { label: "Action", cell: (r) => r.action },
          { label: "Subject", cell: (r) => (r.subject_id ? `${r.subject_kind} ${r.subject_id}` : r.subject_kind) },
          { label: "Details", cell: (r) => <code>{r.data}</code> },
          { label: "Hash", cell: (r) => (r.hash ? <code title={r.hash}>{r.hash.slice(0, 12)}</code> : "unsealed") },
        ]}
      />
      <nav aria-label="Audit pages" class="pager">
        {before !== null ? <a href="/console/audit">Newest</a> : null}{" "}
        {oldest !== null && oldest > 1 ? <a href={`/console/audit?before=${oldest}`}>Older</a> : null}
      </nav>
    </Layout>
  );
}

/** /console/audit (admins): entries from the database, the banner from `GET /api/v1/admin/audit/verify` in-process. */
export const auditConsole: ConsolePages = (r, api) => {
  r.get("/console/audit", async (c) => {
    if (!can(c.var.session, "admin")) throw new ApiError("forbidden", "The audit log is for admins.");
    const raw = c.req.query("before");
    const before = raw === undefined ? null : Number(raw);
    if (before !== null && (!Number.isSafeInteger(before) || before < 1)) throw new ApiError("not_found", "That page of the audit log does not exist.");
    const check = await callApi<Verification>(c, api, "GET", "/api/v1/admin/audit/verify");
    if (!check.ok) throw new ApiError(check.code as never, check.error);
    const rows = await latestAudit(c.var.services.db, before, AUDIT_PAGE_SIZE);
    return render(c, <AuditPageView session={c.var.session} rows={rows} check={check.body} before={before} />);
  });
};
