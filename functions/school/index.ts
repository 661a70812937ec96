// The school surface (sugar-server): registration, backup admission, activation and anti-theft leases.
// Until the Surface contract is on main, the lead wires these: routers in functions/app.ts, the cron job in functions/cron.ts.
export { schoolAdminRoutes } from "./admin-routes";
export { renewSchoolLeases } from "./cron";
export { schoolRoutes } from "./routes";
