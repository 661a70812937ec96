import type { Surface } from "../lib/surface";
import { healthRoutes } from "./health";

/** Operations: liveness. */
export const opsSurface: Surface = { name: "ops", routes: [healthRoutes] };
