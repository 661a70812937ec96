/** @jsxImportSource hono/jsx */
import type { EventView } from "../../events/queries";
import { ErrorSummary, Field, FilterActions } from "../components/form";
import { Layout, Time } from "../components/layout";
import { DataTable, IdLink } from "../components/table";
import type { EventFilterForm } from "../lib/filters";
import { utcMinute } from "../lib/format";
import { type FieldErrors, queryString } from "../lib/forms";
import type { ConsoleSession } from "../session";

const LABELS = {
  type: "Event type",
  probe_id: "Probe id",
  job_id: "Campaign id",
  since: "From (UTC)",
  until: "Until (UTC)",
  limit: "Per page",
  cursor: "Page",
};

/** Known event types, offered as suggestions (the field accepts any type or a prefix such as task.*). */
export const EVENT_TYPES = [
  "probe.*",
  "probe.registered",
  "probe.updated",
  "operator.*",
  "operator.created",
  "operator.disabled",
  "job.*",
  "run.*",
  "task.*",
  "push.*",
  "push.sent",
  "push.accepted",
  "push.deferred",
  "push.retry",
  "push.skipped",
  "push.failed",
  "minion.*",
];

type Props = { session: ConsoleSession; form: EventFilterForm; errors?: FieldErrors; result: { events: EventView[]; next_cursor: string | null } | null };

export function EventsPage({ session, form, errors, result }: Props) {
  const { cursor: _c, ...filters } = form;
  return (
    <Layout title="Events" session={session} current="events">
      <h1>Events</h1>
      <ErrorSummary errors={errors} labels={LABELS} />
      {/* biome-ignore lint/a11y/useSemanticElements: <form role="search"> is the search landmark every browser and screen reader knows; <search> is too new to rely on */}
      <form method="get" action="/console/events" class="filters" role="search" aria-label="Filter events">
        <Field
          markOptional={false}
          name="type"
          label={LABELS.type}
          value={form.type}
          errors={errors}
          list="event-types"
          hint="a type, or a prefix such as push.*"
        />
        <datalist id="event-types">
          {EVENT_TYPES.map((t) => (
            <option value={t} />
          ))}
        </datalist>
        <Field markOptional={false} name="probe_id" label={LABELS.probe_id} value={form.probe_id} errors={errors} />
        <Field markOptional={false} name="job_id" label={LABELS.job_id} value={form.job_id} errors={errors} />
        <Field markOptional={false} name="since" label={LABELS.since} type="datetime-local" value={form.since} errors={errors} />
        <Field markOptional={false} name="until" label={LABELS.until} type="datetime-local" value={form.until} errors={errors} />
        <FilterActions limit={form.limit} label={LABELS.limit} errors={errors} clearHref="/console/events" />
      </form>
      {result ? (
        <>
          <DataTable
            id="events"
            caption="Events, newest first"
            rows={result.events}
            empty="No event matches these filters."
            columns={[
              { label: "When", header: true, cell: (e) => <Time iso={e.at} text={utcMinute(e.at)} /> },
              { label: "Type", cell: (e) => e.type },
              { label: "Actor", cell: (e) => e.actor },
              {
                label: "Probe",
                cell: (e) => <IdLink kind="probes" id={e.probe_id} />,
              },
              {
                label: "Campaign",
                cell: (e) => <IdLink kind="campaigns" id={e.job_id} />,
              },
              { label: "Details", cell: (e) => <code>{JSON.stringify(e.data)}</code> },
            ]}
          />
          <nav class="pager" aria-label="Pages of events">
            {form.cursor ? <a href={`/console/events${queryString(filters)}`}>Newest</a> : <span />}
            {result.next_cursor ? (
              <a href={`/console/events${queryString({ ...filters, cursor: result.next_cursor })}`} rel="next">
                Older events
              </a>
            ) : null}
          </nav>
        </>
      ) : null}
    </Layout>
  );
}
