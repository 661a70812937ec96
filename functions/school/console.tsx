/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { MachineListQuery, Serial } from "../../schema/school-api";
import { type ApiClient, callApi } from "../console/api";
import { CsrfField, ErrorSummary, Field } from "../console/components/form";
import { Flash, Layout, Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { issuesByField } from "../console/lib/filters";
import { formatCount, relativeTime, utcMinute } from "../console/lib/format";
import { type FieldErrors, fieldErrors, queryString } from "../console/lib/forms";
import { type ConsoleEnv, type ConsoleSession, can } from "../console/session";
import { ApiError } from "../lib/errors";
import type { ConsolePages } from "../lib/surface";
import { machineView } from "./admin-routes";
import { currentEpoch, listMachines, machineCounts, usersWithoutMachine } from "./queries";
import { stampOf } from "./registration";
import { schoolSettings } from "./settings";

// The school surface's console page (/console/school): machines with their users, lease state and stolen flag,
// and the operator actions of the admin API. Reads go to D1 through queries.ts; every change is a call to
// /api/v1/admin/school/* in-process (callApi), so validation, roles and events are the API's.

type C = Context<ConsoleEnv>;
type Machine = ReturnType<typeof machineView>;
type Filters = { serial?: string; stolen?: string; limit?: string; cursor?: string };

/** 90 delegations of at most 8 KiB each, with line breaks (schema/school-api.ts DelegationsBody). */
const MAX_DELEGATIONS_TEXT = 90 * 8_194;

export const SCHOOL_PER_PAGE = ["25", "50", "100", "250"] as const;
const LABELS = {
  serial: "Serial",
  stolen: "Stolen",
  stolen_serial: "Serial of the stolen machine",
  limit: "Per page",
  delegations: "Delegations",
  cursor: "Page",
};

/** How a lease reads on the page: the API's `renewing` (inside the renewal window) is shown as expiring. */
const LEASE_TEXT = { valid: "valid", renewing: "expiring", expired: "expired", none: "none" } as const;

type PageProps = {
  session: ConsoleSession;
  now: Date;
  filters: Filters;
  errors?: FieldErrors;
  general?: string | null;
  flash?: string | null;
  page: { results: Machine[]; next_cursor: string | null } | null;
  counts: { machines: number; known: number; stolen: number; leased: number };
  stamp: string;
  orphans: { uid: string; nickname: string | null; registeredAt: string }[];
  /** What was typed into the report form, kept when the API refused it. */
  reported?: string;
  delegations?: { text?: string; rejected?: { line: number; reason: string }[] };
};

function LeaseCell({ m, now }: { m: Machine; now: Date }) {
  const state = LEASE_TEXT[m.lease_state];
  return (
    <>
      <span class={`state state-${state}`}>{state}</span>
      {m.lease_expires_at && !m.stolen ? (
        <>
          {" "}
          <span class="muted">
            {m.lease_state === "expired" ? "ended " : "until "}
            <Time iso={m.lease_expires_at} text={`${utcMinute(m.lease_expires_at)} (${relativeTime(m.lease_expires_at, now)})`} />
          </span>
          <br />
          <span class="muted">{m.lease_delegated ? "delegated (chain to the master key)" : "server key"}</span>
        </>
      ) : null}
    </>
  );
}

function MachineAction({ session, m }: { session: ConsoleSession; m: Machine }) {
  return m.stolen ? (
    <form method="post" action="/console/school/stolen/clear">
      <CsrfField token={session.csrf} />
      <input type="hidden" name="serial" value={m.serial} />
      <button type="submit" class="secondary" aria-label={`Clear stolen ${m.serial}`}>
        Clear stolen
      </button>
    </form>
  ) : (
    <form method="post" action="/console/school/stolen">
      <CsrfField token={session.csrf} />
      <input type="hidden" name="serial" value={m.serial} />
      <button type="submit" class="danger" aria-label={`Mark ${m.serial} stolen`}>
        Mark stolen
      </button>
    </form>
  );
}

export function SchoolPage(p: PageProps) {
  const { session, now, filters, errors, page } = p;
  const mayChange = can(session, "operator");
  const { cursor: _c, ...keep } = filters;
  return (
    <Layout title="School" session={session} current="school">
      <h1>School server</h1>
      <Flash message={p.flash} />
      <ErrorSummary errors={errors} labels={LABELS} general={p.general} />
      <dl class="stats" aria-label="School summary">
        <div>
          <dt>Machines</dt>
          <dd>{formatCount(p.counts.machines)}</dd>
        </div>
        <div>
          <dt>Known</dt>
          <dd>{formatCount(p.counts.known)}</dd>
        </div>
        <div>
          <dt>With an unexpired lease</dt>
          <dd>{formatCount(p.counts.leased)}</dd>
        </div>
        <div>
          <dt>Stolen</dt>
          <dd>{formatCount(p.counts.stolen)}</dd>
        </div>
        <div>
          <dt>Registration stamp</dt>
          <dd class="mono checksum" id="school-stamp">
            {p.stamp}
          </dd>
        </div>
      </dl>
      <p class="muted">
        A machine is known once a user registered with its serial or an operator imported it; only known machines get leases. See docs/school.md.
      </p>
      <div class="inline-actions">
        <a class="button secondary" href="/console/school/bundle" download="school-bundle.json">
          Download the offline bundle (JSON)
        </a>
        <a class="button secondary" href="/console/school/bundle?format=text" download="lease.sig">
          Download lease.sig (text)
        </a>
        {mayChange ? (
          <details>
            <summary>Ask every client to re-register…</summary>
            <p>The registration stamp changes; every Sugar client that polls its status registers again and picks up the current settings.</p>
            <form method="post" action="/console/school/stamp">
              <CsrfField token={session.csrf} />
              <button type="submit">Ask every client to re-register</button>
            </form>
          </details>
        ) : null}
      </div>

      <search aria-label="Filter machines">
        <form method="get" action="/console/school" class="filters">
          <Field markOptional={false} name="serial" label={LABELS.serial} value={filters.serial} errors={errors} hint="a serial or its beginning" size="s" />
          <Field
            markOptional={false}
            name="stolen"
            label={LABELS.stolen}
            value={filters.stolen ?? ""}
            errors={errors}
            options={[
              { value: "", label: "any" },
              { value: "true", label: "stolen" },
              { value: "false", label: "not stolen" },
            ]}
          />
          <Field
            markOptional={false}
            name="limit"
            label={LABELS.limit}
            value={filters.limit ?? "50"}
            errors={errors}
            options={SCHOOL_PER_PAGE.map((v) => ({ value: v, label: v }))}
          />
          <div class="actions">
            <button type="submit">Filter</button>
            <a class="button secondary" href="/console/school">
              Clear
            </a>
          </div>
        </form>
      </search>

      {page ? (
        <>
          <DataTable
            id="machines"
            caption={`Machines by serial${filters.serial ? `, serials starting with ${filters.serial.toUpperCase()}` : ""}`}
            rows={page.results}
            empty="No machine matches."
            columns={[
              { label: "Serial", header: true, cell: (m) => <span class="mono">{m.serial}</span> },
              {
                label: "User",
                cell: (m) =>
                  m.user ? (
                    <>
                      {m.user.nickname ?? <span class="muted">no nickname</span>}
                      <br />
                      <span class="mono muted" title={m.user.uid}>
                        {m.user.uid}
                      </span>
                    </>
                  ) : (
                    <span class="muted">{m.known ? "imported, no user" : "unknown machine"}</span>
                  ),
              },
              { label: "Lease", cell: (m) => <LeaseCell m={m} now={now} /> },
              {
                label: "Stolen",
                cell: (m) =>
                  m.stolen ? (
                    <span class="state state-stolen">stolen{m.stolen_at ? ` since ${utcMinute(m.stolen_at)}` : ""}</span>
                  ) : (
                    <span class="muted">no</span>
                  ),
              },
              { label: "Last seen", cell: (m) => <Time iso={m.last_seen_at} text={m.last_seen_at ? relativeTime(m.last_seen_at, now) : ""} /> },
              ...(mayChange ? [{ label: "Actions", cell: (m: Machine) => <MachineAction session={session} m={m} /> }] : []),
            ]}
          />
          <nav class="pager" aria-label="Pages of machines">
            {filters.cursor ? <a href={`/console/school${queryString(keep)}`}>First page</a> : <span />}
            {page.next_cursor ? (
              <a href={`/console/school${queryString({ ...keep, cursor: page.next_cursor })}`} rel="next">
                Next page
              </a>
            ) : null}
          </nav>
        </>
      ) : null}

      {p.orphans.length ? (
        <DataTable
          id="users-without-machine"
          caption="Registered users without a machine serial (newest first)"
          rows={p.orphans}
          columns={[
            { label: "User", header: true, cell: (u) => <span class="mono">{u.uid}</span> },
            { label: "Nickname", cell: (u) => u.nickname ?? "—" },
            { label: "Registered", cell: (u) => <Time iso={u.registeredAt} text={utcMinute(u.registeredAt)} /> },
          ]}
        />
      ) : null}

      {mayChange ? (
        <div class="grid">
          <section class="panel" aria-labelledby="stolen-h">
            <h2 id="stolen-h">Report a machine stolen</h2>
            <p class="muted">Activation answers STOLEN from now on; its lease is dropped and never renewed. Works for machines never seen yet.</p>
            <form method="post" action="/console/school/stolen" class="stack" aria-labelledby="stolen-h" novalidate>
              <CsrfField token={session.csrf} />
              <Field
                name="stolen_serial"
                label={LABELS.stolen_serial}
                value={p.reported}
                errors={errors}
                required
                size="s"
                hint="11 letters and digits, e.g. SHC005007B7"
              />
              <div class="actions">
                <button type="submit" class="danger">
                  Mark stolen
                </button>
              </div>
            </form>
          </section>
          <section class="panel" aria-labelledby="delegations-h">
            <h2 id="delegations-h">Import delegations</h2>
            <p class="muted">
              Delegations signed by the master key for this server's signing key, one per line (at most 90 at once). Invalid ones are listed with the reason and
              not stored.
            </p>
            {p.delegations?.rejected?.length ? (
              <div class="error-summary" role="alert" id="delegations-rejected">
                <h3>Not imported</h3>
                <ul>
                  {p.delegations.rejected.map((r) => (
                    <li>
                      Pasted line {r.line}: {r.reason}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
            <form method="post" action="/console/school/delegations" class="stack" aria-labelledby="delegations-h" novalidate>
              <CsrfField token={session.csrf} />
              <Field name="delegations" label={LABELS.delegations} value={p.delegations?.text} errors={errors} required rows={6} />
              <div class="actions">
                <button type="submit">Import delegations</button>
              </div>
            </form>
          </section>
        </div>
      ) : null}
    </Layout>
  );
}

async function render(c: C, node: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

const str = (v: unknown) => (typeof v === "string" ? v.slice(0, 1024) : undefined);

const DONE: Record<string, (serial: string | null) => string> = {
  stolen: (s) => `${s} marked stolen: activation answers STOLEN and its lease is dropped.`,
  cleared: (s) => `${s} is no longer stolen; it gets a lease again at its next activation or the next renewal run.`,
  stamp: () => "The registration stamp changed: every client will re-register.",
};

/** The page, with the filters in `filters` and whatever a failed or finished action adds. */
async function schoolPage(c: C, filters: Filters, extra: Partial<PageProps> = {}, status: ContentfulStatusCode = 200) {
  const { db, clock } = c.var.services;
  const now = clock.now();
  const s = schoolSettings(c.env);
  const q = MachineListQuery.safeParse({
    limit: filters.limit || "50",
    cursor: filters.cursor || undefined,
    serial: filters.serial || undefined,
    stolen: filters.stolen || undefined,
  });
  let errors = extra.errors;
  let page: PageProps["page"] = null;
  if (!q.success) {
    errors = { ...issuesByField(q.error), ...errors };
    status = 400;
  } else if (!SCHOOL_PER_PAGE.includes(String(q.data.limit) as (typeof SCHOOL_PER_PAGE)[number])) {
    errors = { limit: ["choose one of the listed page sizes"], ...errors };
    status = 400;
  } else {
    const list = await listMachines(db, q.data);
    page = { results: list.results.map((m) => machineView(m, now, s.leaseRenewBeforeS)), next_cursor: list.nextCursor };
  }
  const [counts, epoch, orphans] = await Promise.all([machineCounts(db, now.toISOString()), currentEpoch(db), usersWithoutMachine(db, 50)]);
  return render(
    c,
    <SchoolPage
      session={c.var.session}
      now={now}
      filters={filters}
      page={page}
      counts={{ machines: Number(counts.machines), known: Number(counts.known), stolen: Number(counts.stolen), leased: Number(counts.leased) }}
      stamp={stampOf(epoch, s)}
      orphans={orphans}
      {...extra}
      errors={errors}
    />,
    status,
  );
}

/** The API refused: its 400 details land next to the form's fields; anything else is the console's error page. */
function refused(reply: { status: number; code: string; error: string }): never {
  throw new ApiError(reply.code as never, reply.error);
}

export const schoolConsole: ConsolePages = (r, api: ApiClient) => {
  r.get("/console/school", async (c) => {
    const query = c.req.query();
    const filters: Filters = { serial: str(query.serial), stolen: str(query.stolen), limit: str(query.limit), cursor: str(query.cursor) };
    const done = str(query.done);
    const serial = Serial.safeParse(query.subject ?? "");
    const flash = done && DONE[done] && (done === "stamp" || serial.success) ? DONE[done](serial.success ? serial.data : null) : null;
    return schoolPage(c, filters, { flash });
  });

  /**
   * The offline bundle, downloaded with the session: the API reads no cookies (only Authorization), so the console
   * asks the API with the session's token and hands the file over as an attachment.
   */
  r.get("/console/school/bundle", async (c) => {
    const format = c.req.query("format") === "text" ? "text" : "json";
    const res = await api.request(
      `/api/v1/admin/school/bundle?format=${format}`,
      { method: "GET", headers: { authorization: `Bearer ${c.var.session.token}`, "x-request-id": c.var.requestId } },
      c.env,
    );
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as { error?: string; code?: string } | null;
      throw new ApiError((body?.code ?? "internal") as never, body?.error ?? `the API answered ${res.status}`);
    }
    const stamp = c.var.services.clock.now().toISOString().slice(0, 10);
    const name = format === "text" ? "lease.sig" : `school-bundle-${stamp}.json`;
    return new Response(res.body, {
      status: 200,
      headers: {
        "content-type": res.headers.get("content-type") ?? "application/octet-stream",
        "content-disposition": `attachment; filename="${name}"`,
        "cache-control": "no-store",
      },
    });
  });

  r.post("/console/school/stolen", async (c) => {
    // A machine's row posts `serial`; the report form, whose field must not share the filter's id, `stolen_serial`.
    const body = await c.req.parseBody();
    const serial = str(body.serial) ?? str(body.stolen_serial) ?? "";
    const reply = await callApi<{ serial: string }>(c, api, "POST", "/api/v1/admin/school/stolen", { json: { serial } });
    if (reply.ok) return c.redirect(`/console/school${queryString({ done: "stolen", subject: reply.body.serial, serial: reply.body.serial })}`, 303);
    if (reply.status === 400) {
      const errors = Object.fromEntries(Object.entries(fieldErrors(reply.details, ["serial"])).map(([k, v]) => [k === "serial" ? "stolen_serial" : k, v]));
      return schoolPage(c, {}, { errors, general: reply.details ? null : reply.error, reported: serial }, 400);
    }
    return refused(reply);
  });

  r.post("/console/school/stolen/clear", async (c) => {
    const serial = Serial.safeParse(str((await c.req.parseBody()).serial) ?? "");
    if (!serial.success) throw new ApiError("bad_request", "That is not a machine serial.");
    const reply = await callApi<{ serial: string }>(c, api, "DELETE", `/api/v1/admin/school/stolen/${serial.data}`);
    if (reply.ok) return c.redirect(`/console/school${queryString({ done: "cleared", subject: serial.data, serial: serial.data })}`, 303);
    return refused(reply);
  });

  r.post("/console/school/stamp", async (c) => {
    const reply = await callApi<{ stamp: string }>(c, api, "POST", "/api/v1/admin/school/stamp");
    if (reply.ok) return c.redirect("/console/school?done=stamp", 303);
    return refused(reply);
  });

  r.post("/console/school/delegations", async (c) => {
    const raw = (await c.req.parseBody()).delegations;
    const text = typeof raw === "string" ? raw : "";
    const again = (status: ContentfulStatusCode, extra: Partial<PageProps>) =>
      schoolPage(c, {}, { ...extra, delegations: { text, ...extra.delegations } }, status);
    if (text.length > MAX_DELEGATIONS_TEXT) return again(413, { errors: { delegations: ["too much text: import at most 90 delegations at once"] } });
    // One delegation per line; the API numbers the non-empty ones, the page speaks of the pasted lines.
    const lines = text.split(/\r?\n/).flatMap((l, i) => (l.trim() ? [{ line: i + 1, token: l.trim() }] : []));
    if (lines.length === 0) return again(400, { errors: { delegations: ["paste at least one delegation"] } });
    const reply = await callApi<{ imported: number; rejected: { index: number; reason: string }[] }>(c, api, "POST", "/api/v1/admin/school/delegations", {
      json: { delegations: lines.map((l) => l.token) },
    });
    if (reply.ok) {
      const { imported, rejected } = reply.body;
      const flash = `Imported ${formatCount(imported)} delegation${imported === 1 ? "" : "s"}${rejected.length ? `; ${formatCount(rejected.length)} refused` : ""}.`;
      const asLines = rejected.map((r) => ({ line: lines[r.index]?.line ?? r.index + 1, reason: r.reason }));
      // Only the refused lines stay in the box, to fix or drop.
      const keepText = rejected.map((r) => lines[r.index]?.token ?? "").join("\n");
      return schoolPage(c, {}, { flash, delegations: { text: keepText, rejected: asLines } }, 200);
    }
    if (reply.status === 400 || reply.status === 413) {
      const errors = fieldErrors(reply.details, ["delegations"]);
      return again(reply.status, { errors: Object.keys(errors).length ? errors : { delegations: [reply.error] } });
    }
    return refused(reply);
  });
};
