import type { Surface } from "../lib/surface";
import { pruneOldRecords } from "./cron";

/**
 * Data lifecycle (docs/retention.md): a cron job that prunes records older than their retention window, so the one
 * D1 database (10 GB at most) does not grow with every run. No routes: the windows are settings.
 */
export const retentionSurface: Surface = { name: "retention", cron: [pruneOldRecords] };
