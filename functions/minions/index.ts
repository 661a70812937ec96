import type { Surface } from "../lib/surface";
import { agentRoutes } from "./agent-routes";
import { minionRoutes } from "./routes";

/** The Stormtower minion registry: agent connections, checksummed listings, the relay proxy. */
export const minionsSurface: Surface = { name: "minions", routes: [minionRoutes, agentRoutes] };
