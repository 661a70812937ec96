/** @jsxImportSource hono/jsx */
import { asc } from "drizzle-orm";
import type { Hono } from "hono";
import { OperatorUsername } from "../../../schema/auth-api";
import { operators } from "../../../schema/operators";
import { ApiError } from "../../lib/errors";
import { type ApiClient, callApi } from "../api";
import { fieldErrors } from "../lib/forms";
import { OPERATOR_FIELDS, OperatorsPage, PASSWORD_FIELDS } from "../pages/operators";
import { type ConsoleEnv, clearSessionCookie } from "../session";
import { type C, pick, render } from "./shared";

/** Operator accounts (admins manage them; others see their own role only). */
export const operatorsPages = (r: Hono<ConsoleEnv>, api: ApiClient) => {
  const operatorRows = (c: C) =>
    c.var.session.principal.role === "admin" ? c.var.services.db.select().from(operators).orderBy(asc(operators.username)).all() : Promise.resolve(null);

  const bootstrap = (c: C) => c.var.session.principal.sub === c.var.services.settings.adminUsername;

  r.get("/console/operators", async (c) => {
    const created = OperatorUsername.safeParse(c.req.query("created") ?? "");
    const disabled = OperatorUsername.safeParse(c.req.query("disabled") ?? "");
    const flash = created.success ? `Operator ${created.data} created.` : disabled.success ? `Operator ${disabled.data} disabled.` : null;
    return render(c, <OperatorsPage session={c.var.session} operators={await operatorRows(c)} flash={flash} bootstrap={bootstrap(c)} />);
  });

  // One's own password (POST /api/v1/password): on success every token of the account is revoked, this session's
  // included, so the cookie goes too and the operator logs in with the new password.
  r.post("/console/password", async (c) => {
    const form = pick(await c.req.parseBody(), PASSWORD_FIELDS);
    const reply = await callApi(c, api, "POST", "/api/v1/password", {
      json: { current_password: form.current_password ?? "", new_password: form.new_password ?? "" },
    });
    if (reply.ok) {
      clearSessionCookie(c);
      return c.redirect("/console/login?reason=password-changed", 303);
    }
    if (reply.status === 400 || reply.status === 403 || reply.status === 409) {
      const status = reply.status as 400 | 403 | 409;
      const password =
        status === 403
          ? { errors: { current_password: [reply.error] } }
          : { errors: fieldErrors(reply.details, PASSWORD_FIELDS), general: reply.details ? null : reply.error };
      return render(c, <OperatorsPage session={c.var.session} operators={await operatorRows(c)} bootstrap={bootstrap(c)} password={password} />, status);
    }
    throw new ApiError(reply.code as never, reply.error);
  });

  r.post("/console/operators", async (c) => {
    const form = pick(await c.req.parseBody(), OPERATOR_FIELDS);
    const reply = await callApi(c, api, "POST", "/api/v1/admin/operators", {
      json: { username: form.username ?? "", password: form.password ?? "", role: form.role ?? "" },
    });
    if (reply.ok) return c.redirect(`/console/operators?created=${encodeURIComponent((reply.body as { username: string }).username)}`, 303);
    if (reply.status === 400 || reply.status === 409) {
      const errors = fieldErrors(reply.details, OPERATOR_FIELDS);
      const status = reply.status as 400 | 409;
      return render(
        c,
        <OperatorsPage
          session={c.var.session}
          operators={await operatorRows(c)}
          form={{ username: form.username, role: form.role }}
          errors={status === 409 ? { username: [reply.error] } : errors}
          general={reply.details ? null : status === 409 ? null : reply.error}
        />,
        status,
      );
    }
    throw new ApiError(reply.code as never, reply.error);
  });

  r.post("/console/operators/:username/disable", async (c) => {
    const username = c.req.param("username");
    const reply = await callApi(c, api, "DELETE", `/api/v1/admin/operators/${encodeURIComponent(username)}`);
    if (reply.ok) return c.redirect(`/console/operators?disabled=${encodeURIComponent(username.toLowerCase())}`, 303);
    throw new ApiError(reply.code as never, reply.error);
  });
};
