import { createApp } from "./app";
import { runCron } from "./cron";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled: (controller, env, ctx) => runCron(controller, env, ctx),
} satisfies ExportedHandler<Env>;

// Durable Object classes are re-exported here so wrangler can bind them.
export { CampaignRunner } from "../durable-objects/campaign-runner";
export { ProbeScheduler } from "../durable-objects/probe-scheduler";
