/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import { MinionIdParam } from "../../../schema/minions-api";
import { listEvents } from "../../events/queries";
import { ApiError } from "../../lib/errors";
import { minionFleet, minionStatus } from "../minions";
import { MinionPage, MinionsPage } from "../pages/minions";
import type { ConsoleEnv } from "../session";
import { render } from "./shared";

/** The minion registry: the fleet (checksum, buckets, members) and one minion with its events. */
export const minionsPages = (r: Hono<ConsoleEnv>) => {
  r.get("/console/minions", async (c) => {
    const page = Number.parseInt(c.req.query("page") ?? "1", 10);
    const fleet = await minionFleet(c.env);
    return render(c, <MinionsPage session={c.var.session} now={c.var.services.clock.now()} fleet={fleet} page={Number.isFinite(page) ? page : 1} />);
  });

  r.get("/console/minions/:id", async (c) => {
    const id = MinionIdParam.safeParse({ id: c.req.param("id") });
    if (!id.success) throw new ApiError("not_found", "There is no minion with that id.");
    const [minion, events] = await Promise.all([
      minionStatus(c.env, id.data.id),
      listEvents(c.var.services.db, { subject_kind: "minion", subject_id: id.data.id, type: "minion.*", order: "desc", limit: 20 }),
    ]);
    if (!minion && events.events.length === 0) throw new ApiError("not_found", "There is no minion with that id.");
    return render(c, <MinionPage session={c.var.session} id={id.data.id} minion={minion} events={events.events} />);
  });
};
