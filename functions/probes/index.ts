import type { Surface } from "../lib/surface";
import { probeAdminRoutes } from "./admin-routes";
import { probeRoutes } from "./routes";

/** The OONI probe registry: register, update, and the operators' fleet views. */
export const probesSurface: Surface = { name: "probes", routes: [probeRoutes, probeAdminRoutes] };
