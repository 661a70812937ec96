import type { Surface } from "../lib/surface";
import { authRoutes } from "./routes";

/** Login for every principal kind, and operator accounts. */
export const authSurface: Surface = { name: "auth", routes: [authRoutes] };
