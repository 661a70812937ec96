import type { Surface } from "../lib/surface";
import { minionRoutes } from "./routes";

/** The Stormtower minion registry: agent connections, checksummed listings, the relay proxy. */
export const minionsSurface: Surface = { name: "minions", routes: [minionRoutes] };
