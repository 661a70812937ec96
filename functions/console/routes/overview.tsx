/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import { OverviewPage } from "../pages/overview";
import { campaignSummary, fleetOverview } from "../queries";
import type { ConsoleEnv } from "../session";
import { render } from "./shared";

/** The overview: the fleet and the campaigns at a glance. */
export const overviewPages = (r: Hono<ConsoleEnv>) => {
  r.get("/console", async (c) => {
    const { db, clock } = c.var.services;
    const now = clock.now();
    const [fleet, campaigns] = await Promise.all([fleetOverview(db, now), campaignSummary(db)]);
    return render(c, <OverviewPage session={c.var.session} now={now} fleet={fleet} campaigns={campaigns} />);
  });
};
