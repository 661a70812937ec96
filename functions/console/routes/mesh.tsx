/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import { ApiError } from "../../lib/errors";
import { MeshGroupPage } from "../../mesh/console";
import { GroupName, groupStub } from "../../mesh/group-routes";
import type { ConsoleEnv } from "../session";
import { render } from "./shared";

/** A mesh group's members, live or removed. */
export function meshPages(r: Hono<ConsoleEnv>): void {
  r.get("/console/mesh/:group", async (c) => {
    const g = GroupName.safeParse(c.req.param("group"));
    if (!g.success) throw new ApiError("not_found", "There is no mesh group with that name.");
    const snap = await groupStub(c.env, g.data).snapshot();
    return render(c, <MeshGroupPage session={c.var.session} now={c.var.services.clock.now()} group={g.data} snap={snap} />);
  });
}
