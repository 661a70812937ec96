import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, createOperator } from "../helpers";
import { agentStub, closeAll, connectAgent, registerAgent, registerProbeAgent, tick, upgrade, waitFor } from "./agents";

let token: string;
let operator: string;
let viewer: string;
beforeAll(async () => {
  token = await adminToken();
  operator = (await createOperator("operator")).token;
  viewer = (await createOperator("viewer")).token;
});
afterEach(() => closeAll(token));

const listed = async (id: string) => (await call("HEAD", `/minions/${id}`, { token })).status === 200;
const disable = (id: string, t = operator) => call("POST", `/api/v1/admin/minions/${id}/disable`, { token: t });
const enable = (id: string, t = operator) => call("POST", `/api/v1/admin/minions/${id}/enable`, { token: t });

describe("disabling an agent", () => {
  it("closes its socket, takes it out of the registry, revokes its token; it can neither log in nor connect until enabled", async () => {
    const a = await registerAgent();
    const sim = await connectAgent(a);
    await waitFor(() => listed(a.id), 3000, "listed");
    const r = await disable(a.id);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ client_id: a.id, disabled: true });
    await waitFor(() => sim.closed, 3000, "the socket to close");
    expect(await listed(a.id)).toBe(false);
    const again = await upgrade(a.id, { token: a.token });
    expect(again.status).toBe(401);
    const login = await call("POST", "/api/v1/agents/login", { json: { client_id: a.id, secret: a.secret } });
    expect(login.status).toBe(403);
    expect(login.body.error).toMatch(/disabled/);
    // Enabled: the old token stays revoked, a new login connects and is listed again.
    expect((await enable(a.id)).body).toEqual({ client_id: a.id, disabled: false });
    expect((await upgrade(a.id, { token: a.token })).status).toBe(401);
    const fresh = await call("POST", "/api/v1/agents/login", { json: { client_id: a.id, secret: a.secret } });
    expect(fresh.status).toBe(200);
    await connectAgent({ id: a.id, token: fresh.body.token });
    // A reconnect's hello poll is throttled (AGENT_HELLO_POLLS_PER_INTERVAL): the monitor tick polls it.
    await tick(a.id);
    await waitFor(() => listed(a.id), 3000, "listed again");
  });

  it("the agent's object refuses a token from before the disable even if the Worker's check raced it", async () => {
    const a = await registerAgent();
    expect((await disable(a.id)).status).toBe(200);
    // Straight to the object, as a connect authorised just before the disable committed would arrive.
    const res = await agentStub(a.id).fetch(
      new Request("https://minion-agent/connect", {
        headers: { upgrade: "websocket", "x-minion-id": a.id, "x-minion-kind": "agent", "x-minion-version": "0" },
      }),
    );
    expect(res.status).toBe(403);
    expect(res.webSocket).toBeNull();
  });

  it("records an event and an audit entry naming the operator; needs the operator role; unknown agents are 404", async () => {
    const a = await registerAgent();
    expect((await disable(a.id, viewer)).status).toBe(403);
    expect((await call("POST", `/api/v1/admin/minions/${a.id}/disable`)).status).toBe(401);
    expect((await disable(a.id)).status).toBe(200);
    expect((await enable(a.id)).status).toBe(200);
    const ev = await env.DB.prepare("SELECT type FROM events WHERE subject_kind = 'minion' AND subject_id = ? AND type LIKE 'agent.%abled' ORDER BY id")
      .bind(a.id)
      .all<{ type: string }>();
    expect(ev.results.map((e) => e.type)).toEqual(["agent.disabled", "agent.enabled"]);
    const audit = await env.DB.prepare("SELECT action FROM audit_log WHERE subject_id = ? ORDER BY seq").bind(a.id).all<{ action: string }>();
    expect(audit.results.map((e) => e.action)).toEqual(["agent.disabled", "agent.enabled"]);
    expect((await disable(crypto.randomUUID())).status).toBe(404);
    expect((await disable("not-a-uuid")).status).toBe(400);
  });

  it("disabling a probe closes the minion socket its probe token opened (open enrolment)", async () => {
    const p = await registerProbeAgent();
    const sim = await connectAgent(p);
    await waitFor(() => listed(p.id), 3000, "listed");
    expect((await call("POST", `/api/v1/admin/clients/${p.id}/disable`, { token: operator })).status).toBe(200);
    await waitFor(() => sim.closed, 3000, "the socket to close");
    expect(await listed(p.id)).toBe(false);
    expect((await upgrade(p.id, { token: p.token })).status).toBe(401);
  });
});
