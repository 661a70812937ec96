import type { Surface } from "../lib/surface";
import { eventRoutes } from "./routes";

/** The event history every surface writes (functions/events/store.ts) and operators read. */
export const eventsSurface: Surface = { name: "events", routes: [eventRoutes] };
