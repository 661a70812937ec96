import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { resolvePrincipal } from "../auth/middleware";
import type { Principal } from "../auth/tokens";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../lib/hono";
import type { Settings } from "../lib/settings";
import { queryString } from "./lib/forms";

/**
 * The console's session is the API's operator JWT in a cookie: issued by `POST /api/v1/login`, verified on every
 * request by the one auth path (`resolvePrincipal`: signature, expiry, operator still enabled, current role).
 * CSRF: every POST form carries an HMAC of the session token (keyed by JWT_SECRET, domain-separated), and a
 * browser's Origin / Sec-Fetch-Site must be our own. The login form, before any session exists, binds its token to a
 * random nonce in a short-lived cookie instead. See docs/console.md and docs/decisions/0005-console-sessions.md.
 */
// __Host-: the browser accepts these only from this exact host, Secure, with Path=/ and no Domain, so a sibling
// subdomain cannot plant (toss) a session or a login nonce of its own (docs/decisions/0005-console-sessions.md).
export const SESSION_COOKIE = "__Host-eo_session";
export const LOGIN_COOKIE = "__Host-eo_login";
export const CSRF_FIELD = "_csrf";
const LOGIN_NONCE_TTL_S = 3600;

export type ConsoleSession = { principal: Principal & { role: "admin" | "operator" | "viewer" }; token: string; csrf: string };

export type ConsoleEnv = AppEnv & { Variables: AppEnv["Variables"] & { session: ConsoleSession } };

// ---- CSRF tokens --------------------------------------------------------------------------------------------

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
const enc = new TextEncoder();

function hmacKey(settings: Settings): Promise<CryptoKey> {
  let k = keys.get(settings.jwtSecret);
  if (!k) {
    k = crypto.subtle.importKey("raw", settings.jwtSecret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(settings.jwtSecret, k);
  }
  return k;
}

function b64url(buf: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The CSRF token for a binding (the session JWT, or the login nonce). The message starts with a label and a NUL, so
 * it can never collide with what the same key signs as a JWT (base64url header.payload).
 */
export async function csrfToken(settings: Settings, purpose: "session" | "login", binding: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(settings), enc.encode(`eo-console-csrf:${purpose}\u0000${binding}`));
  return b64url(sig);
}

/** Constant-time with respect to content (both sides are hashed first, so lengths leak nothing either). */
export async function csrfValid(settings: Settings, purpose: "session" | "login", binding: string, presented: unknown): Promise<boolean> {
  if (typeof presented !== "string" || presented.length === 0 || presented.length > 128) return false;
  const expected = await csrfToken(settings, purpose, binding);
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(expected)), crypto.subtle.digest("SHA-256", enc.encode(presented))]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/**
 * A browser says where a request comes from (Origin on every POST, Sec-Fetch-Site on modern browsers): it must be
 * our own origin (the request's, or PUBLIC_BASE_URL's when fronted). Without either header (curl, old clients) the
 * CSRF token alone decides.
 */
export function sameOriginRequest(c: Context<AppEnv>): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    const allowed = [new URL(c.req.url).origin, new URL(c.var.services.settings.publicBaseUrl).origin];
    return allowed.includes(origin);
  }
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) return site === "same-origin" || site === "none";
  return true;
}

// ---- Cookies --------------------------------------------------------------------------------------------------

// Path=/ (the __Host- prefix requires it). The API still never reads the cookie (it takes only Authorization
// headers), so the cookie is no ambient credential for the JSON API. SameSite=Lax keeps links from elsewhere landing
// logged in; no GET changes state. No Domain: the cookie belongs to this host alone.
const BASE_COOKIE = { path: "/", httpOnly: true, secure: true, sameSite: "Lax" } as const;
const LOGIN_COOKIE_OPTS = { path: "/", httpOnly: true, secure: true, sameSite: "Strict" } as const;

export function setSessionCookie(c: Context, token: string, maxAgeS: number): void {
  setCookie(c, SESSION_COOKIE, token, { ...BASE_COOKIE, maxAge: maxAgeS });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, BASE_COOKIE);
}

/** The pre-session nonce the login form's CSRF token is bound to (reused while it lives, so two tabs both work). */
export function loginNonce(c: Context): string {
  const have = getCookie(c, LOGIN_COOKIE);
  if (have && /^[A-Za-z0-9_-]{43}$/.test(have)) return have;
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(32)).buffer as ArrayBuffer);
  setCookie(c, LOGIN_COOKIE, nonce, { ...LOGIN_COOKIE_OPTS, maxAge: LOGIN_NONCE_TTL_S });
  return nonce;
}

export function clearLoginNonce(c: Context): void {
  deleteCookie(c, LOGIN_COOKIE, LOGIN_COOKIE_OPTS);
}

// ---- Middleware -----------------------------------------------------------------------------------------------

/** Where an anonymous visitor is sent: the login page, coming back here afterwards. */
function toLogin(c: Context, reason?: "expired"): Response {
  const u = new URL(c.req.url);
  const next = c.req.method === "GET" || c.req.method === "HEAD" ? `${u.pathname}${u.search}` : undefined;
  return c.redirect(`/console/login${queryString({ next: next === "/console" ? undefined : next, reason })}`, 303);
}

/**
 * Every console page except login: the session cookie's JWT through the one auth path. No cookie, a bad or expired
 * token, or a disabled account all end at the login page (the stale cookie is removed).
 */
export const requireSession = createMiddleware<ConsoleEnv>(async (c, next) => {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return toLogin(c);
  let p: Principal | null;
  try {
    p = await resolvePrincipal(c as unknown as Context<AppEnv>, token);
  } catch (e) {
    if (e instanceof ApiError && (e.code === "invalid_token" || e.code === "unauthorized")) {
      clearSessionCookie(c);
      return toLogin(c, "expired");
    }
    throw e;
  }
  if (p?.kind !== "operator") {
    clearSessionCookie(c);
    return toLogin(c, "expired");
  }
  const principal = p as ConsoleSession["principal"];
  c.set("principal", principal);
  c.set("session", { principal, token, csrf: await csrfToken(c.var.services.settings, "session", token) });
  c.header("Cache-Control", "no-store");
  await next();
});

/** Every state-changing console request: same origin, a form body, and the session's CSRF token. Otherwise 403. */
export const requireCsrf = createMiddleware<ConsoleEnv>(async (c, next) => {
  if (!sameOriginRequest(c as unknown as Context<AppEnv>)) throw new ApiError("forbidden", "cross-site request refused (Origin is not this console)");
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
    throw new ApiError("forbidden", "console forms must be posted as forms");
  }
  const body = await c.req.parseBody();
  const s = c.get("session");
  if (!(await csrfValid(c.var.services.settings, "session", s.token, body[CSRF_FIELD]))) {
    throw new ApiError("forbidden", "the form's security token is missing or wrong; reload the page and try again");
  }
  await next();
});

export const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 } as const;

/** Whether the session may do what needs `min` (pages use it to hide controls; the API enforces it regardless). */
export function can(s: ConsoleSession, min: keyof typeof ROLE_RANK): boolean {
  return ROLE_RANK[s.principal.role] >= ROLE_RANK[min];
}
