import { ooniAdminRoutes } from "./admin-routes";
import { ooniRelayRoutes } from "./relay";
import { ooniRoutes } from "./routes";

/**
 * The OONI probe-services surface: check-in, test lists, measurement hand-off. Until main's Surface contract
 * lands, app.ts mounts these routers in this order.
 */
export const ooniSurfaceRouters = [ooniRoutes, ooniAdminRoutes, ooniRelayRoutes];
