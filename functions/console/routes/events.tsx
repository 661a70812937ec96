/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import { EventQuery } from "../../../schema/events-api";
import { listEvents } from "../../events/queries";
import { EVENT_FILTER_FIELDS, type EventFilterForm, eventQueryInput, issuesByField } from "../lib/filters";
import { EventsPage } from "../pages/events";
import type { ConsoleEnv } from "../session";
import { pick, render } from "./shared";

/** The event log, filtered and keyset-paged. */
export const eventsPages = (r: Hono<ConsoleEnv>) => {
  r.get("/console/events", async (c) => {
    const form = pick(c.req.query(), [...EVENT_FILTER_FIELDS, "cursor"] as const) as EventFilterForm;
    const q = EventQuery.safeParse(eventQueryInput(form));
    if (!q.success) return render(c, <EventsPage session={c.var.session} form={form} errors={issuesByField(q.error)} result={null} />, 400);
    const result = await listEvents(c.var.services.db, q.data);
    return render(c, <EventsPage session={c.var.session} form={form} result={result} />);
  });
};
