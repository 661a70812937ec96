import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { jobs } from "../../schema/campaigns";
import { hasOpenDeliveries, type RunDeliveries, stateAfter } from "../../functions/campaigns/jobs";
import { jobById } from "../../functions/campaigns/queries";
import { changeJobState, deleteJob } from "../../functions/campaigns/store";
import { dbFrom } from "../../functions/lib/db";
import { call, createOperator } from "../helpers";
import { createJob, installGateway } from "./helpers";

let operator: string;
beforeAll(async () => {
  installGateway();
  operator = (await createOperator("operator")).token;
});

const db = () => dbFrom(env.DB);
const eventsOf = async (jobId: string, type: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE job_id = ? AND type = ?").bind(jobId, type).first<{ n: number }>())!.n;
const AT = "2030-01-01T00:00:00.000Z";

describe("campaign state changes are guarded by the state they were decided from", () => {
  it("a pause decided from a stale read (another request paused first) changes nothing and records no event", async () => {
    const id = await createJob(operator, { schedule: "R/2030-01-01T00:00:00Z/P1D" });
    const stale = (await jobById(db(), id))!;
    expect((await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).status).toBe(200);
    const r = await changeJobState(db(), stale, { state: "paused", nextRunAt: stale.nextRunAt }, { at: AT, type: "job.paused", actor: "system", data: {} });
    expect(r.changed).toBe(false);
    expect(await eventsOf(id, "job.paused")).toBe(1);
  });

  it("a resume decided from a stale read (the campaign was deleted meanwhile) changes nothing and records no event", async () => {
    const id = await createJob(operator, { schedule: "R/2030-01-01T00:00:00Z/P1D" });
    expect((await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).status).toBe(200);
    const stale = (await jobById(db(), id))!;
    expect((await call("DELETE", `/api/v1/admin/job/${id}`, { token: operator })).status).toBe(200);
    const r = await changeJobState(db(), stale, { state: "active", nextRunAt: AT }, { at: AT, type: "job.resumed", actor: "system", data: {} });
    expect(r.changed).toBe(false);
    expect((await jobById(db(), id))!.state).toBe("deleted");
    expect(await eventsOf(id, "job.resumed")).toBe(0);
  });

  it("a delete decided from a stale read changes nothing, expires no task and records no event", async () => {
    const id = await createJob(operator, { schedule: "R/2030-01-01T00:00:00Z/P1D" });
    const stale = (await jobById(db(), id))!;
    expect((await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).status).toBe(200);
    await env.DB.prepare(
      "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, ?, 'r', 'p', 'web_connectivity', 'ready', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), id, AT, AT, AT)
      .run();
    const r = await deleteJob(db(), stale, AT, "system");
    expect(r.changed).toBe(false);
    expect((await db().select({ state: jobs.state }).from(jobs).where(eq(jobs.id, id)).get())!.state).toBe("paused");
    expect((await env.DB.prepare("SELECT state FROM tasks WHERE job_id = ?").bind(id).first<{ state: string }>())!.state).toBe("ready");
    expect(await eventsOf(id, "job.deleted")).toBe(0);
  });

  it("a delete from the state it was read in expires the open tasks and records job.deleted once", async () => {
    const id = await createJob(operator, { schedule: "R/2030-01-01T00:00:00Z/P1D" });
    await env.DB.prepare(
      "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, ?, 'r', 'p', 'web_connectivity', 'notified', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), id, AT, AT, AT)
      .run();
    const r = await deleteJob(db(), (await jobById(db(), id))!, AT, "system");
    expect(r.changed).toBe(true);
    expect((await env.DB.prepare("SELECT state FROM tasks WHERE job_id = ?").bind(id).first<{ state: string }>())!.state).toBe("expired");
    expect(await eventsOf(id, "job.deleted")).toBe(1);
  });
});

describe("stateAfter (pause and resume, pure)", () => {
  const job = { schedule: "R/2030-01-01T00:00:00Z/P1D", startAt: "2030-01-01T00:00:00.000Z", nextRunAt: "2030-01-03T00:00:00.000Z" };
  const now = Date.parse("2030-01-05T12:00:00Z");

  it("pausing an active campaign keeps its next run; pausing a paused one is no change", () => {
    expect(stateAfter("pause", { ...job, state: "active" }, now)).toEqual({ unchanged: false, state: "paused", nextRunAt: job.nextRunAt });
    expect(stateAfter("pause", { ...job, state: "paused" }, now)).toEqual({ unchanged: true, state: "paused" });
  });

  it("resuming skips the runs due while paused: the next run is computed from now", () => {
    expect(stateAfter("resume", { ...job, state: "paused" }, now)).toEqual({ unchanged: false, state: "active", nextRunAt: "2030-01-06T00:00:00.000Z" });
  });

  it("resuming a campaign with no runs left makes it done", () => {
    const once = { schedule: "R1/2030-01-01T00:00:00Z/P1D", startAt: "2030-01-01T00:00:00.000Z", nextRunAt: "2030-01-01T00:00:00.000Z" };
    expect(stateAfter("resume", { ...once, state: "paused" }, now)).toEqual({ unchanged: false, state: "done", nextRunAt: null });
  });

  it("a done campaign with nothing left to send, or a deleted one, can neither pause nor resume (409 illegal_transition)", () => {
    expect(() => stateAfter("pause", { ...job, state: "done" }, now)).toThrow(/cannot be paused/);
    expect(() => stateAfter("pause", { ...job, state: "deleted" }, now, true)).toThrow(/cannot be paused/);
    expect(() => stateAfter("resume", { ...job, state: "deleted" }, now)).toThrow(/cannot be resumed/);
  });

  it("a done campaign whose runs still have pushes to send pauses (no next run); its resume makes it done again", () => {
    const done = { schedule: "R1/2030-01-01T00:00:00Z/P1D", startAt: "2030-01-01T00:00:00.000Z", nextRunAt: null };
    expect(stateAfter("pause", { ...done, state: "done" }, now, true)).toEqual({ unchanged: false, state: "paused", nextRunAt: null });
    expect(stateAfter("resume", { ...done, state: "paused" }, now)).toEqual({ unchanged: false, state: "done", nextRunAt: null });
  });
});

describe("hasOpenDeliveries (whether a done campaign may be paused, pure)", () => {
  const now = Date.parse("2030-01-05T12:00:00Z");
  const task = { kind: "task" as const, delayS: 3600, taskTimeoutS: 86400 };
  const run = (over: Partial<RunDeliveries> = {}): RunDeliveries => ({ state: "dispatched", scheduledAt: "2030-01-05T11:00:00.000Z", tasksReady: 0, ...over });

  it("a run still being handed out has pushes to send", () => {
    expect(hasOpenDeliveries(task, [run({ state: "dispatching" })], now)).toBe(true);
  });

  it("a task run has them while some of its tasks are ready (neither pushed nor answered), not once all are", () => {
    expect(hasOpenDeliveries(task, [run({ tasksReady: 3 })], now)).toBe(true);
    expect(hasOpenDeliveries(task, [run(), run({ state: "missed", tasksReady: 0 })], now)).toBe(false);
  });

  it("an alert run has them within its delay and timeout from its scheduled time", () => {
    const alert = { ...task, kind: "alert" as const, taskTimeoutS: 600 };
    expect(hasOpenDeliveries(alert, [run({ scheduledAt: "2030-01-05T11:00:00.000Z" })], now)).toBe(true);
    expect(hasOpenDeliveries(alert, [run({ scheduledAt: "2030-01-05T10:00:00.000Z" })], now)).toBe(false);
  });
});
