import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createOperator, registerProbe } from "../helpers";

describe("POST /api/v1/login", () => {
  it("logs a probe in with its client_id and password: token with role probe, RFC 3339 expiry", async () => {
    const { clientId, password } = await registerProbe();
    const r = await call("POST", "/api/v1/login", { json: { username: clientId, password } });
    expect(r.status).toBe(200);
    expect(r.body.expire).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const claims = decodeJwt(r.body.token);
    expect(claims).toMatchObject({ sub: clientId, role: "probe" });
    expect(new Date(r.body.expire).getTime() / 1000).toBe(claims.exp);
  });

  it("logs the bootstrap admin in from the ADMIN_USERNAME/ADMIN_PASSWORD settings", async () => {
    const r = await call("POST", "/api/v1/login", { json: ADMIN });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.token)).toMatchObject({ sub: "admin", role: "admin" });
  });

  it("logs an operator in with the role of the account", async () => {
    const op = await createOperator("viewer");
    expect(decodeJwt(op.token)).toMatchObject({ sub: op.username, role: "viewer" });
  });

  it("refuses a wrong password with 401 for probes, operators and the admin alike", async () => {
    const { clientId } = await registerProbe();
    const op = await createOperator("operator");
    for (const body of [
      { username: clientId, password: "wrong" },
      { username: op.username, password: "wrong password!" },
      { username: "admin", password: "wrong" },
      { username: "nobody-here", password: "whatever" },
      // An unknown client_id (UUID or OONI token) is adopted instead: test/ooni/adoption.test.ts.
    ]) {
      const r = await call("POST", "/api/v1/login", { json: body });
      expect(r.status, JSON.stringify(body)).toBe(401);
      expect(r.body).toEqual({ error: "wrong username or password", code: "wrong_credentials" });
    }
  });

  it("a probe registered without a password cannot log in", async () => {
    const { clientId } = await registerProbe({ password: undefined });
    const r = await call("POST", "/api/v1/login", { json: { username: clientId, password: "anything" } });
    expect(r.status).toBe(401);
  });

  it("missing or mistyped fields are a 400, not a 401", async () => {
    for (const body of [{}, { username: "admin" }, { password: "x" }, { username: 1, password: "x" }, { username: "", password: "x" }]) {
      const r = await call("POST", "/api/v1/login", { json: body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe("validation_failed");
    }
  });

  it("a disabled operator can no longer log in, and its existing token stops working", async () => {
    const op = await createOperator("operator");
    const admin = (await call("POST", "/api/v1/login", { json: ADMIN })).body.token;
    expect((await call("GET", "/api/v1/admin/clients", { token: op.token })).status).toBe(200);
    const d = await call("DELETE", `/api/v1/admin/operators/${op.username}`, { token: admin });
    expect(d.status).toBe(200);
    expect(d.body.disabled_at).not.toBeNull();
    expect((await call("POST", "/api/v1/login", { json: { username: op.username, password: op.password } })).status).toBe(401);
    const r = await call("GET", "/api/v1/admin/clients", { token: op.token });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("invalid_token");
  });

  it("records probes' last login as last seen", async () => {
    const { clientId, password } = await registerProbe();
    await env.DB.prepare("UPDATE probes SET last_seen_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(clientId).run();
    await call("POST", "/api/v1/login", { json: { username: clientId, password } });
    const row = await env.DB.prepare("SELECT last_seen_at FROM probes WHERE id = ?").bind(clientId).first<any>();
    expect(row.last_seen_at > "2020").toBe(true);
  });
});

describe("bearer tokens", () => {
  it("a tampered, foreign or malformed token is a 401 on operator routes", async () => {
    const admin = (await call("POST", "/api/v1/login", { json: ADMIN })).body.token as string;
    const [h, p, s] = admin.split(".");
    const forged = `${h}.${btoa(JSON.stringify({ ...decodeJwt(admin), role: "admin", sub: "mallory" })).replace(/=+$/, "")}.${s}`;
    for (const auth of [`Bearer ${forged}`, `Bearer ${p}`, "Bearer", "Basic YWRtaW46YWRtaW4=", `Bearer ${admin}x`]) {
      const r = await call("GET", "/api/v1/admin/clients", { headers: { authorization: auth } });
      expect(r.status, auth).toBe(401);
      expect(["invalid_token", "unauthorized"]).toContain(r.body.code);
    }
  });

  it("a probe token cannot be used on operator routes (403)", async () => {
    const { token } = await registerProbe();
    const r = await call("GET", "/api/v1/admin/clients", { token });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("forbidden");
  });
});
