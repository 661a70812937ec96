import type { Surface } from "../lib/surface";
import { schoolAdminRoutes } from "./admin-routes";
import { renewSchoolLeases } from "./cron";
import { schoolRoutes } from "./routes";

/** The school server (sugar-server): registration, backup admission, activation and anti-theft leases. */
export const schoolSurface: Surface = { name: "school", routes: [schoolRoutes, schoolAdminRoutes], cron: [renewSchoolLeases] };
