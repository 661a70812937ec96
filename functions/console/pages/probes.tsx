/** @jsxImportSource hono/jsx */
import type { ProbeRow } from "../../../schema/probes";
import { TOKEN_STATES } from "../../../schema/probes-api";
import { ErrorSummary, Field, FilterActions } from "../components/form";
import { Layout, Time } from "../components/layout";
import { DataTable, IdLink } from "../components/table";
import { type ProbeFilterForm, SEEN_WINDOWS } from "../lib/filters";
import { formatCount, relativeTime } from "../lib/format";
import { type FieldErrors, queryString } from "../lib/forms";
import type { ConsoleSession } from "../session";

const LABELS = {
  country: "Country",
  asn: "ASN",
  platform: "Platform",
  network_type: "Network type",
  software_name: "Software",
  software_version: "Version",
  token_state: "Push token",
  seen: "Last seen",
  limit: "Per page",
  cursor: "Page",
};

type Props = {
  session: ConsoleSession;
  now: Date;
  form: ProbeFilterForm;
  errors?: FieldErrors;
  result: { results: ProbeRow[]; total: number; nextCursor: string | null } | null;
};

export function ProbesPage({ session, now, form, errors, result }: Props) {
  const { cursor: _cursor, ...filters } = form;
  return (
    <Layout title="Probes" session={session} current="probes">
      <h1>Probes</h1>
      <ErrorSummary errors={errors} labels={LABELS} />
      <form method="get" action="/console/probes" class="filters" role="search" aria-label="Filter probes">
        <Field markOptional={false} name="country" label={LABELS.country} value={form.country} errors={errors} hint="e.g. IT,GR" size="s" />
        <Field markOptional={false} name="asn" label={LABELS.asn} value={form.asn} errors={errors} hint="e.g. AS1234" size="s" />
        <Field markOptional={false} name="platform" label={LABELS.platform} value={form.platform} errors={errors} hint="e.g. android,ios" />
        <Field markOptional={false} name="network_type" label={LABELS.network_type} value={form.network_type} errors={errors} hint="e.g. wifi,mobile" />
        <Field
          markOptional={false}
          name="software_name"
          label={LABELS.software_name}
          value={form.software_name}
          errors={errors}
          hint="e.g. ooniprobe-android"
        />
        <Field markOptional={false} name="software_version" label={LABELS.software_version} value={form.software_version} errors={errors} />
        <Field
          markOptional={false}
          name="token_state"
          label={LABELS.token_state}
          value={form.token_state}
          errors={errors}
          options={[{ value: "", label: "Any" }, ...TOKEN_STATES.map((s) => ({ value: s, label: s }))]}
        />
        <Field
          markOptional={false}
          name="seen"
          label={LABELS.seen}
          value={form.seen}
          errors={errors}
          options={Object.entries(SEEN_WINDOWS).map(([value, w]) => ({ value, label: w.label }))}
        />
        <FilterActions limit={form.limit} label={LABELS.limit} errors={errors} clearHref="/console/probes" />
      </form>
      {result ? (
        <>
          <p role="status">
            {formatCount(result.total)} probe{result.total === 1 ? "" : "s"} match{result.total === 1 ? "es" : ""}
            {form.cursor ? "" : result.results.length < result.total ? `; showing the first ${result.results.length}` : ""}.
          </p>
          <DataTable
            id="probes"
            caption="Probes, oldest registration first"
            rows={result.results}
            empty="No probe matches these filters."
            columns={[
              {
                label: "Client id",
                header: true,
                cell: (p) => <IdLink kind="probes" id={p.id} />,
              },
              { label: "Country", cell: (p) => p.probeCc },
              { label: "ASN", cell: (p) => p.probeAsn },
              { label: "Platform", cell: (p) => p.platform },
              { label: "Network", cell: (p) => p.networkType ?? <span class="muted">unknown</span> },
              { label: "Software", cell: (p) => `${p.softwareName} ${p.softwareVersion}` },
              { label: "Push token", cell: (p) => <span class={`state state-${p.pushTokenState}`}>{p.pushTokenState}</span> },
              { label: "Last seen", cell: (p) => <Time iso={p.lastSeenAt} text={relativeTime(p.lastSeenAt, now)} /> },
            ]}
          />
          <nav class="pager" aria-label="Pages of probes">
            {form.cursor ? <a href={`/console/probes${queryString(filters)}`}>First page</a> : <span />}
            {result.nextCursor ? (
              <a href={`/console/probes${queryString({ ...filters, cursor: result.nextCursor })}`} rel="next">
                Next page
              </a>
            ) : null}
          </nav>
        </>
      ) : null}
    </Layout>
  );
}
