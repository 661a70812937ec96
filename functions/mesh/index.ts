// The mesh surface (Ifrit). Until the surface list lands on main, app.ts mounts these routers directly.
export { meshAdminRoutes } from "./admin-routes";
export { meshCaRoutes } from "./ca-routes";
