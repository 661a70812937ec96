import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator } from "../helpers";

const NEW = "a brand new passphrase";
const login = (username: string, password: string) => call("POST", "/api/v1/login", { json: { username, password } });
const whoami = (token: string) => call("GET", "/api/v1/admin/clients?limit=1", { token });
const rows = (sql: string, ...binds: unknown[]) =>
  env.DB.prepare(sql)
    .bind(...binds)
    .all<Record<string, unknown>>()
    .then((r) => r.results);

describe("POST /api/v1/password (an operator changes their own password)", () => {
  it("ends every token of the operator at once; the new password logs in and the old one no longer does", async () => {
    const op = await createOperator("viewer");
    const second = (await login(op.username, op.password)).body.token as string;
    const r = await call("POST", "/api/v1/password", { token: op.token, json: { current_password: op.password, new_password: NEW } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ username: op.username, revoked: "everywhere" });
    expect(r.headers.get("cache-control")).toBe("no-store");
    for (const t of [op.token, second]) expect((await whoami(t)).status, "an old token").toBe(401);
    expect((await login(op.username, op.password)).status).toBe(401);
    const fresh = await login(op.username, NEW);
    expect(fresh.status).toBe(200);
    expect((await whoami(fresh.body.token)).status).toBe(200);
  });

  it("records an event and an audit entry naming the operator, never the password", async () => {
    const op = await createOperator("operator");
    expect((await call("POST", "/api/v1/password", { token: op.token, json: { current_password: op.password, new_password: NEW } })).status).toBe(200);
    const ev = await rows("SELECT actor, data FROM events WHERE type = 'operator.password_changed' AND subject_id = ?", op.username);
    expect(ev).toEqual([{ actor: `operator:${op.username}`, data: "{}" }]);
    const audit = await rows("SELECT actor, subject_kind, data FROM audit_log WHERE action = 'operator.password_changed' AND subject_id = ?", op.username);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: `operator:${op.username}`, subject_kind: "operator" });
    expect(JSON.stringify([ev, audit])).not.toContain(NEW);
    expect(JSON.stringify([ev, audit])).not.toContain(op.password);
  });

  it("a wrong current password is a 403 that changes no password, counts as a failed login and locks the account out like login does", async () => {
    const op = await createOperator("viewer");
    const guess = () => call("POST", "/api/v1/password", { token: op.token, json: { current_password: "not my password", new_password: NEW } });
    for (let i = 0; i < 5; i++) {
      const r = await guess();
      expect(r.status, `guess ${i + 1}`).toBe(403);
      expect(r.body).toMatchObject({ code: "forbidden", error: "the current password is wrong" });
    }
    const failed = await rows("SELECT data FROM events WHERE type = 'auth.login_failed' AND subject_id = ?", op.username);
    expect(failed).toHaveLength(5);
    expect(JSON.stringify(failed)).not.toContain("not my password");
    // Locked: the change with the right password waits, and so does a login.
    const locked = await call("POST", "/api/v1/password", { token: op.token, json: { current_password: op.password, new_password: NEW } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await login(op.username, op.password)).status).toBe(429);
    // Nothing changed: the token still works (the password was never replaced).
    expect((await whoami(op.token)).status).toBe(200);
    expect(await rows("SELECT 1 FROM events WHERE type = 'operator.password_changed' AND subject_id = ?", op.username)).toEqual([]);
  });

  it("the new password follows the account rule; a bad body is a 400 that changes nothing", async () => {
    const op = await createOperator("viewer");
    for (const json of [
      { current_password: op.password, new_password: "short" },
      { current_password: op.password, new_password: op.password },
      { current_password: op.password },
      { current_password: op.password, new_password: NEW, extra: 1 },
      { new_password: NEW },
    ]) {
      expect((await call("POST", "/api/v1/password", { token: op.token, json })).status, JSON.stringify(json)).toBe(400);
    }
    expect((await whoami(op.token)).status).toBe(200);
    expect((await login(op.username, op.password)).status).toBe(200);
  });

  it("the bootstrap admin cannot change its password through the API: it is the ADMIN_PASSWORD setting (409)", async () => {
    const admin = await adminToken();
    const r = await call("POST", "/api/v1/password", { token: admin, json: { current_password: "test-admin-password", new_password: NEW } });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatch(/ADMIN_PASSWORD setting/);
    expect((await whoami(admin)).status).toBe(200);
  });

  it("needs an operator token: anonymous is 401", async () => {
    expect((await call("POST", "/api/v1/password", { json: { current_password: "x", new_password: NEW } })).status).toBe(401);
  });
});

describe("POST /api/v1/admin/operators/:username/password (an admin resets another operator's)", () => {
  it("ends the operator's tokens; the new password logs in, the old one fails; event and audit name the admin", async () => {
    const admin = await adminToken();
    const op = await createOperator("operator");
    const r = await call("POST", `/api/v1/admin/operators/${op.username.toUpperCase()}/password`, { token: admin, json: { new_password: NEW } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ username: op.username, revoked: "everywhere" });
    expect((await whoami(op.token)).status).toBe(401);
    expect((await login(op.username, op.password)).status).toBe(401);
    expect((await login(op.username, NEW)).status).toBe(200);
    expect(await rows("SELECT actor FROM events WHERE type = 'operator.password_reset' AND subject_id = ?", op.username)).toEqual([
      { actor: "operator:admin" },
    ]);
    expect(await rows("SELECT actor FROM audit_log WHERE action = 'operator.password_reset' AND subject_id = ?", op.username)).toEqual([
      { actor: "operator:admin" },
    ]);
  });

  it("a reset clears the account's failure count, so a locked-out operator can log in with the new password", async () => {
    const admin = await adminToken();
    const op = await createOperator("viewer");
    for (let i = 0; i < 6; i++) await login(op.username, "wrong guess here");
    expect((await login(op.username, op.password)).status).toBe(429);
    expect((await call("POST", `/api/v1/admin/operators/${op.username}/password`, { token: admin, json: { new_password: NEW } })).status).toBe(200);
    expect((await login(op.username, NEW)).status).toBe(200);
  });

  it("refuses the bootstrap admin (409), one's own account (409), unknown or disabled accounts (404), a weak password (400), non-admins (403)", async () => {
    const admin = await adminToken();
    const a = await createOperator("admin");
    const op = await createOperator("operator");
    const gone = await createOperator("viewer");
    expect((await call("DELETE", `/api/v1/admin/operators/${gone.username}`, { token: admin })).status).toBe(200);
    const reset = (who: string, token: string, new_password = NEW) =>
      call("POST", `/api/v1/admin/operators/${who}/password`, { token, json: { new_password } });
    expect((await reset("admin", a.token)).status).toBe(409);
    expect((await reset(a.username, a.token)).status).toBe(409);
    expect((await reset("nobody-here", a.token)).status).toBe(404);
    expect((await reset(gone.username, a.token)).status).toBe(404);
    expect((await reset(op.username, a.token, "short")).status).toBe(400);
    expect((await reset(a.username, op.token)).status).toBe(403);
    expect((await login(op.username, op.password)).status).toBe(200);
  });
});
