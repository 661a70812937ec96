import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { campaignDetail } from "../../functions/campaigns/queries";
import { dbFrom } from "../../functions/lib/db";
import { retentionSettings, type RetentionSettings } from "../../functions/retention/settings";
import { cutoffs, pruneOnce } from "../../functions/retention/store";
import { adminToken, call, registerProbe } from "../helpers";
import { createJob, fakeGateway, fireAndDispatch, fireCron, installGateway, settle, tasksOf, waitFor } from "../campaigns/helpers";

const DAY = 86_400_000;
const db = dbFrom(env.DB);
const iso = (ms: number) => new Date(ms).toISOString();
const SETTINGS: RetentionSettings = { taskDays: 90, eventDays: 180, probeHistoryDays: 90, deliveryDays: 30, batchRows: 2000, statementsPerRun: 50 };

/** Events of one (unrelated) campaign id, written first so that their ids grow with their times, as in production. */
const EVENTS_JOB = crypto.randomUUID();
const seededAt = Date.now();

let admin: string;
beforeAll(async () => {
  const ev = (name: string, type: string, daysAgo: number) =>
    env.DB.prepare("INSERT INTO events (at, type, actor, subject_kind, subject_id, job_id, data) VALUES (?, ?, 'system', 'job', ?, ?, ?)").bind(
      iso(seededAt - daysAgo * DAY),
      type,
      EVENTS_JOB,
      EVENTS_JOB,
      JSON.stringify({ name }),
    );
  await env.DB.batch([
    ev("ancient", "job.paused", 200), // past the event window (180 d)
    ev("old-push", "push.sent", 40), // past the delivery window (30 d)
    ev("old-task-event", "task.done", 40), // within the event window
    ev("push-like", "pushy.thing", 40), // not a delivery record
    ev("old-push-failed", "push.failed", 31),
    ev("recent-push", "push.sent", 10),
  ]);
  installGateway();
  admin = await adminToken();
});

describe("retention settings", () => {
  it("defaults to 90/180/90/30 days; a malformed or out-of-range value is misconfigured, never a silent default", () => {
    expect(retentionSettings({} as Env)).toMatchObject({ taskDays: 90, eventDays: 180, probeHistoryDays: 90, deliveryDays: 30 });
    expect(() => retentionSettings({ TASK_RETENTION_DAYS: "ninety" } as unknown as Env)).toThrow(/TASK_RETENTION_DAYS/);
    expect(() => retentionSettings({ RETENTION_BATCH_ROWS: "100000" } as unknown as Env)).toThrow(/RETENTION_BATCH_ROWS/);
  });

  it("0 days keeps a kind forever", () => {
    expect(cutoffs({ ...SETTINGS, eventDays: 0 }, Date.parse("2026-01-01T00:00:00Z"))).toEqual({
      tasks: "2025-10-03T00:00:00.000Z",
      events: null,
      delivery: "2025-12-02T00:00:00.000Z",
      probeHistory: "2025-10-03T00:00:00.000Z",
    });
  });
});

describe("pruning", () => {
  const now = seededAt;
  const old = iso(now - 200 * DAY);
  const recent = iso(now - 10 * DAY);
  const ids: Record<string, string> = {};
  let jobId: string;
  let oldRun: string;
  let newRun: string;

  beforeAll(async () => {
    // A campaign that reaches no probe (its runs are inserted here, as old as needed).
    jobId = await createJob(admin, { schedule: "R/2030-01-01T00:00:00Z/P1D", target: { countries: ["XQ"] } });
    oldRun = `${jobId}:${now - 200 * DAY}`;
    newRun = `${jobId}:${now - 10 * DAY}`;
    const stmts: D1PreparedStatement[] = [];
    for (const [run, at, no] of [
      [oldRun, old, 1],
      [newRun, recent, 2],
    ] as const) {
      stmts.push(
        env.DB.prepare("INSERT INTO job_runs (id, job_id, run_no, scheduled_at, fired_at, state, targets) VALUES (?, ?, ?, ?, ?, 'dispatched', 5)").bind(
          run,
          jobId,
          no,
          at,
          at,
        ),
      );
    }
    const task = (name: string, run: string, state: string, updatedAt: string) => {
      ids[name] = crypto.randomUUID();
      stmts.push(
        env.DB.prepare(
          "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, 'web_connectivity', ?, ?, ?, ?)",
        ).bind(ids[name], jobId, run, crypto.randomUUID(), state, updatedAt, updatedAt, updatedAt),
      );
    };
    task("oldDone", oldRun, "done", old);
    task("oldExpired", oldRun, "expired", old);
    task("oldRejected", oldRun, "rejected", old);
    task("oldAccepted", oldRun, "accepted", old); // not final: the probe may still report it done
    task("oldNotified", oldRun, "notified", old); // open
    task("oldRunRecentlyFailed", oldRun, "failed", recent); // final, but changed recently
    task("newDone", newRun, "done", recent);
    await env.DB.batch(stmts);

    // Probe history: A has three old rows (the latest stays), B one old row (stays), C an old and a recent row.
    for (const name of ["A", "B", "C"]) ids[name] = (await registerProbe({ probe_cc: "XR" })).clientId;
    const hist = (probe: string, at: string) =>
      env.DB.prepare("INSERT INTO probe_updates (probe_id, at, update_type, snapshot, changed) VALUES (?, ?, 'update', '{}', '[]')").bind(probe, at);
    await env.DB.prepare("DELETE FROM probe_updates WHERE probe_id IN (?, ?, ?)").bind(ids.A, ids.B, ids.C).run();
    await env.DB.batch([
      hist(ids.A, iso(now - 300 * DAY)),
      hist(ids.B, iso(now - 290 * DAY)),
      hist(ids.A, iso(now - 250 * DAY)),
      hist(ids.C, iso(now - 240 * DAY)),
      hist(ids.A, iso(now - 200 * DAY)),
      hist(ids.C, iso(now - 5 * DAY)),
    ]);
  });

  const taskIds = async () => (await tasksOf(jobId)).map((t: any) => t.id).sort();
  const eventNames = async () =>
    (await env.DB.prepare("SELECT data FROM events WHERE job_id = ? ORDER BY id").bind(EVENTS_JOB).all<any>()).results
      .map((r: any) => JSON.parse(r.data).name)
      .sort();
  const history = async (probe: string) =>
    (await env.DB.prepare("SELECT at FROM probe_updates WHERE probe_id = ? ORDER BY id").bind(probe).all<{ at: string }>()).results.map((r) => r.at);

  it("deletes only what is old (and, for tasks, final), in batches of at most batchRows, within the run's statement budget", async () => {
    const before = await env.DB.prepare("SELECT * FROM job_runs WHERE job_id = ? ORDER BY scheduled_at").bind(jobId).all<any>();
    const detailBefore = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    // One row per DELETE and eight statements per run: the backlog takes several runs, each within its budget.
    const tiny = { ...SETTINGS, batchRows: 1, statementsPerRun: 8 };
    const runs: Awaited<ReturnType<typeof pruneOnce>>[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await pruneOnce(db, tiny, now);
      runs.push(r);
      expect(r.statements).toBeLessThanOrEqual(8);
      expect(r.tasks + r.deliveries + r.events + r.probe_updates).toBeLessThanOrEqual(r.statements);
      if (r.tasks + r.deliveries + r.events + r.probe_updates === 0) break;
    }
    expect(runs.length).toBeGreaterThan(2);
    const total = runs.reduce((a, r) => ({ t: a.t + r.tasks, d: a.d + r.deliveries, e: a.e + r.events, h: a.h + r.probe_updates }), { t: 0, d: 0, e: 0, h: 0 });
    expect(total).toEqual({ t: 3, d: 2, e: 1, h: 3 });

    expect(await taskIds()).toEqual([ids.oldAccepted, ids.oldNotified, ids.oldRunRecentlyFailed, ids.newDone].sort());
    expect(await eventNames()).toEqual(["old-task-event", "push-like", "recent-push"]);
    expect(await history(ids.A)).toEqual([iso(now - 200 * DAY)]);
    expect(await history(ids.B)).toEqual([iso(now - 290 * DAY)]);
    expect(await history(ids.C)).toEqual([iso(now - 5 * DAY)]);

    // The runs' counters (and so every per-run figure) are as they were.
    const after = await env.DB.prepare("SELECT * FROM job_runs WHERE job_id = ? ORDER BY scheduled_at").bind(jobId).all<any>();
    expect(after.results).toEqual(before.results);
    expect(after.results[0]).toMatchObject({ tasks_done: 1, tasks_expired: 1, tasks_rejected: 1, tasks_accepted: 1, tasks_notified: 1, tasks_failed: 1 });
    const detailAfter = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(detailAfter.body.runs).toEqual(detailBefore.body.runs);
    expect(detailAfter.body.task_counts).toEqual(detailBefore.body.task_counts);
    expect(detailAfter.body.task_counts).toMatchObject({ done: 2, expired: 1, rejected: 1, accepted: 1, notified: 1, failed: 1, ready: 0 });
  });

  it("a finished history sweep rests a day; a run with nothing to prune then costs four statements", async () => {
    const sweep = () => env.DB.prepare("SELECT cursor, rest_until FROM retention_sweeps WHERE name = 'probe_updates'").first<any>();
    for (let i = 0; i < 10 && !(await sweep())?.rest_until; i++) await pruneOnce(db, SETTINGS, now);
    const rest = await sweep();
    expect(rest.cursor).toBe(0);
    expect(Date.parse(rest.rest_until)).toBeGreaterThan(now);
    const r = await pruneOnce(db, SETTINGS, now);
    expect(r).toEqual({ tasks: 0, deliveries: 0, events: 0, probe_updates: 0, statements: 4 });
  });
});

describe("per-run counters", () => {
  it("a run's figures on the job API and the console are the same after its tasks are pruned by the cron", async () => {
    const probes: Awaited<ReturnType<typeof registerProbe>>[] = [];
    for (let i = 0; i < 4; i++) probes.push(await registerProbe({ probe_cc: "XS", token: `ret-${i}` }));
    fakeGateway("ret-");
    const jobId = await createJob(admin, { target: { countries: ["XS"] } });
    await fireAndDispatch(jobId);
    await settle(probes.map((p) => p.clientId));
    const ts = await waitFor(async () => {
      const t = await tasksOf(jobId);
      return t.length === 4 && t.every((x: any) => x.state === "notified") && t;
    }, "four notified tasks");
    const byProbe = new Map(ts.map((t: any) => [t.probe_id, t.id]));
    const answer = (p: (typeof probes)[number], action: string) =>
      call("POST", `/api/v1/task/${byProbe.get(p.clientId)}/${action}`, { token: p.token, json: {} });
    expect((await answer(probes[0], "accept")).status).toBe(200);
    expect((await answer(probes[0], "done")).status).toBe(200);
    expect((await answer(probes[1], "reject")).status).toBe(200);
    expect((await answer(probes[2], "accept")).status).toBe(200);

    const api = async () => {
      const r = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
      return { runs: r.body.runs, task_counts: r.body.task_counts };
    };
    const before = await api();
    expect(before.runs[0].tasks).toEqual({ ready: 0, notified: 1, accepted: 1, rejected: 1, done: 1, expired: 0, failed: 0 });
    expect(before.task_counts).toEqual(before.runs[0].tasks);
    const consoleBefore = await campaignDetail(db, jobId);
    expect(consoleBefore!.runs[0].tasks).toEqual({ notified: 1, accepted: 1, rejected: 1, done: 1 });

    // 200 days on, as the minute cron sees it: the final tasks go, the open and accepted ones stay.
    await fireCron(Date.now() + 200 * DAY);
    const left = await waitFor(async () => {
      const t = await tasksOf(jobId);
      return t.length === 2 && t;
    }, "the final tasks to be pruned");
    expect(left.map((t: any) => t.state).sort()).toEqual(["accepted", "notified"]);
    expect(await api()).toEqual(before);
    const consoleAfter = await campaignDetail(db, jobId);
    expect(consoleAfter!.runs).toEqual(consoleBefore!.runs);
    expect(consoleAfter!.task_counts).toEqual(consoleBefore!.task_counts);
  });

  it("the migration's backfill recomputes the counters from the tasks", async () => {
    const seed = env.TEST_MIGRATIONS.find((m) => m.name.endsWith("_retention_seed.sql"))!;
    const backfill = seed.queries.find((q) => q.trimStart().startsWith("UPDATE"))!;
    const jobId = crypto.randomUUID();
    const run = `${jobId}:0`;
    const at = iso(Date.now());
    const states = ["ready", "ready", "notified", "accepted", "done", "done", "done", "expired", "failed", "rejected"];
    await env.DB.batch([
      env.DB.prepare("INSERT INTO job_runs (id, job_id, run_no, scheduled_at, state, targets) VALUES (?, ?, 1, ?, 'dispatched', 10)").bind(run, jobId, at),
      ...states.map((st) =>
        env.DB.prepare(
          "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, 'dns_check', ?, ?, ?, ?)",
        ).bind(crypto.randomUUID(), jobId, run, crypto.randomUUID(), st, at, at, at),
      ),
    ]);
    const counters = () =>
      env.DB.prepare(
        "SELECT tasks_ready AS ready, tasks_notified AS notified, tasks_accepted AS accepted, tasks_rejected AS rejected, tasks_done AS done, tasks_expired AS expired, tasks_failed AS failed FROM job_runs WHERE id = ?",
      )
        .bind(run)
        .first();
    const expected = { ready: 2, notified: 1, accepted: 1, rejected: 1, done: 3, expired: 1, failed: 1 };
    expect(await counters()).toEqual(expected); // kept by the triggers as the rows arrived
    await env.DB.prepare("UPDATE job_runs SET tasks_ready = 7, tasks_done = 0, tasks_notified = 0 WHERE id = ?").bind(run).run();
    await env.DB.prepare(backfill).run();
    expect(await counters()).toEqual(expected);
  });
});

describe("a task keeps no copy of its campaign's arguments", () => {
  it("pull, task and pingback answers carry the campaign's arguments, read from the job", async () => {
    const p = await registerProbe({ probe_cc: "XT", token: "args-1" });
    const gw = fakeGateway("args-");
    const args = { urls: ["https://example.org/", "https://example.com/"] };
    const jobId = await createJob(admin, { task: { test_name: "web_connectivity", arguments: args }, target: { countries: ["XT"] } });
    await fireAndDispatch(jobId);
    await settle([p.clientId]);
    const columns = (await env.DB.prepare("SELECT name FROM pragma_table_info('tasks')").all<{ name: string }>()).results.map((c) => c.name);
    expect(columns).not.toContain("arguments");
    const pulled = await call("GET", "/api/v1/tasks", { token: p.token });
    expect(pulled.body.tasks).toHaveLength(1);
    expect(pulled.body.tasks[0].arguments).toEqual(args);
    const one = await call("GET", `/api/v1/task/${pulled.body.tasks[0].id}`, { token: p.token });
    expect(one.body.arguments).toEqual(args);
    const [push] = await waitFor(async () => gw.calls().length > 0 && gw.calls(), "the push");
    const pb = await call("GET", new URL(push.body.notifications[0].data.pingback_url).pathname);
    expect(pb.body).toMatchObject({ type: "task", arguments: args });
  });
});
