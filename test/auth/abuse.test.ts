import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { lockedForS, nextFailureState } from "../../functions/auth/lockout";
import { settingsFrom } from "../../functions/lib/settings";
import { clientAddress } from "../../functions/lib/rate-limit";
import { ADMIN, call, createOperator, probeSecret, registerProbe, seedProbe } from "../helpers";
import { pythonRegisterCall } from "../school/helpers";

const abuse = settingsFrom(env).abuse;
const headers = (h: Record<string, string>) => new Headers(h);
let n = 0;
const v6 = () => `2001:db8::${(++n).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;

/** Sends until a 429 (at most `max` tries); the binding's windows are fixed, so a roll-over may allow up to twice the limit. */
async function until429(send: () => Promise<{ status: number }>, max: number) {
  let passed = 0;
  for (let i = 0; i < max; i++) {
    const r = await send();
    if (r.status === 429) return { passed, r };
    passed++;
  }
  return { passed, r: null };
}

describe("client addresses", () => {
  it("is CF-Connecting-IP; X-Forwarded-For is ignored unless the connecting address is a trusted front", () => {
    expect(clientAddress(headers({ "cf-connecting-ip": "203.0.113.9", "x-forwarded-for": "1.2.3.4" }), abuse)).toBe("203.0.113.9");
    expect(clientAddress(headers({ "x-forwarded-for": "1.2.3.4" }), abuse)).toBe("unknown");
    const trusted = { ...abuse, trustedFronts: ["10.0.0.1", "10.0.0.2"] };
    // The rightmost hop that is not ours is the client; what the client claims to its left is ignored.
    expect(clientAddress(headers({ "cf-connecting-ip": "10.0.0.1", "x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.0.0.2" }), trusted)).toBe("203.0.113.7");
    expect(clientAddress(headers({ "cf-connecting-ip": "10.0.0.1" }), trusted)).toBe("10.0.0.1");
    expect(clientAddress(headers({ "cf-connecting-ip": "10.0.0.1", "x-forwarded-for": "not an address" }), trusted)).toBe("10.0.0.1");
  });
});

describe("per-account lockout schedule", () => {
  it("lets LOGIN_LOCKOUT_AFTER failures pass, then doubles the wait up to the maximum; a quiet window starts over", () => {
    const t0 = new Date("2026-01-01T00:00:00Z");
    const s = { ...abuse, lockoutAfter: 5, lockoutBaseS: 2, lockoutMaxS: 900, failureWindowS: 900 };
    let st = null as ReturnType<typeof nextFailureState> | null;
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      st = nextFailureState(st, t0, s);
      waits.push(lockedForS(st, t0));
    }
    expect(waits).toEqual([0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256]);
    for (let i = 0; i < 10; i++) st = nextFailureState(st, t0, s);
    expect(lockedForS(st, t0)).toBe(900);
    expect(nextFailureState(st, new Date(t0.getTime() + 901_000), s).failures).toBe(1);
  });
});

describe("rate limits per address", () => {
  it("login: the 11th attempt in a minute from one address is a 429 with Retry-After, in the API envelope", async () => {
    const ip = v6();
    const { passed, r } = await until429(
      () => call("POST", "/api/v1/login", { json: { username: `nobody-${++n}`, password: "x" }, headers: { "cf-connecting-ip": ip } }),
      25,
    );
    expect(r).not.toBeNull();
    expect(passed).toBeGreaterThanOrEqual(10);
    expect(r?.status).toBe(429);
    expect((r as any).headers.get("retry-after")).toBe("60");
    expect((r as any).body).toMatchObject({ code: "rate_limited" });
    // Another address is not affected.
    expect((await call("POST", "/api/v1/login", { json: ADMIN, headers: { "cf-connecting-ip": v6() } })).status).toBe(200);
  });

  it("probe registration is limited per address; the school's JSON register answers in its own envelope", async () => {
    const ip = v6();
    const reg = await until429(
      () => call("POST", "/api/v1/register", { json: seedProbe({ password: probeSecret() }), headers: { "cf-connecting-ip": ip } }),
      70,
    );
    expect(reg.r?.status).toBe(429);
    expect(reg.passed).toBeGreaterThanOrEqual(30);
    const school = await call("POST", "/client/register", { json: { uid: crypto.randomUUID() }, headers: { "cf-connecting-ip": ip } });
    expect(school.status).toBe(429);
    expect(school.body).toMatchObject({ success: "ERR", code: "rate_limited" });
    expect(school.headers.get("retry-after")).toBe("60");
  });

  it("XML-RPC register keeps its contract when limited: HTTP 200 with a fault", async () => {
    const ip = v6();
    const send = () =>
      call("POST", "/RPC2", { raw: pythonRegisterCall("", "kid", crypto.randomUUID(), ""), headers: { "content-type": "text/xml", "cf-connecting-ip": ip } });
    let last: any = null;
    for (let i = 0; i < 70; i++) {
      last = await send();
      expect(last.status).toBe(200);
      if (typeof last.body === "string" ? last.body.includes("faultCode") : false) break;
    }
    const text = typeof last.body === "string" ? last.body : "";
    expect(text).toContain("<name>faultCode</name>");
    expect(text).toContain("too many requests");
  });

  it("addresses in RATE_LIMIT_EXEMPT (here: requests without an address) are not counted", async () => {
    for (let i = 0; i < 12; i++) expect((await call("POST", "/api/v1/login", { json: { username: `nobody-${++n}`, password: "x" } })).status).toBe(401);
  });
});

describe("per-account login failures", () => {
  it("after 5 failures an account waits (429, Retry-After) even with the right password; failures are events without the password", async () => {
    const op = await createOperator("viewer");
    const ip = v6();
    for (let i = 0; i < 5; i++) {
      const r = await call("POST", "/api/v1/login", { json: { username: op.username, password: "wrong-password-guess" } });
      expect(r.status).toBe(401);
    }
    const locked = await call("POST", "/api/v1/login", { json: { username: op.username, password: op.password }, headers: { "cf-connecting-ip": ip } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const rows = await env.DB.prepare("SELECT actor, data FROM events WHERE type = 'auth.login_failed' AND subject_kind = 'operator' AND subject_id = ?")
      .bind(op.username)
      .all<{ actor: string; data: string }>();
    expect(rows.results).toHaveLength(5);
    for (const e of rows.results) {
      expect(e.actor).toMatch(/^address:[0-9a-f]{16}$/);
      expect(e.data).not.toContain("wrong-password-guess");
    }
    expect(JSON.parse(rows.results[4].data)).toMatchObject({ failures: 5 });
  });

  it("a success clears the count", async () => {
    const op = await createOperator("viewer");
    for (let i = 0; i < 4; i++) await call("POST", "/api/v1/login", { json: { username: op.username, password: "nope-nope-nope" } });
    expect((await call("POST", "/api/v1/login", { json: { username: op.username, password: op.password } })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await call("POST", "/api/v1/login", { json: { username: op.username, password: "nope-nope-nope" } })).status).toBe(401);
  });

  it("ADMIN_PASSWORD shorter than 16 characters is a misconfiguration", () => {
    expect(() => settingsFrom({ ...env, ADMIN_PASSWORD: "short-password" } as Env)).toThrow(/ADMIN_PASSWORD must be at least 16/);
  });
});

describe("revocation", () => {
  it("logout revokes the presented token only; everywhere revokes every token of the principal", async () => {
    const op = await createOperator("viewer");
    const second = (await call("POST", "/api/v1/login", { json: { username: op.username, password: op.password } })).body.token;
    expect((await call("POST", "/api/v1/logout", { token: op.token })).body).toEqual({ revoked: "token" });
    expect((await call("GET", "/api/v1/admin/clients", { token: op.token })).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/clients", { token: second })).status).toBe(200);
    expect((await call("POST", "/api/v1/logout", { token: second, json: { everywhere: true } })).body).toEqual({ revoked: "everywhere" });
    expect((await call("GET", "/api/v1/admin/clients", { token: second })).status).toBe(401);
    const fresh = (await call("POST", "/api/v1/login", { json: { username: op.username, password: op.password } })).body.token;
    expect((await call("GET", "/api/v1/admin/clients", { token: fresh })).status).toBe(200);
    expect((await call("POST", "/api/v1/logout", { json: { bogus: 1 }, token: fresh })).status).toBe(400);
    expect((await call("POST", "/api/v1/logout")).status).toBe(401);
  });

  it("a probe's logout everywhere ends its tokens; tokens issued before versions count as version 0", async () => {
    const p = await registerProbe();
    const legacy = await new SignJWT({ kind: "probe", role: "probe" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(p.clientId)
      .setIssuer("edge-orchestra")
      .setAudience("edge-orchestra:probe")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(settingsFrom(env).jwtSecret);
    const asProbe = (t: string) => call("POST", "/api/v1/logout", { token: t, json: { everywhere: true } });
    expect((await asProbe(legacy)).status).toBe(200); // valid (version 0), and now revoked with everything else
    expect((await asProbe(legacy)).status).toBe(401);
    expect((await asProbe(p.token as string)).status).toBe(401);
  });

  it("an operator disables a probe: its token and its login fail; enabling lets it log in again", async () => {
    const p = await registerProbe();
    const op = await createOperator("operator");
    const viewer = await createOperator("viewer");
    expect((await call("POST", `/api/v1/admin/clients/${p.clientId}/disable`, { token: viewer.token })).status).toBe(403);
    expect((await call("POST", `/api/v1/admin/clients/${p.clientId}/disable`, { token: op.token })).body).toEqual({ client_id: p.clientId, disabled: true });
    expect((await call("POST", "/api/v1/logout", { token: p.token })).status).toBe(401);
    expect((await call("POST", "/api/v1/login", { json: { username: p.clientId, password: p.password } })).status).toBe(401);
    expect((await call("POST", `/api/v1/admin/clients/${p.clientId}/enable`, { token: op.token })).body).toEqual({ client_id: p.clientId, disabled: false });
    expect((await call("POST", "/api/v1/logout", { token: p.token })).status).toBe(401);
    const again = await call("POST", "/api/v1/login", { json: { username: p.clientId, password: p.password } });
    expect(again.status).toBe(200);
    expect((await call("POST", "/api/v1/logout", { token: again.body.token })).status).toBe(200);
    expect((await call("POST", `/api/v1/admin/clients/${crypto.randomUUID()}/disable`, { token: op.token })).status).toBe(404);
  });

  it("a bootstrap admin token without the current ADMIN_PASSWORD stamp is refused", async () => {
    const forged = await new SignJWT({ kind: "operator", role: "admin", ver: 0 })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("admin")
      .setIssuer("edge-orchestra")
      .setAudience("edge-orchestra:operator")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(settingsFrom(env).jwtSecret);
    expect((await call("GET", "/api/v1/admin/clients", { token: forged })).status).toBe(401);
  });
});
