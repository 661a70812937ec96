/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { TestListCountryParam } from "../../schema/ooni-api";
import { callApi } from "../console/api";
import { CsrfField, ErrorSummary, Field, fieldId } from "../console/components/form";
import { Flash, Layout, Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { formatCount, utcMinute } from "../console/lib/format";
import { type FieldErrors, queryString } from "../console/lib/forms";
import { type ConsoleEnv, type ConsoleSession, can } from "../console/session";
import { ApiError } from "../lib/errors";
import type { ConsolePages } from "../lib/surface";
import type { RunReach } from "./campaign-reach";
import { listOverview, listPage } from "./queries";
import { GLOBAL_CC } from "./url-selection";

type Row = RunReach["measurements"][number] & { run: string };

/**
 * The campaign page's OONI section: check-ins that joined each run and the measurements the run produced
 * (measurement_uid links to OONI Explorer, where the upstream published them).
 */
export function CampaignMeasurements({ runs, reach }: { runs: { id: string; run_no: number | null }[]; reach: Map<string, RunReach> }) {
  const rows: Row[] = runs.flatMap((r) => (reach.get(r.id)?.measurements ?? []).map((m) => ({ ...m, run: r.run_no === null ? "missed" : `#${r.run_no}` })));
  const checkins = runs.reduce((n, r) => n + (reach.get(r.id)?.checkins ?? 0), 0);
  return (
    <>
      <h2 id="measurements-h">OONI measurements</h2>
      <p>
        {checkins} check-in{checkins === 1 ? "" : "s"} joined these runs; {rows.length} measurement{rows.length === 1 ? "" : "s"} recorded.
      </p>
      <DataTable
        id="measurements"
        caption="Measurements submitted through this service for this campaign, newest first"
        rows={rows}
        empty="No measurements yet: probes submit after their run, through the hand-off (PROBE_SERVICES_UPSTREAM)."
        columns={[
          { label: "Run", header: true, cell: (m) => m.run },
          { label: "Submitted", cell: (m) => <Time iso={m.submitted_at} text={utcMinute(m.submitted_at)} /> },
          { label: "URL", cell: (m) => m.input ?? "—" },
          { label: "Network", cell: (m) => `${m.probe_cc} ${m.probe_asn}` },
          { label: "Measurement", cell: (m) => <a href={`https://explorer.ooni.org/m/${encodeURIComponent(m.measurement_uid)}`}>{m.measurement_uid}</a> },
        ]}
      />
    </>
  );
}

// ---- test lists ---------------------------------------------------------------------------------------------------

export const TEST_LIST_PAGE_SIZE = 100;
export const TEST_LIST_FIELDS = ["country", "csv"] as const;
const LABELS = { country: "Country", csv: "Test list (CSV)" };
const CSV_HEADER = "url,category_code,category_description,date_added,source,notes";

/** "global" for the global list (stored as XX), else the country code. */
export const listName = (cc: string) => (cc === GLOBAL_CC ? "global" : cc);

type ListRow = Awaited<ReturnType<typeof listOverview>>[number];
export type TestListForm = { country?: string; csv?: string; skip_invalid?: string };

type ListsProps = { session: ConsoleSession; lists: ListRow[]; form?: TestListForm; errors?: FieldErrors; general?: string | null; flash?: string | null };

/** Every imported list with its size, categories and import time; operators also get the import form. */
export function TestListsPage({ session, lists, form, errors, general, flash }: ListsProps) {
  return (
    <Layout title="Test lists" session={session} current="test-lists">
      <h1>Test lists</h1>
      <Flash message={flash} />
      <p>
        The URLs check-in hands to probes when no campaign supplies them: the probe's country list plus the global one, filtered by the categories the probe
        asks for (docs/ooni.md).
      </p>
      <DataTable
        id="test-lists"
        caption="Imported lists, one per country (global applies to every probe)"
        rows={lists}
        empty="No test lists: check-in has no URLs to hand out. Import one below."
        columns={[
          {
            label: "Country",
            header: true,
            cell: (l) => <a href={`/console/test-lists/${listName(l.country)}`}>{listName(l.country)}</a>,
          },
          { label: "URLs", numeric: true, cell: (l) => formatCount(l.urls) },
          { label: "Categories", cell: (l) => l.category_codes.join(", ") },
          { label: "Imported", cell: (l) => <Time iso={l.imported_at} text={l.imported_at ? utcMinute(l.imported_at) : ""} /> },
        ]}
      />
      {can(session, "operator") ? (
        <>
          <h2 id="import-h">Import a list</h2>
          <p>Importing replaces that country's whole list. The file is a Citizen Lab test list (one country, or global).</p>
          <ErrorSummary errors={errors} labels={LABELS} general={general} />
          <form method="post" action="/console/test-lists" enctype="multipart/form-data" class="stack" aria-labelledby="import-h" novalidate>
            <CsrfField token={session.csrf} />
            <Field
              name="country"
              label={LABELS.country}
              value={form?.country}
              errors={errors}
              required
              size="s"
              autocomplete="off"
              hint='A two-letter country code (IT, BR...) or "global".'
            />
            <Field
              name="csv"
              label={LABELS.csv}
              value={form?.csv}
              errors={errors}
              rows={10}
              size="l"
              placeholder={CSV_HEADER}
              markOptional={false}
              hint={`Paste the CSV (header: ${CSV_HEADER}), or choose a file below; a file wins over the text.`}
            />
            <div class="field">
              <label for={fieldId("file")}>
                Or a CSV file<span class="optional"> (optional)</span>
              </label>
              <input id={fieldId("file")} name="file" type="file" accept=".csv,text/csv" />
            </div>
            <div class="field checks">
              <label for={fieldId("skip_invalid")}>
                <input id={fieldId("skip_invalid")} name="skip_invalid" type="checkbox" value="true" checked={form?.skip_invalid === "true"} /> Import the valid
                rows and skip the bad ones (otherwise one bad row refuses the file)
              </label>
            </div>
            <div class="actions">
              <button type="submit">Import list</button>
            </div>
          </form>
        </>
      ) : (
        <p class="muted">Operators and admins import lists; your role ({session.principal.role}) can read them.</p>
      )}
    </Layout>
  );
}

type ListProps = { session: ConsoleSession; country: string; page: number; list: Awaited<ReturnType<typeof listPage>> };

/** One list's URLs, a page at a time. */
export function TestListPage({ session, country, page, list }: ListProps) {
  const name = listName(country);
  const pages = Math.max(1, Math.ceil(list.total / TEST_LIST_PAGE_SIZE));
  const base = `/console/test-lists/${name}`;
  const first = (page - 1) * TEST_LIST_PAGE_SIZE + 1;
  return (
    <Layout title={`Test list ${name}`} session={session} current="test-lists">
      <h1>Test list {name}</h1>
      <p>
        <a href="/console/test-lists">All test lists</a>
      </p>
      <dl class="stats" aria-label="List summary">
        <div>
          <dt>URLs</dt>
          <dd>{formatCount(list.total)}</dd>
        </div>
        <div>
          <dt>Categories</dt>
          <dd>{formatCount(list.categories)}</dd>
        </div>
        <div>
          <dt>Imported</dt>
          <dd>
            <Time iso={list.imported_at} text={list.imported_at ? utcMinute(list.imported_at) : ""} />
          </dd>
        </div>
      </dl>
      <DataTable
        id="test-list-urls"
        caption={`URLs ${formatCount(Math.min(first, list.total))}–${formatCount(Math.min(first + list.rows.length - 1, list.total))} of ${formatCount(list.total)}, by category`}
        rows={list.rows}
        empty="No URLs on this page."
        columns={[
          { label: "URL", header: true, cell: (u) => u.url },
          { label: "Category", cell: (u) => u.category_code },
          { label: "Added", cell: (u) => u.date_added || "—" },
          { label: "Source", cell: (u) => u.source || "—" },
        ]}
      />
      {pages > 1 ? (
        <nav class="pager" aria-label="Pages of URLs">
          {page > 1 ? <a href={`${base}${queryString({ page: page > 2 ? String(page - 1) : undefined })}`}>Previous page</a> : <span />}
          <span>
            Page {page} of {pages}
          </span>
          {page < pages ? (
            <a href={`${base}${queryString({ page: String(page + 1) })}`} rel="next">
              Next page
            </a>
          ) : (
            <span />
          )}
        </nav>
      ) : null}
    </Layout>
  );
}

/** The API's `details` for an import, by form field: the country query, and everything about the file under "csv". */
export function importFieldErrors(details: { path: string; message: string }[] | undefined): FieldErrors {
  const out: FieldErrors = {};
  for (const d of details ?? []) {
    const field = d.path === "country" ? "country" : "csv";
    out[field] = [...(out[field] ?? []), field === "csv" && d.path.startsWith("line ") ? `${d.path}: ${d.message}` : d.message];
  }
  return out;
}

async function render(c: Context<ConsoleEnv>, node: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

const IMPORTED = /^(global|[A-Z]{2})$/;

/**
 * /console/test-lists: the lists, one list's URLs, and the import form, which posts the CSV to
 * `POST /api/v1/admin/test-lists` in-process, so the API parses, validates, authorises and logs it.
 */
export const ooniConsole: ConsolePages = (r, api) => {
  const lists = (c: Context<ConsoleEnv>) => listOverview(c.var.services.db);

  r.get("/console/test-lists", async (c) => {
    const q = c.req.query();
    const cc = typeof q.imported === "string" && IMPORTED.test(q.imported) ? q.imported : null;
    const urls = Number.parseInt(q.urls ?? "", 10);
    const skipped = Number.parseInt(q.skipped ?? "0", 10);
    const flash = cc
      ? `Test list ${cc} imported${Number.isFinite(urls) ? `: ${formatCount(urls)} URL${urls === 1 ? "" : "s"}` : ""}${
          Number.isFinite(skipped) && skipped > 0 ? `, ${formatCount(skipped)} bad row${skipped === 1 ? "" : "s"} skipped` : ""
        }.`
      : null;
    return render(c, <TestListsPage session={c.var.session} lists={await lists(c)} flash={flash} />);
  });

  r.get("/console/test-lists/:country", async (c) => {
    const cc = TestListCountryParam.safeParse({ country: c.req.param("country") });
    if (!cc.success) throw new ApiError("not_found", "There is no test list for that country.");
    const page = Number.parseInt(c.req.query("page") ?? "1", 10);
    if (!Number.isSafeInteger(page) || page < 1 || page > 100_000) throw new ApiError("not_found", "That page of the test list does not exist.");
    const list = await listPage(c.var.services.db, cc.data.country, page, TEST_LIST_PAGE_SIZE);
    if (list.total === 0) throw new ApiError("not_found", "There is no test list for that country.");
    if (list.rows.length === 0) throw new ApiError("not_found", "That page of the test list does not exist.");
    return render(c, <TestListPage session={c.var.session} country={cc.data.country} page={page} list={list} />);
  });

  r.post("/console/test-lists", async (c) => {
    const body = await c.req.parseBody();
    const country = typeof body.country === "string" ? body.country.slice(0, 64) : "";
    const skip = body.skip_invalid === "true" ? "true" : "false";
    const file = body.file instanceof File && body.file.size > 0 ? body.file : null;
    const csv = file ? await file.text() : typeof body.csv === "string" ? body.csv : "";
    // The text area keeps what was pasted (not a chosen file's content) when the page comes back with errors.
    const form: TestListForm = { country, csv: file ? "" : csv, skip_invalid: skip };
    const again = async (status: ContentfulStatusCode, errors: FieldErrors, general: string | null = null) =>
      render(c, <TestListsPage session={c.var.session} lists={await lists(c)} form={form} errors={errors} general={general} />, status);
    if (!csv.trim()) {
      // Still ask nothing of the API with no list, but check the country the same way, so both mistakes show at once.
      const cc = TestListCountryParam.safeParse({ country });
      const errors: FieldErrors = { csv: ["paste a test list or choose a file"] };
      if (!cc.success) errors.country = cc.error.issues.map((i) => i.message);
      return again(400, errors);
    }
    const reply = await callApi<{ country: string; imported: number; problems: unknown[] }>(
      c,
      api,
      "POST",
      `/api/v1/admin/test-lists${queryString({ country, skip_invalid: skip })}`,
      { text: { body: csv, type: "text/csv; charset=utf-8" } },
    );
    if (reply.ok) {
      const name = listName(reply.body.country);
      return c.redirect(
        `/console/test-lists${queryString({ imported: name, urls: String(reply.body.imported), skipped: String(reply.body.problems.length) })}`,
        303,
      );
    }
    if (reply.status === 400 || reply.status === 413) {
      const errors = importFieldErrors(reply.details);
      if (!reply.details) errors.csv = [...(errors.csv ?? []), reply.error];
      return again(reply.status, errors);
    }
    throw new ApiError(reply.code as never, reply.error);
  });
};
