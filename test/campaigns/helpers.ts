import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { ProbeScheduler } from "../../durable-objects/probe-scheduler";
import { campaignSettings } from "../../functions/campaigns/settings";
import { schedulerNameOf } from "../../functions/campaigns/shards";
import { runCron } from "../../functions/cron";
import { call } from "../helpers";

export const TASK_JOB = {
  schedule: "R1//P",
  delay: 0,
  comment: "one web_connectivity run",
  task: { test_name: "web_connectivity", arguments: {} },
  target: {},
};

export async function createJob(token: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<string> {
  const r = await call("POST", "/api/v1/admin/job", { json: { ...TASK_JOB, ...body }, token, headers });
  if (r.status !== 200) throw new Error(`create job failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** The minute cron, as the platform calls it. */
export async function fireCron(at: number = Date.now()): Promise<void> {
  const ctx = createExecutionContext();
  await runCron(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Run a Durable Object's alarm until it has nothing due (bounded). */
export async function drain(stub: DurableObjectStub, max = 50): Promise<number> {
  let n = 0;
  while (n < max && (await runDurableObjectAlarm(stub))) n++;
  return n;
}

export const runner = (jobId: string) => env.CAMPAIGN_RUNNER.getByName(jobId);
/** The scheduler shard that holds this probe's occurrences (SCHEDULER_SHARDS in vitest.config.ts: probes share shards). */
export const scheduler = (probeId: string) => env.PROBE_SCHEDULER.getByName(schedulerNameOf(probeId, campaignSettings(env).schedulerShards));
/** One probe's occurrences, from its shard. */
export const occurrencesOf = (probeId: string) => scheduler(probeId).list(probeId);

/**
 * Poll until `check` holds. Only for outcomes of alarms the test cannot drive: workerd fires alarms on its own in
 * this pool, and the pool has no way to hold them back. CampaignRunner.fire() and ProbeScheduler.enqueue() (called
 * inside the runner's alarm, so no test code runs between the hand-out and the push) arm their alarm for now, so that
 * run starts before the test can call runDurableObjectAlarm; the stub is at hand (runner(), scheduler() by name) but
 * the pool cannot join a run already in flight, so the test waits for its outcome. Alarms the test makes due itself
 * (makeDue) are driven, and their outcomes are asserted at once.
 */
export async function waitFor<T>(check: () => Promise<T | false | null | undefined>, what: string, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runsOf(jobId: string) {
  return (await env.DB.prepare("SELECT * FROM job_runs WHERE job_id = ? ORDER BY scheduled_at").bind(jobId).all<any>()).results;
}

/** Fire the cron and wait until every page of the resulting runs has been handed out. */
export async function fireAndDispatch(jobId: string, at?: number) {
  await fireCron(at);
  await drain(runner(jobId));
  await waitFor(async () => {
    const rs = await runsOf(jobId);
    return rs.length > 0 && rs.every((r: any) => r.state !== "dispatching");
  }, "the run to be handed out");
}

/**
 * Run the probes' alarms until none of them has anything due now (pushes and retries whose time has come). Each pass
 * drives the alarm (runDurableObjectAlarm); it polls only while a run the runtime started on its own still holds a
 * row (see waitFor), which the pool gives no way to await.
 */
export async function settle(probeIds: string[]) {
  await waitFor(async () => {
    let busy = false;
    for (const id of probeIds) {
      await runDurableObjectAlarm(scheduler(id));
      const now = Date.now();
      // Due now, or claimed by an alarm run that is still working on it (the shard says which rows it holds; the
      // states say the same for pushing ('sending') and recording).
      if ((await scheduler(id).inFlightIds(id)).length > 0) busy = true;
      if ((await occurrencesOf(id)).some((o) => (o.next_at !== null && o.next_at <= now) || o.state === "sending" || o.state === "recorded")) busy = true;
    }
    return !busy;
  }, "probe schedulers to settle");
}

/**
 * Time passes for one probe: everything it has scheduled (sends, retries, timeouts) becomes due, and its shard's alarm
 * runs, driven by the test and awaited to the end (the pushes, D1 and local bookkeeping are done when this returns).
 * The handler is called as runDurableObjectAlarm does, but whether or not an alarm is set at this instant: a run the
 * runtime fired on its own re-arms only after its last write, and the platform would fire for these rows anyway.
 * Rows are claimed with a lease before any await (ProbeScheduler.alarm), so a concurrent run never pushes one twice.
 */
export async function makeDue(probeId: string) {
  await runInDurableObject(scheduler(probeId), async (instance: ProbeScheduler, state) => {
    state.storage.sql.exec("UPDATE occurrences SET next_at = ? WHERE next_at IS NOT NULL AND probe_id = ?", Date.now(), probeId);
    await state.storage.deleteAlarm();
    await instance.alarm();
  });
}

export type GatewayCall = { url: string; headers: Headers; body: any; token: string };
type Reply = (c: GatewayCall, attemptForToken: number) => Response | Promise<Response>;

/**
 * The gateway as the tests see it: one fetch spy for the whole runtime (test files share the isolate the Durable
 * Objects run in, and alarms fire on their own, also between tests). Calls and answers are keyed by token prefix:
 * each test uses its own tokens, reads its own calls and sets its own answers.
 */
type GatewayState = { all: GatewayCall[]; replies: Map<string, Reply>; installed: boolean };
const shared = globalThis as { __fakeGateway?: GatewayState };
shared.__fakeGateway ??= { all: [], replies: new Map(), installed: false } as GatewayState;
const G = shared.__fakeGateway;

export function installGateway() {
  if (G.installed) return;
  G.installed = true;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (!req.url.startsWith("https://gorush.test/")) throw new Error(`unexpected fetch ${req.url}`);
    const body = await req.json<any>();
    const c = { url: req.url, headers: req.headers, body, token: body?.notifications?.[0]?.tokens?.[0] ?? "" };
    G.all.push(c);
    const prefix = [...G.replies.keys()].filter((p) => c.token.startsWith(p)).sort((a, b) => b.length - a.length)[0];
    const reply = prefix === undefined ? () => gorushOk() : G.replies.get(prefix)!;
    return reply(c, G.all.filter((x) => x.token === c.token).length);
  });
}

/** How the gateway answers pushes to tokens starting with `prefix`; `calls(p)` lists the calls for tokens starting with p. */
export function fakeGateway(prefix: string, reply: Reply = () => gorushOk()) {
  G.replies.set(prefix, reply);
  return { calls: (p: string = prefix) => G.all.filter((c) => c.token.startsWith(p)) };
}

export const gorushOk = (logs: unknown[] = []) => Response.json({ counts: 1, logs, success: "ok" });

export async function eventsOf(where: { jobId?: string; probeId?: string; taskId?: string }) {
  const conds: string[] = [];
  const args: string[] = [];
  for (const [column, value] of [
    ["job_id", where.jobId],
    ["probe_id", where.probeId],
    ["task_id", where.taskId],
  ] as const) {
    if (!value) continue;
    conds.push(`${column} = ?`);
    args.push(value);
  }
  const r = await env.DB.prepare(`SELECT * FROM events ${conds.length ? `WHERE ${conds.join(" AND ")}` : ""} ORDER BY id`)
    .bind(...args)
    .all<any>();
  return r.results.map((e) => ({ ...e, data: JSON.parse(e.data) }));
}

export async function tasksOf(jobId: string) {
  return (await env.DB.prepare("SELECT * FROM tasks WHERE job_id = ? ORDER BY probe_id").bind(jobId).all<any>()).results;
}
