import type { Surface } from "../lib/surface";
import { ooniAdminRoutes } from "./admin-routes";
import { ooniRelayRoutes } from "./relay";
import { ooniRoutes } from "./routes";

/** OONI probe services: check-in, test lists, measurement hand-off (docs/ooni.md). Login adoption lives in auth. */
export const ooniSurface: Surface = { name: "ooni", routes: [ooniRoutes, ooniAdminRoutes, ooniRelayRoutes] };
