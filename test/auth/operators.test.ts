import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator, registerProbe } from "../helpers";

const count = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM operators").first<{ n: number }>())!.n;

describe("operator accounts", () => {
  it("the admin creates operators with roles; the list shows them without password hashes", async () => {
    const admin = await adminToken();
    const r = await call("POST", "/api/v1/admin/operators", {
      token: admin,
      json: { username: "Alice", password: "a long enough password", role: "operator" },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: "alice", role: "operator", created_by: "admin", disabled_at: null });
    const l = await call("GET", "/api/v1/admin/operators", { token: admin });
    expect(l.body.operators.map((o: any) => o.username)).toContain("alice");
    expect(JSON.stringify(l.body)).not.toContain("pbkdf2");
    const ev = await env.DB.prepare("SELECT actor FROM events WHERE type = 'operator.created'").all<any>();
    expect(ev.results).toContainEqual({ actor: "operator:admin" });
  });

  it("a duplicate username, or the bootstrap admin's, is a 409 that changes nothing", async () => {
    const admin = await adminToken();
    await createOperator("viewer", "bob");
    const before = await count();
    for (const username of ["bob", "BOB", "admin"]) {
      const r = await call("POST", "/api/v1/admin/operators", { token: admin, json: { username, password: "another password", role: "admin" } });
      expect(r.status, username).toBe(409);
    }
    expect(await count()).toBe(before);
  });

  it("weak or malformed accounts are a 400", async () => {
    const admin = await adminToken();
    for (const json of [
      { username: "carol", password: "short", role: "viewer" },
      { username: "carol", password: "long enough password", role: "root" },
      { username: "c", password: "long enough password", role: "viewer" },
      { username: "has space", password: "long enough password", role: "viewer" },
    ]) {
      expect((await call("POST", "/api/v1/admin/operators", { token: admin, json })).status, JSON.stringify(json)).toBe(400);
    }
  });

  it("only admins manage accounts: operator and viewer get 403, probes 403, nobody 401", async () => {
    const op = await createOperator("operator");
    const viewer = await createOperator("viewer");
    const probe = await registerProbe();
    const json = { username: "mallory", password: "long enough password", role: "admin" };
    const before = await count();
    expect((await call("POST", "/api/v1/admin/operators", { token: op.token, json })).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/operators", { token: viewer.token, json })).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/operators", { token: probe.token, json })).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/operators", { json })).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/operators", { token: viewer.token })).status).toBe(403);
    expect(await count()).toBe(before);
  });

  it("an admin cannot disable itself; unknown accounts are 404", async () => {
    const a = await createOperator("admin");
    expect((await call("DELETE", `/api/v1/admin/operators/${a.username}`, { token: a.token })).status).toBe(409);
    expect((await call("DELETE", "/api/v1/admin/operators/nobody", { token: a.token })).status).toBe(404);
  });
});
