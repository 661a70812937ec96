import type { Surface } from "../lib/surface";
import { meshAdminRoutes } from "./admin-routes";
import { meshCaRoutes } from "./ca-routes";
import { meshConsole } from "./console";
import { meshGroupRoutes } from "./group-routes";

/**
 * The mesh (Ifrit): the certificate authority and its operator API, and the membership routes (member WebSockets,
 * the live view, messages) served by one MeshGroup Durable Object per group.
 */
export const meshSurface: Surface = { name: "mesh", routes: [meshCaRoutes, meshAdminRoutes, meshGroupRoutes], console: meshConsole };
