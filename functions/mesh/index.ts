import type { Surface } from "../lib/surface";
import { meshAdminRoutes } from "./admin-routes";
import { meshCaRoutes } from "./ca-routes";

export { meshAdminRoutes, meshCaRoutes };

/**
 * The mesh (Ifrit): the certificate authority and its operator API. The membership half (the MeshGroup Durable
 * Object, member WebSockets, messaging, gossip) adds its routers here when merged.
 */
export const meshSurface: Surface = { name: "mesh", routes: [meshCaRoutes, meshAdminRoutes] };
