import { describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { registerAgent, SimAgent, upgrade, waitFor } from "./agents";

describe("GET /agents/:id/connect (WebSocket upgrade)", () => {
  it("accepts the device's own token in Authorization and answers hello with the beacon schedule", async () => {
    const a = await registerAgent();
    const res = await upgrade(a.id, { token: a.token });
    expect(res.status).toBe(101);
    const sim = new SimAgent(a.id, res.webSocket!);
    sim.hello();
    await waitFor(() => sim.frames.some((f) => f.type === "hello:reply"));
    expect(sim.frames.find((f) => f.type === "hello:reply")).toEqual({
      type: "hello:reply",
      beaconInterval: 10,
      beaconRetry: 3,
      beaconValidity: 45,
      monitorInterval: 600000,
    });
    sim.close();
  });

  it("accepts the token as the subprotocols 'bearer, <token>' and selects 'bearer'", async () => {
    const a = await registerAgent();
    const res = await upgrade(a.id, { protocolToken: a.token });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("bearer");
    const sim = new SimAgent(a.id, res.webSocket!);
    sim.hello();
    await waitFor(() => sim.frames.some((f) => f.type === "hello:reply"));
    sim.close();
  });

  it("answers beacons with beacon:reply, in the canonical form and in any other spelling", async () => {
    const a = await registerAgent();
    const sim = new SimAgent(a.id, (await upgrade(a.id, { token: a.token })).webSocket!);
    sim.send('{"type":"beacon"}');
    sim.send('{ "type": "beacon" }');
    await waitFor(() => sim.frames.filter((f) => f.type === "beacon:reply").length === 2);
    sim.close();
  });

  it("answers a malformed frame with an error frame and keeps the connection", async () => {
    const a = await registerAgent();
    const sim = new SimAgent(a.id, (await upgrade(a.id, { token: a.token })).webSocket!);
    sim.send('{"type":"hello","capability":"5000"}');
    await waitFor(() => sim.frames.some((f) => f.type === "error"));
    expect(sim.frames[0].error).toMatch(/capability/);
    sim.send('{"type":"beacon"}');
    await waitFor(() => sim.frames.some((f) => f.type === "beacon:reply"));
    expect(sim.closed).toBe(false);
    sim.close();
  });

  it("refuses another device's token with 403", async () => {
    const a = await registerAgent();
    const b = await registerAgent();
    const res = await upgrade(a.id, { token: b.token });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: "forbidden" });
    expect((await upgrade(a.id, { protocolToken: b.token })).status).toBe(403);
  });

  it("refuses an operator token with 403, no token with 401, a bad token with 401", async () => {
    const a = await registerAgent();
    expect((await upgrade(a.id, { token: await adminToken() })).status).toBe(403);
    const none = await upgrade(a.id);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "unauthorized" });
    expect((await upgrade(a.id, { token: "not.a.jwt" })).status).toBe(401);
  });

  it("refuses a plain GET with 426 and a malformed id with 400, in the one envelope", async () => {
    const a = await registerAgent();
    const plain = await call("GET", `/agents/${a.id}/connect`, { token: a.token });
    expect(plain.status).toBe(426);
    expect(plain.body.code).toBe("upgrade_required");
    const bad = await upgrade("not-a-uuid", { token: a.token });
    expect(bad.status).toBe(400);
  });

  it("a probe registered without a password has no token and cannot connect", async () => {
    const p = await registerProbe({ password: undefined });
    expect((await upgrade(p.clientId)).status).toBe(401);
  });
});

describe("OpenAPI", () => {
  it("documents the minion routes, including the WebSocket and proxy plain handlers", async () => {
    const doc = await call("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    for (const p of ["/minions", "/minions/{id}", "/minions/buckets", "/agents/{id}/connect", "/proxy/{target}/{path}"]) expect(doc.body.paths[p]).toBeTruthy();
  });
});
