import type { Surface } from "../lib/surface";
import { probeAdminRoutes } from "./admin-routes";
import { probeRoutes } from "./routes";

/** OONI probes: registration, metadata updates, and the operators' fleet views (not the minion registry). */
export const probesSurface: Surface = { name: "probes", routes: [probeRoutes, probeAdminRoutes] };
