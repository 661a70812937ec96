import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, createOperator, registerProbe } from "../helpers";
import { createJob, installGateway, TASK_JOB } from "./helpers";

let admin: string;
let operator: string;
let viewer: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
  operator = (await createOperator("operator")).token;
  viewer = (await createOperator("viewer")).token;
});

const countJobs = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n;

describe("POST /api/v1/admin/job", () => {
  it("accepts OONI's body and returns {id}; the job shows its definition and next run", async () => {
    const body = {
      schedule: "R/2017-05-01T00:00:00Z/P1D",
      delay: 0,
      comment: "daily in Italy",
      task: { test_name: "web_connectivity", arguments: { urls: ["https://example.org"] } },
      target: { countries: ["IT"], platforms: ["android", "ios"] },
    };
    const r = await call("POST", "/api/v1/admin/job", { json: body, token: operator });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(["id"]);
    const g = await call("GET", `/api/v1/admin/job/${r.body.id}`, { token: viewer });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      id: r.body.id,
      schedule: body.schedule,
      comment: "daily in Italy",
      task: body.task,
      alert: null,
      target: { countries: ["IT"], platforms: ["android", "ios"], asns: [], network_types: [], software_names: [], supported_tests: [] },
      state: "active",
      times_run: 0,
      runs: [],
      task_counts: { ready: 0, notified: 0, accepted: 0, rejected: 0, done: 0, expired: 0, failed: 0 },
    });
    // The next run is the next midnight UTC, on the anchor's grid.
    expect(g.body.next_run_at).toMatch(/T00:00:00\.000Z$/);
    expect(g.body.upcoming_runs).toHaveLength(5);
    const ev = await env.DB.prepare("SELECT type, actor FROM events WHERE job_id = ?").bind(r.body.id).all<any>();
    expect(ev.results).toEqual([{ type: "job.created", actor: expect.stringMatching(/^operator:operator-/) }]);
  });

  it("accepts a 5-field cron and an alert; alert wins when both are given (as in OONI)", async () => {
    const id = await createJob(operator, { schedule: "*/15 * * * *", alert: { message: "hi", extra: {} } });
    const g = await call("GET", `/api/v1/admin/job/${id}`, { token: admin });
    expect(g.body.alert).toEqual({ message: "hi", extra: {} });
    expect(g.body.task).toBeNull();
    expect(new Date(g.body.next_run_at).getUTCMinutes() % 15).toBe(0);
  });

  it("an Idempotency-Key makes a retried create return the same job; the same key with another body is 409", async () => {
    const key = `key-${crypto.randomUUID()}`;
    const before = await countJobs();
    const [a, b] = await Promise.all([
      call("POST", "/api/v1/admin/job", { json: TASK_JOB, token: operator, headers: { "Idempotency-Key": key } }),
      call("POST", "/api/v1/admin/job", { json: TASK_JOB, token: operator, headers: { "Idempotency-Key": key } }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.id).toBe(b.body.id);
    const c = await call("POST", "/api/v1/admin/job", { json: TASK_JOB, token: operator, headers: { "Idempotency-Key": key } });
    expect(c.body.id).toBe(a.body.id);
    expect(await countJobs()).toBe(before + 1);
    const d = await call("POST", "/api/v1/admin/job", { json: { ...TASK_JOB, comment: "different" }, token: operator, headers: { "Idempotency-Key": key } });
    expect(d).toMatchObject({ status: 409, body: { code: "conflict" } });
    // Without a key, each create is a new job.
    const e1 = await createJob(operator);
    const e2 = await createJob(operator);
    expect(e1).not.toBe(e2);
  });

  it.each([
    [{ ...TASK_JOB, task: undefined }, /task or alert must be defined/],
    [{ ...TASK_JOB, schedule: "" }, /schedule/],
    [{ ...TASK_JOB, schedule: "R/2017-05-01T00:00:00Z" }, /schedule: invalid schedule/],
    [{ ...TASK_JOB, schedule: "61 * * * *" }, /schedule: cron minute/],
    [{ ...TASK_JOB, schedule: "R3/2017-05-01T00:00:00Z/P1D" }, /no runs left/],
    [{ ...TASK_JOB, comment: "" }, /comment/],
    [{ ...TASK_JOB, comment: undefined }, /comment/],
    [{ ...TASK_JOB, delay: -1 }, /delay/],
    [{ ...TASK_JOB, delay: "soon" }, /delay/],
    [{ ...TASK_JOB, task: { test_name: "web connectivity; drop table" } }, /test_name/],
    [{ ...TASK_JOB, task: { test_name: "x", arguments: [] } }, /arguments/],
    [{ ...TASK_JOB, target: { countries: ["Italy"] } }, /countries/],
    [{ ...TASK_JOB, target: { asns: ["1234"] } }, /asns/],
    [{ ...TASK_JOB, target: { countries: "IT" } }, /countries/],
    [{ ...TASK_JOB, rollout_per_minute: 0 }, /rollout_per_minute/],
    [{ ...TASK_JOB, starting_deadline_s: 5 }, /starting_deadline_s/],
    [{ ...TASK_JOB, task_timeout_s: 1e12 }, /task_timeout_s/],
    [[], /expected object/],
    [null, /./],
  ])("bad input %j → 400 and nothing is created", async (body, msg) => {
    const before = await countJobs();
    const r = await call("POST", "/api/v1/admin/job", { json: body, token: operator });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("validation_failed");
    expect(r.body.error).toMatch(msg);
    expect(await countJobs()).toBe(before);
  });

  it("malformed JSON, a wrong content type and a bad Idempotency-Key are 4xx envelopes", async () => {
    expect((await call("POST", "/api/v1/admin/job", { raw: "{", headers: { "content-type": "application/json" }, token: operator })).body.code).toBe(
      "invalid_json",
    );
    expect((await call("POST", "/api/v1/admin/job", { raw: "x=1", headers: { "content-type": "text/plain" }, token: operator })).status).toBeGreaterThanOrEqual(
      400,
    );
    const k = await call("POST", "/api/v1/admin/job", { json: TASK_JOB, token: operator, headers: { "Idempotency-Key": "a b" } });
    expect(k.status).toBe(400);
  });
});

describe("list, get, delete, pause, resume", () => {
  it("GET /jobs lists campaigns newest first, deleted ones included", async () => {
    const a = await createJob(operator, { schedule: "R//PT1H" });
    const b = await createJob(operator, { schedule: "R//PT1H" });
    await call("DELETE", `/api/v1/admin/job/${a}`, { token: operator });
    const r = await call("GET", "/api/v1/admin/jobs", { token: viewer });
    expect(r.status).toBe(200);
    const ids = r.body.jobs.map((j: any) => j.id);
    expect(ids).toEqual(expect.arrayContaining([a, b]));
    const times = r.body.jobs.map((j: any) => j.creation_time);
    expect([...times].sort().reverse()).toEqual(times);
    expect(r.body.jobs.find((j: any) => j.id === a).state).toBe("deleted");
  });

  it("delete is idempotent, 404 for an unknown id; pause/resume move between active and paused only", async () => {
    const id = await createJob(operator, { schedule: "R//PT1H" });
    expect(await call("POST", `/api/v1/admin/job/${id}/resume`, { token: operator })).toMatchObject({ status: 200, body: { status: "active" } });
    expect(await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).toMatchObject({ status: 200, body: { status: "paused" } });
    expect(await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).toMatchObject({ status: 200, body: { status: "paused" } });
    expect(await call("POST", `/api/v1/admin/job/${id}/resume`, { token: operator })).toMatchObject({ status: 200, body: { status: "active" } });
    expect(await call("DELETE", `/api/v1/admin/job/${id}`, { token: operator })).toMatchObject({ status: 200, body: { status: "deleted" } });
    expect(await call("DELETE", `/api/v1/admin/job/${id}`, { token: operator })).toMatchObject({ status: 200, body: { status: "deleted" } });
    expect(await call("POST", `/api/v1/admin/job/${id}/resume`, { token: operator })).toMatchObject({ status: 409, body: { code: "illegal_transition" } });
    expect(await call("POST", `/api/v1/admin/job/${id}/pause`, { token: operator })).toMatchObject({ status: 409 });
    expect((await call("DELETE", `/api/v1/admin/job/${crypto.randomUUID()}`, { token: operator })).status).toBe(404);
    expect((await call("GET", `/api/v1/admin/job/${crypto.randomUUID()}`, { token: operator })).status).toBe(404);
    expect((await call("GET", `/api/v1/admin/job/nope`, { token: operator })).status).toBe(400);
    const types = (await env.DB.prepare("SELECT type FROM events WHERE job_id = ? ORDER BY id").bind(id).all<any>()).results.map((e: any) => e.type);
    expect(types).toEqual(["job.created", "job.paused", "job.resumed", "job.deleted"]);
  });

  it("dry run counts targets by country, ASN and platform, live tokens and rollout time, and creates nothing", async () => {
    await registerProbe({ probe_cc: "DR", probe_asn: "AS10", platform: "android", token: "t1" });
    await registerProbe({ probe_cc: "DR", probe_asn: "AS10", platform: "ios", token: "t2" });
    await registerProbe({ probe_cc: "DR", probe_asn: "AS20", platform: "android", token: "" });
    const before = await countJobs();
    const r = await call("POST", "/api/v1/admin/job/dry-run", {
      json: { ...TASK_JOB, schedule: "R3//PT1H", target: { countries: ["DR"] }, rollout_per_minute: 1 },
      token: viewer,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      targets: 3,
      with_push_token: 2,
      projected_pushes_per_run: 2,
      by_country: [{ key: "DR", count: 3 }],
      by_asn: [
        { key: "AS10", count: 2 },
        { key: "AS20", count: 1 },
      ],
      by_platform: [
        { key: "android", count: 2 },
        { key: "ios", count: 1 },
      ],
      rollout_minutes: 2,
    });
    expect(r.body.upcoming_runs).toHaveLength(3);
    expect(await countJobs()).toBe(before);
    expect((await call("POST", "/api/v1/admin/job/dry-run", { json: { ...TASK_JOB, schedule: "bogus" }, token: viewer })).status).toBe(400);
  });
});

describe("auth on every campaign route", () => {
  const routes = (id: string): [string, string, unknown?][] => [
    ["POST", "/api/v1/admin/job", TASK_JOB],
    ["POST", "/api/v1/admin/job/dry-run", TASK_JOB],
    ["GET", "/api/v1/admin/jobs"],
    ["GET", `/api/v1/admin/job/${id}`],
    ["DELETE", `/api/v1/admin/job/${id}`],
    ["POST", `/api/v1/admin/job/${id}/pause`],
    ["POST", `/api/v1/admin/job/${id}/resume`],
  ];

  it("no token → 401; a bad token → 401; a probe token → 403", async () => {
    const id = await createJob(operator, { schedule: "R//PT1H" });
    const probe = await registerProbe();
    for (const [m, p, json] of routes(id)) {
      expect((await call(m, p, { json })).status, `${m} ${p}`).toBe(401);
      expect((await call(m, p, { json, token: "x.y.z" })).status, `${m} ${p}`).toBe(401);
      expect((await call(m, p, { json, token: probe.token })).status, `${m} ${p}`).toBe(403);
    }
  });

  it("a viewer reads (list, get, dry run) but cannot create, delete, pause or resume", async () => {
    const id = await createJob(operator, { schedule: "R//PT1H" });
    const before = await countJobs();
    for (const [m, p, json] of routes(id)) {
      const r = await call(m, p, { json, token: viewer });
      const reads = m === "GET" || p.endsWith("dry-run");
      expect(r.status, `${m} ${p}`).toBe(reads ? 200 : 403);
    }
    expect(await countJobs()).toBe(before);
    expect((await call("GET", `/api/v1/admin/job/${id}`, { token: viewer })).body.state).toBe("active");
  });
});

describe("OpenAPI", () => {
  it("documents every campaign, task and pingback route", async () => {
    const r = await call("GET", "/openapi.json");
    expect(r.status).toBe(200);
    for (const p of [
      "/api/v1/admin/job",
      "/api/v1/admin/job/dry-run",
      "/api/v1/admin/jobs",
      "/api/v1/admin/job/{job_id}",
      "/api/v1/admin/job/{job_id}/pause",
      "/api/v1/admin/job/{job_id}/resume",
      "/api/v1/tasks",
      "/api/v1/task/{task_id}",
      "/api/v1/task/{task_id}/done",
      "/api/v1/pingback/{token}",
      "/api/v1/pingback/{token}/{action}",
    ]) {
      expect(r.body.paths[p], p).toBeTruthy();
    }
  });
});
