import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, createOperator, registerProbe } from "../helpers";
import { call, consoleLogin, cookieValue, csrfOf, FORM, form, get, post, setCookies } from "./helpers";

const operatorCount = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM operators").first<{ n: number }>())!.n;

/** GET the login page, then POST the form with its nonce cookie. */
async function login(username: string, password: string, o: { origin?: string; csrf?: string; next?: string } = {}) {
  const page = await call("GET", "/console/login");
  const nonce = cookieValue(setCookies(page.headers)["__Host-eo_login"]);
  const fields: Record<string, string> = { username, password, _csrf: o.csrf ?? csrfOf(page.body) };
  if (o.next) fields.next = o.next;
  const headers: Record<string, string> = { ...FORM, cookie: `__Host-eo_login=${nonce}` };
  if (o.origin) headers.origin = o.origin;
  return call("POST", "/console/login", { raw: form(fields), headers });
}

describe("console login and session cookie", () => {
  it("the login form binds its CSRF token to a short-lived, HttpOnly, Secure, SameSite=Strict nonce cookie", async () => {
    const r = await call("GET", "/console/login");
    expect(r.status).toBe(200);
    const c = setCookies(r.headers)["__Host-eo_login"];
    expect(c).toMatch(/HttpOnly/);
    expect(c).toMatch(/Secure/);
    expect(c).toMatch(/SameSite=Strict/);
    expect(c).toMatch(/Path=\/(;|$)/);
    expect(c).not.toMatch(/Domain=/i);
    expect(r.headers.get("cache-control")).toBe("no-store");
  });

  it("a good login sets the session cookie: the API's operator JWT, HttpOnly, Secure, SameSite=Lax, a __Host- cookie (Path=/, no Domain)", async () => {
    const r = await login(ADMIN.username, ADMIN.password);
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/console");
    const c = setCookies(r.headers)["__Host-eo_session"];
    expect(c).toMatch(/HttpOnly/);
    expect(c).toMatch(/; Secure/);
    expect(c).toMatch(/SameSite=Lax/);
    expect(c).toMatch(/Path=\/(;|$)/);
    expect(c).not.toMatch(/Domain=/i);
    expect(c).toMatch(/Max-Age=43\d\d\d/); // OPERATOR_TOKEN_TTL_S = 43200
    // The same token works as a Bearer on the API: one token format, one verification.
    const jwt = cookieValue(c)!;
    const api = await (await import("../helpers")).call("GET", "/api/v1/admin/clients", { token: jwt });
    expect(api.status).toBe(200);
  });

  it("returns to the page that asked for login, but never to another origin", async () => {
    expect((await login(ADMIN.username, ADMIN.password, { next: "/console/probes?country=IT" })).headers.get("location")).toBe("/console/probes?country=IT");
    for (const next of ["https://evil.example/console", "//evil.example/console", "/console/..//evil", "/\\evil.example", "/api/v1/admin/clients"]) {
      expect((await login(ADMIN.username, ADMIN.password, { next })).headers.get("location"), next).toBe("/console");
    }
  });

  it("a wrong password re-renders the form with an error and sets no session", async () => {
    const r = await login(ADMIN.username, "not the password");
    expect(r.status).toBe(401);
    expect(r.body).toContain("Wrong username or password.");
    expect(r.body).toContain('value="admin"');
    expect(setCookies(r.headers)["__Host-eo_session"]).toBeUndefined();
  });

  it("a login POST without the form's token, or from another origin, is refused (login CSRF)", async () => {
    const noToken = await login(ADMIN.username, ADMIN.password, { csrf: "forged" });
    expect(noToken.status).toBe(403);
    expect(setCookies(noToken.headers)["__Host-eo_session"]).toBeUndefined();
    const cross = await login(ADMIN.username, ADMIN.password, { origin: "https://evil.example" });
    expect(cross.status).toBe(403);
    expect(setCookies(cross.headers)["__Host-eo_session"]).toBeUndefined();
    const noCookie = await call("POST", "/console/login", { raw: form({ username: "admin", password: ADMIN.password, _csrf: "x" }), headers: FORM });
    expect(noCookie.status).toBe(403);
  });

  it("a probe's credentials do not open the console", async () => {
    const p = await registerProbe();
    const r = await login(p.clientId, p.password!);
    expect(r.status).toBe(401);
    expect(setCookies(r.headers)["__Host-eo_session"]).toBeUndefined();
  });

  it("without a session every page sends the browser to login, remembering where it was going", async () => {
    const r = await get(null, "/console/probes?country=IT");
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/console/login?next=%2Fconsole%2Fprobes%3Fcountry%3DIT");
    expect((await get(null, "/console")).headers.get("location")).toBe("/console/login");
  });

  it("a forged or expired cookie is removed and the browser sent to login", async () => {
    const r = await call("GET", "/console", { headers: { cookie: "__Host-eo_session=eyJhbGciOiJIUzI1NiJ9.e30.bad" } });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/console/login?reason=expired");
    expect(setCookies(r.headers)["__Host-eo_session"]).toMatch(/Max-Age=0/);
  });

  it("disabling an operator ends their console session at once (the same still-enabled check as the API)", async () => {
    const op = await createOperator("operator");
    const b = await consoleLogin(op.username, op.password);
    expect((await get(b, "/console/probes")).status).toBe(200);
    const admin = await consoleLogin();
    expect((await post(admin, `/console/operators/${op.username}/disable`, {})).status).toBe(303);
    const r = await get(b, "/console/probes");
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toContain("reason=expired");
  });

  it("logout clears the cookie and lands on the login page", async () => {
    const b = await consoleLogin();
    const r = await post(b, "/console/logout", {});
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/console/login?reason=logged-out");
    expect(setCookies(r.headers)["__Host-eo_session"]).toMatch(/Max-Age=0/);
    const page = await call("GET", "/console/login?reason=logged-out");
    expect(page.body).toContain("You have logged out.");
  });
});

describe("console CSRF protection", () => {
  it("a POST without the CSRF token, with a wrong one, or with another session's is refused with 403 and changes nothing", async () => {
    const admin = await consoleLogin();
    const other = await consoleLogin();
    const before = await operatorCount();
    const fields = { username: "csrf-victim", password: "long enough password", role: "admin" };
    for (const csrf of [null, "", "AAAA", other.csrf === admin.csrf ? "x" : other.csrf]) {
      const r = await post(admin, "/console/operators", fields, { csrf });
      expect(r.status, String(csrf)).toBe(403);
      expect(r.body).toContain("security token");
    }
    expect(await operatorCount()).toBe(before);
  });

  it("a POST from another origin is refused even with a valid token", async () => {
    const admin = await consoleLogin();
    const before = await operatorCount();
    const r = await post(
      admin,
      "/console/operators",
      { username: "cross-site", password: "long enough password", role: "admin" },
      { origin: "https://evil.example" },
    );
    expect(r.status).toBe(403);
    expect(r.body).toContain("cross-site");
    const fetchMeta = await call("POST", "/console/logout", {
      raw: form({ _csrf: admin.csrf }),
      headers: { ...FORM, cookie: admin.cookie, "sec-fetch-site": "cross-site" },
    });
    expect(fetchMeta.status).toBe(403);
    expect(await operatorCount()).toBe(before);
  });

  it("a console POST that is not a form (e.g. JSON) is refused", async () => {
    const admin = await consoleLogin();
    const r = await call("POST", "/console/operators", {
      raw: JSON.stringify({ _csrf: admin.csrf, username: "jsonuser", password: "long enough password", role: "admin" }),
      headers: { "content-type": "application/json", cookie: admin.cookie },
    });
    expect(r.status).toBe(403);
  });

  it("CSRF tokens are per session: a token is bound to the session token it was derived from", async () => {
    const { csrfToken, csrfValid } = await import("../../functions/console/session");
    const { settingsFrom } = await import("../../functions/lib/settings");
    const s = settingsFrom(env);
    const t = await csrfToken(s, "session", "jwt-a");
    expect(await csrfValid(s, "session", "jwt-a", t)).toBe(true);
    expect(await csrfValid(s, "session", "jwt-b", t)).toBe(false);
    expect(await csrfValid(s, "login", "jwt-a", t)).toBe(false);
    expect(await csrfValid(s, "session", "jwt-a", undefined)).toBe(false);
  });
});

describe("roles in the console", () => {
  it("a viewer sees the operators page without create or disable controls, and a forged POST gets 403 and changes nothing", async () => {
    const v = await createOperator("viewer");
    await createOperator("operator", "victim-op");
    const b = await consoleLogin(v.username, v.password);
    const page = await get(b, "/console/operators");
    expect(page.status).toBe(200);
    expect(page.body).toContain("Only admins");
    expect(page.body).not.toContain('action="/console/operators"');
    expect(page.body).not.toContain("/disable");
    const before = await operatorCount();
    const create = await post(b, "/console/operators", { username: "sneaky", password: "long enough password", role: "admin" });
    expect(create.status).toBe(403);
    expect(create.body).toContain("requires the admin role");
    const disable = await post(b, "/console/operators/victim-op/disable", {});
    expect(disable.status).toBe(403);
    expect(await operatorCount()).toBe(before);
    const row = await env.DB.prepare("SELECT disabled_at FROM operators WHERE username = 'victim-op'").first<{ disabled_at: string | null }>();
    expect(row?.disabled_at).toBeNull();
  });

  it("an operator (not admin) is refused account changes too", async () => {
    const o = await createOperator("operator");
    const b = await consoleLogin(o.username, o.password);
    const r = await post(b, "/console/operators", { username: "sneaky2", password: "long enough password", role: "viewer" });
    expect(r.status).toBe(403);
  });
});
