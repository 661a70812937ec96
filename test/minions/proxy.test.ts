import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, createOperator } from "../helpers";
import { closeAll, connectAgent, registerAgent, waitFor } from "./agents";

let token: string;
beforeAll(async () => {
  token = await adminToken();
});
afterEach(() => closeAll(token));

describe("ALL /proxy/:id@:port/*", () => {
  it("relays GET /status and returns the agent's status, headers and body", async () => {
    const sim = await connectAgent();
    const r = await call("GET", `/proxy/${sim.id}@5000/status`, { token });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.body).toEqual(sim.status);
  });

  it("relays any method, path, query and JSON body, and passes the agent's status code and safe headers through", async () => {
    const sim = await connectAgent(undefined, { capability: [5000, 8000] });
    sim.handler = (f) => ({ statusCode: 201, headers: { "x-agent": "stormflash", location: "/packages/9" }, body: JSON.stringify({ got: f }) });
    const op = await createOperator("operator");
    const r = await call("POST", `/proxy/${sim.id}@8000/packages?force=1`, { token: op.token, json: { name: "tcpdump", version: "4.9" } });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-agent")).toBe("stormflash");
    expect(r.headers.get("location")).toBeNull();
    expect(r.body.got).toMatchObject({ type: "relay", port: 8000, method: "POST", url: "/packages?force=1", data: { name: "tcpdump", version: "4.9" } });
    const del = await call("DELETE", `/proxy/${sim.id}@8000/packages/9`, { token: op.token });
    expect(del.body.got).toMatchObject({ method: "DELETE", url: "/packages/9", data: null });
  });

  it("strips the agent's Set-Cookie, Location and hop-by-hop headers, sandboxes the reply and downgrades an HTML content type", async () => {
    const sim = await connectAgent(undefined, { capability: [5000, 8000] });
    sim.handler = () => ({
      statusCode: 302,
      headers: {
        "set-cookie": "__Host-eo_session=x; Path=/",
        location: "https://evil.example/",
        "content-type": "text/html",
        connection: "close",
        "x-agent": "1",
      },
      body: "<script>alert(document.cookie)</script>",
    });
    const r = await call("GET", `/proxy/${sim.id}@8000/login`, { token });
    expect(r.status).toBe(302);
    expect(r.headers.get("set-cookie")).toBeNull();
    expect(r.headers.get("location")).toBeNull();
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("content-security-policy")).toBe("sandbox; default-src 'none'");
    expect(r.headers.get("x-agent")).toBe("1");
  });

  it("404 for a port outside the capability, an unknown agent, and an agent that went offline", async () => {
    const sim = await connectAgent();
    const port = await call("GET", `/proxy/${sim.id}@8000/status`, { token });
    expect(port.status).toBe(404);
    expect(port.body.code).toBe("not_found");
    expect(port.body.error).toMatch(/capability/);
    expect((await call("GET", `/proxy/${crypto.randomUUID()}@5000/status`, { token })).status).toBe(404);
    sim.close();
    await waitFor(async () => (await call("GET", `/proxy/${sim.id}@5000/status`, { token })).status === 404);
  });

  it("408 when the agent does not answer within PROXY_TIMEOUT_MS (300 ms in tests, 20 s by default)", async () => {
    const sim = await connectAgent();
    sim.mode = "silent";
    const t0 = Date.now();
    const r = await call("GET", `/proxy/${sim.id}@5000/status`, { token });
    expect(r.status).toBe(408);
    expect(r.body.code).toBe("request_timeout");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("500 when the agent reports an error, or its connection drops mid-request", async () => {
    const sim = await connectAgent();
    sim.mode = "error";
    const r = await call("GET", `/proxy/${sim.id}@5000/status`, { token });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: "agent error: connect ECONNREFUSED 127.0.0.1:5000", code: "internal" });
    sim.mode = "hold";
    const pending = call("GET", `/proxy/${sim.id}@5000/status`, { token });
    await waitFor(() => sim.held.length > 0);
    sim.close();
    expect((await pending).status).toBe(500);
  });

  it("viewers may read through the proxy; writes need an operator; no token is 401; a bad target is 400", async () => {
    const sim = await connectAgent();
    const viewer = await createOperator("viewer");
    expect((await call("GET", `/proxy/${sim.id}@5000/status`, { token: viewer.token })).status).toBe(200);
    expect((await call("POST", `/proxy/${sim.id}@5000/status`, { token: viewer.token, json: {} })).status).toBe(403);
    expect((await call("GET", `/proxy/${sim.id}@5000/status`)).status).toBe(401);
    const a = await registerAgent();
    expect((await call("GET", `/proxy/${sim.id}@5000/status`, { token: a.token })).status).toBe(403);
    expect((await call("GET", `/proxy/${sim.id}@99999/status`, { token })).status).toBe(400);
    expect((await call("GET", `/proxy/${sim.id}/status`, { token })).status).toBe(400);
  });
});
