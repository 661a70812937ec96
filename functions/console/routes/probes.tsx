/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import { ClientIdParam, ClientListQuery } from "../../../schema/probes-api";
import { listEvents } from "../../events/queries";
import { ApiError } from "../../lib/errors";
import { listProbes, probeWithHistory } from "../../probes/queries";
import { issuesByField, PROBE_FILTER_FIELDS, PROBE_PATH_TO_FIELD, type ProbeFilterForm, probeQueryInput } from "../lib/filters";
import { ProbePage } from "../pages/probe";
import { ProbesPage } from "../pages/probes";
import { probeTasks } from "../queries";
import type { ConsoleEnv } from "../session";
import { pick, render } from "./shared";

/** The probes list (filtered, keyset-paged) and one probe with its history, tasks and events. */
export const probesPages = (r: Hono<ConsoleEnv>) => {
  r.get("/console/probes", async (c) => {
    const { db, clock } = c.var.services;
    const now = clock.now();
    const form = pick(c.req.query(), [...PROBE_FILTER_FIELDS, "cursor"] as const) as ProbeFilterForm;
    const { input, errors } = probeQueryInput(form, now);
    const q = ClientListQuery.safeParse(input);
    if (!q.success || Object.keys(errors).length) {
      const all = { ...errors, ...(q.success ? {} : issuesByField(q.error, PROBE_PATH_TO_FIELD)) };
      return render(c, <ProbesPage session={c.var.session} now={now} form={form} errors={all} result={null} />, 400);
    }
    const result = await listProbes(db, q.data, { withCountries: false });
    return render(c, <ProbesPage session={c.var.session} now={now} form={form} result={result} />);
  });

  r.get("/console/probes/:id", async (c) => {
    const { db, clock } = c.var.services;
    const id = ClientIdParam.safeParse({ client_id: c.req.param("id") });
    if (!id.success) throw new ApiError("not_found", "There is no probe with that client id.");
    const [found, tasks, events] = await Promise.all([
      probeWithHistory(db, id.data.client_id, 100),
      probeTasks(db, id.data.client_id),
      listEvents(db, { probe_id: id.data.client_id, order: "desc", limit: 20 }),
    ]);
    if (!found) throw new ApiError("not_found", "There is no probe with that client id.");
    return render(c, <ProbePage session={c.var.session} now={clock.now()} probe={found.probe} updates={found.updates} tasks={tasks} events={events.events} />);
  });
};
