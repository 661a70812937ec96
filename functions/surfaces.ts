import { auditSurface } from "./audit";
import { authSurface } from "./auth";
import { campaignsSurface } from "./campaigns";
import { eventsSurface } from "./events";
import type { Surface } from "./lib/surface";
import { meshSurface } from "./mesh";
import { minionsSurface } from "./minions";
import { ooniSurface } from "./ooni";
import { opsSurface } from "./ops";
import { probesSurface } from "./probes";
import { retentionSurface } from "./retention";
import { schoolSurface } from "./school";

/**
 * Every surface of the service, in mounting order. functions/app.ts mounts their routers and console pages,
 * functions/cron.ts runs their cron jobs. Adding a surface is one line here (docs/architecture.md).
 */
export const SURFACES: readonly Surface[] = [
  opsSurface,
  authSurface,
  probesSurface,
  eventsSurface,
  minionsSurface,
  campaignsSurface,
  ooniSurface,
  schoolSurface,
  meshSurface,
  retentionSurface,
  auditSurface,
];
