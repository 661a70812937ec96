import { exports } from "cloudflare:workers";
import { ADMIN, BASE, createOperator, type Reply } from "../helpers";

/** Like test/helpers.ts `call`, but as a browser sees it: redirects are not followed, bodies stay text. */
export async function call<T = string>(method: string, path: string, opts: { raw?: BodyInit; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const res = await (exports as unknown as { default: Fetcher }).default.fetch(
    new Request(`${BASE}${path}`, { method, headers: opts.headers, body: opts.raw, redirect: "manual" }),
  );
  return { status: res.status, body: (await res.text()) as T, headers: res.headers };
}

/** The cookies a response sets, as name → full Set-Cookie line. */
export function setCookies(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of h.getAll("set-cookie")) out[line.split("=")[0]] = line;
  return out;
}

export const cookieValue = (line: string | undefined) => (line ? line.split(";")[0].slice(line.indexOf("=") + 1) : undefined);

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF field on the page");
  return m[1];
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
export const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** A browser-like console session: cookie header and the session's CSRF token. */
export type Browser = { cookie: string; csrf: string };

export async function consoleLogin(username = ADMIN.username, password = ADMIN.password): Promise<Browser> {
  const page = await call("GET", "/console/login");
  const nonce = cookieValue(setCookies(page.headers)["__Host-eo_login"]);
  const r = await call("POST", "/console/login", {
    raw: form({ username, password, _csrf: csrfOf(page.body) }),
    headers: { ...FORM, cookie: `__Host-eo_login=${nonce}` },
  });
  if (r.status !== 303) throw new Error(`console login failed: ${r.status} ${String(r.body).slice(0, 1500)}`);
  const cookie = `__Host-eo_session=${cookieValue(setCookies(r.headers)["__Host-eo_session"])}`;
  const home = await call("GET", "/console", { headers: { cookie } });
  return { cookie, csrf: csrfOf(home.body) };
}

/**
 * Console sessions for a page's tests: the bootstrap admin's, and one per role asked for, each of a fresh account
 * of that role (`const { admin, operator, viewer } = await consoleSessions("operator", "viewer")`).
 */
export async function consoleSessions<R extends "operator" | "viewer">(...roles: R[]): Promise<{ admin: Browser } & Record<R, Browser>> {
  const sessions: Record<string, Browser> = { admin: await consoleLogin() };
  for (const role of roles) {
    const o = await createOperator(role);
    sessions[role] = await consoleLogin(o.username, o.password);
  }
  return sessions as { admin: Browser } & Record<R, Browser>;
}

/** GET a console page as that browser. */
export const get = (b: Browser | null, path: string) => call("GET", path, { headers: b ? { cookie: b.cookie } : {} });

/** POST a console form as that browser (same origin unless `origin` says otherwise). */
export const post = (b: Browser, path: string, fields: Record<string, string>, o: { csrf?: string | null; origin?: string | null } = {}) => {
  const body: Record<string, string> = { ...fields };
  const token = o.csrf === undefined ? b.csrf : o.csrf;
  if (token !== null) body._csrf = token;
  const headers: Record<string, string> = { ...FORM, cookie: b.cookie };
  const origin = o.origin === undefined ? "https://probes.example.org" : o.origin;
  if (origin !== null) headers.origin = origin;
  return call("POST", path, { raw: form(body), headers });
};
