import type { Surface } from "../lib/surface";
import { ooniAdminRoutes } from "./admin-routes";
import { ooniConsole } from "./console";
import { ooniRelayRoutes } from "./relay";
import { ooniRoutes } from "./routes";

/** OONI probe services: check-in, test lists, measurement hand-off (docs/ooni.md); console: /console/test-lists. Login adoption lives in auth. */
export const ooniSurface: Surface = { name: "ooni", routes: [ooniRoutes, ooniAdminRoutes, ooniRelayRoutes], console: ooniConsole };
