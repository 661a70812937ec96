/** @jsxImportSource hono/jsx */
import type { Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { resolvePrincipal } from "../../auth/middleware";
import { verifyToken } from "../../auth/tokens";
import { ApiError } from "../../lib/errors";
import type { AppEnv } from "../../lib/hono";
import { type ApiClient, callApi } from "../api";
import { fieldErrors, safeNext } from "../lib/forms";
import { LOGIN_REASONS, LoginPage } from "../pages/login";
import {
  clearLoginNonce,
  type ConsoleEnv,
  CSRF_FIELD,
  csrfToken,
  csrfValid,
  LOGIN_COOKIE,
  loginNonce,
  SESSION_COOKIE,
  sameOriginRequest,
  setSessionCookie,
} from "../session";
import { pick, render } from "./shared";

/** Login and logout: the only pages outside the session (login) and the CSRF form tokens they start. */
export const authPages = (r: Hono<ConsoleEnv>, api: ApiClient) => {
  r.get("/console/login", async (c) => {
    c.header("Cache-Control", "no-store");
    const token = getCookie(c, SESSION_COOKIE);
    if (token) {
      const p = await resolvePrincipal(c as unknown as Context<AppEnv>, token).catch(() => null);
      if (p && p.kind === "operator") return c.redirect(safeNext(c.req.query("next")), 303);
    }
    const reason = c.req.query("reason");
    const csrf = await csrfToken(c.var.services.settings, "login", loginNonce(c));
    return render(c, <LoginPage csrf={csrf} next={c.req.query("next")} reason={reason && reason in LOGIN_REASONS ? reason : undefined} />);
  });

  r.post("/console/login", async (c) => {
    c.header("Cache-Control", "no-store");
    const { settings, clock } = c.var.services;
    const body = await c.req.parseBody();
    const form = pick(body, ["username", "password", "next", CSRF_FIELD] as const);
    const nonce = getCookie(c, LOGIN_COOKIE);
    const fresh = async (general: string, status: 400 | 401 | 403, errors?: ReturnType<typeof fieldErrors>) =>
      render(
        c,
        <LoginPage csrf={await csrfToken(settings, "login", loginNonce(c))} next={form.next} username={form.username} general={general} errors={errors} />,
        status,
      );
    if (!sameOriginRequest(c as unknown as Context<AppEnv>)) return fresh("Cross-site login refused.", 403);
    if (!nonce || !(await csrfValid(settings, "login", nonce, form[CSRF_FIELD]))) {
      return fresh("The login form expired. Please log in again.", 403);
    }
    const reply = await callApi<{ token: string; expire: string }>(c, api, "POST", "/api/v1/login", {
      json: { username: form.username ?? "", password: form.password ?? "" },
      token: null,
    });
    if (!reply.ok) {
      if (reply.status === 400) return fresh("Enter a username and a password.", 400, fieldErrors(reply.details, ["username", "password"]));
      if (reply.status === 401) return fresh("Wrong username or password.", 401);
      throw new ApiError(reply.code as never, reply.error);
    }
    const who = await verifyToken(reply.body.token, settings, clock);
    // Probes log in through the same route; they have no console.
    if (who.kind !== "operator") return fresh("Wrong username or password.", 401);
    const ttl = Math.max(1, Math.floor((Date.parse(reply.body.expire) - clock.now().getTime()) / 1000));
    setSessionCookie(c, reply.body.token, ttl);
    clearLoginNonce(c);
    return c.redirect(safeNext(form.next), 303);
  });
};
