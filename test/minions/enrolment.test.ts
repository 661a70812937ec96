import { env } from "cloudflare:workers";
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import worker from "../../functions/index";
import { helloPollGapMs } from "../../durable-objects/minion-agent";
import { connectKindAllowed, enrolmentVerdict } from "../../functions/minions/enrolment";
import { minionsSettings } from "../../functions/minions/settings";
import { adminToken, BASE, call, createOperator } from "../helpers";
import { agentStub, closeAll, connectAgent, registerAgent, registerProbeAgent, seedStatus, SimAgent, upgrade, waitFor } from "./agents";

let token: string;
beforeAll(async () => {
  token = await adminToken();
});
afterEach(() => closeAll(token));

const SECRET = "enrol-me-0123456789abcdef";

/** A request to the Worker under other settings (the same D1 and Durable Objects). */
async function under(
  vars: Record<string, string>,
  method: string,
  path: string,
  opts: { json?: unknown; token?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.json !== undefined) headers["content-type"] = "application/json";
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${path}`, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) }),
    { ...env, ...vars } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("agent enrolment (AGENT_ENROLMENT)", () => {
  it("open (the default): an agent registers, logs in and gets a token of kind agent that connects", async () => {
    const reg = await call("POST", "/api/v1/agents/register", { json: { name: "kvm1" } });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ state: "active" });
    expect(reg.body.secret.length).toBeGreaterThanOrEqual(43);
    const login = await call("POST", "/api/v1/agents/login", { json: { client_id: reg.body.client_id, secret: reg.body.secret } });
    expect(login.status).toBe(200);
    const claims = JSON.parse(atob(login.body.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(claims).toMatchObject({ kind: "agent", role: "agent", aud: "edge-orchestra:agent", sub: reg.body.client_id });
    expect((await call("POST", "/api/v1/agents/login", { json: { client_id: reg.body.client_id, secret: "wrong" } })).status).toBe(401);
    const sim = await connectAgent({ id: reg.body.client_id, token: login.body.token });
    await waitFor(async () => (await call("HEAD", `/minions/${sim.id}`, { token })).status === 200);
  });

  it("an agent token is not a probe token: it cannot use probe routes, and a probe token connects only in open mode", async () => {
    const a = await registerAgent();
    expect((await call("GET", "/api/v1/tasks", { token: a.token })).status).toBe(403);
    const p = await registerProbeAgent();
    expect((await upgrade(p.id, { token: p.token })).status).toBe(101);
    for (const mode of ["token", "approval"]) {
      const r = await under({ AGENT_ENROLMENT: mode, AGENT_ENROLMENT_SECRET: SECRET }, "GET", `/agents/${p.id}/connect`, {
        token: p.token,
        headers: { upgrade: "websocket" },
      });
      expect(r.status, mode).toBe(403);
      expect(((await r.json()) as { error: string }).error).toMatch(/AGENT_ENROLMENT is open/);
    }
    expect(connectKindAllowed("agent", "approval")).toBe(true);
    expect(connectKindAllowed("probe", "open")).toBe(true);
    expect(connectKindAllowed("probe", "token")).toBe(false);
    expect(connectKindAllowed("operator", "open")).toBe(false);
  });

  it("token: register needs the shared enrolment secret; without it or with a wrong one it is 403 and nothing is stored", async () => {
    const vars = { AGENT_ENROLMENT: "token", AGENT_ENROLMENT_SECRET: SECRET };
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM agents").first<{ n: number }>())!.n;
    for (const json of [{}, { enrolment_secret: "wrong" }, { enrolment_secret: `${SECRET}x` }]) {
      const r = await under(vars, "POST", "/api/v1/agents/register", { json });
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ code: "forbidden" });
    }
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM agents").first<{ n: number }>())!.n).toBe(before);
    const ok = await under(vars, "POST", "/api/v1/agents/register", { json: { enrolment_secret: SECRET } });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ state: "active" });
    // token mode without a secret configured (or a short one) is the deployment's fault: 503.
    expect((await under({ AGENT_ENROLMENT: "token" }, "POST", "/api/v1/agents/register", { json: {} })).status).toBe(503);
    expect((await under({ AGENT_ENROLMENT: "token", AGENT_ENROLMENT_SECRET: "short" }, "POST", "/api/v1/agents/register", { json: {} })).status).toBe(503);
    expect((await under({ AGENT_ENROLMENT: "closed" }, "POST", "/api/v1/agents/register", { json: {} })).status).toBe(503);
    expect(await enrolmentVerdict({ enrolment: "token", enrolmentSecret: SECRET }, SECRET)).toBe("active");
  });

  it("approval: a pending agent cannot log in or connect until an admin approves it; operators below admin cannot approve", async () => {
    const vars = { AGENT_ENROLMENT: "approval" };
    const reg = (await (await under(vars, "POST", "/api/v1/agents/register", { json: { name: "site-7" } })).json()) as Record<string, string>;
    expect(reg.state).toBe("pending");
    const login = await call("POST", "/api/v1/agents/login", { json: { client_id: reg.client_id, secret: reg.secret } });
    expect(login.status).toBe(403);
    expect(login.body.error).toMatch(/approval/);
    const op = await createOperator("operator");
    expect((await call("POST", `/api/v1/admin/minions/${reg.client_id}/approve`, { token: op.token })).status).toBe(403);
    expect((await call("POST", `/api/v1/admin/minions/${reg.client_id}/approve`)).status).toBe(401);
    expect((await call("POST", `/api/v1/admin/minions/${crypto.randomUUID()}/approve`, { token })).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/minions/nope/approve", { token })).status).toBe(400);
    const ok = await call("POST", `/api/v1/admin/minions/${reg.client_id}/approve`, { token });
    expect(ok).toMatchObject({ status: 200, body: { client_id: reg.client_id, state: "active" } });
    const ev = await env.DB.prepare("SELECT type, actor FROM events WHERE subject_id = ? AND type LIKE 'agent.%' ORDER BY id").bind(reg.client_id).all();
    expect(ev.results).toEqual([
      { type: "agent.registered", actor: `agent:${reg.client_id}` },
      { type: "agent.approved", actor: "operator:admin" },
    ]);
    const after = await call("POST", "/api/v1/agents/login", { json: { client_id: reg.client_id, secret: reg.secret } });
    expect(after.status).toBe(200);
    expect((await upgrade(reg.client_id, { token: after.body.token })).status).toBe(101);
  });

  it("an agent set back to pending cannot connect with the token it already had (the connect reads its state)", async () => {
    const a = await registerAgent();
    await env.DB.prepare("UPDATE agents SET state = 'pending' WHERE id = ?").bind(a.id).run();
    const r = await upgrade(a.id, { token: a.token });
    expect(r.status).toBe(403);
  });

  it("settings: open by default, 64 KiB status cap, 4 hello polls per monitor interval", () => {
    const s = minionsSettings({ ...env, AGENT_ENROLMENT: "", AGENT_STATUS_MAX_BYTES: "", AGENT_HELLO_POLLS_PER_INTERVAL: "" } as unknown as Env);
    expect(s).toMatchObject({ enrolment: "open", statusMaxBytes: 65_536, helloPollsPerInterval: 4 });
    expect(helloPollGapMs(15_000, 4)).toBe(3750);
  });
});

describe("agent status hardening", () => {
  it("a status reply over AGENT_STATUS_MAX_BYTES is refused: the minion keeps its last status and one event says why", async () => {
    const sim = await connectAgent();
    await waitFor(async () => (await call("HEAD", `/minions/${sim.id}`, { token })).status === 200);
    const before = await call("GET", `/minions/${sim.id}`, { token });
    sim.status = seedStatus({ id: sim.id, blob: "x".repeat(70_000) });
    const { tick } = await import("./agents");
    await tick(sim.id);
    await tick(sim.id);
    const after = await call("GET", `/minions/${sim.id}`, { token });
    expect(after.body).toEqual(before.body);
    const ev = await env.DB.prepare("SELECT data FROM events WHERE subject_id = ? AND type = 'minion.status_refused'").bind(sim.id).all<{ data: string }>();
    expect(ev.results).toHaveLength(1);
    expect(JSON.parse(ev.results[0].data)).toMatchObject({ reason: "status too large", limit: 65_536 });
    expect(JSON.parse(ev.results[0].data).bytes).toBeGreaterThan(70_000);
    // A status back under the cap is stored again.
    sim.status = seedStatus({ id: sim.id, hostname: "smaller" });
    await tick(sim.id);
    expect((await call("GET", `/minions/${sim.id}`, { token })).body.hostname).toBe("smaller");
  });

  it("hello-triggered polls are throttled: a reconnect loop polls once, the rest wait for the alarm", async () => {
    const a = await registerAgent();
    const first = await connectAgent(a);
    await waitFor(() => first.relays().length === 1);
    let polls = first.relays().length;
    for (let i = 0; i < 5; i++) {
      const res = await upgrade(a.id, { token: a.token });
      const sim = new SimAgent(a.id, res.webSocket!);
      sim.hello();
      await waitFor(() => sim.frames.some((f) => f.type === "hello:reply"));
      await new Promise((r) => setTimeout(r, 30));
      polls += sim.relays().length;
      sim.close();
    }
    expect(polls).toBe(1);
    const alarm = await runInDurableObject(agentStub(a.id), (_o, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
  });
});
