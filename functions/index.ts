import { createApp } from "./app";
import { runCron } from "./cron";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled: (controller, env, ctx) => runCron(controller, env, ctx),
} satisfies ExportedHandler<Env>;

// Durable Object classes are re-exported here so wrangler can bind them.
export { PushCredentials } from "../durable-objects/push-credentials";
export { MinionAgent } from "../durable-objects/minion-agent";
export { MinionShard } from "../durable-objects/minion-shard";
export { MinionFleet } from "../durable-objects/minion-fleet";
export { CampaignRunner } from "../durable-objects/campaign-runner";
export { ProbeScheduler } from "../durable-objects/probe-scheduler";
export { MeshGroup } from "../durable-objects/mesh-group";
