import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull } from "drizzle-orm";
import {
  ChangePasswordBody,
  CreateOperatorBody,
  LoginBody,
  LoginResponse,
  LogoutBody,
  LogoutResponse,
  Operator,
  PasswordChanged,
  ResetPasswordBody,
  UsernameParam,
} from "../../schema/auth-api";
import { operators } from "../../schema/operators";
import { probes } from "../../schema/probes";
import { loginAudit } from "../audit/entries";
import { auditInsert } from "../audit/store";
import { eventInsert } from "../events/store";
import { isUniqueViolation } from "../lib/db";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { newId } from "../lib/ids";
import { adoptProbe, clientIdKey, isAdoptableClientId, probeLoginRow } from "../ooni/adoption";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { actorOf, principal, requireAnyPrincipal, requireOperator, subjectKindOf } from "./middleware";
import { addressActor, addressOf, rateLimit } from "../lib/rate-limit";
import { clearLoginFailures, failureStateOf, type LoginAccount, lockedForS, loginFailureWrites } from "./lockout";
import { hashPassword, verifyPassword } from "./passwords";
import { adminStamp, bumpVersion, currentVersion, revokeJti } from "./revocation";
import { devicePrincipal, type IssueOptions, issueToken, operatorPrincipal, type Principal } from "./tokens";

export const authRoutes = newRouter();

const LAST_SEEN_RESOLUTION_MS = 5 * 60_000;

// Verified against when the username is unknown, so a miss costs what a hit costs (no username oracle by timing).
// That is ~20 ms of PBKDF2 per guess for an unknown name, as for a known one: the per-address login limit
// (LOGIN_RATE_LIMITER) bounds how often one address can make us pay it (docs/security.md).
const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

const adminHashes = new WeakMap<object, Promise<string>>();

/**
 * The bootstrap admin's password, PBKDF2-hashed once per isolate: checking a guess then costs exactly what an
 * operator's does (a bare SHA-256 compare would make the admin the cheapest account to brute-force).
 */
function adminHash(settings: { adminPassword: string }): Promise<string> {
  let h = adminHashes.get(settings);
  if (!h) {
    h = hashPassword(settings.adminPassword);
    adminHashes.set(settings, h);
  }
  return h;
}

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/login",
    tags: ["auth"],
    summary: "Log in a probe (username = client_id) or an operator; one token format for both",
    description:
      "Limited per address (LOGIN_RATE_LIMITER) and per account (growing delay after LOGIN_LOCKOUT_AFTER failures): 429 with Retry-After. Failed logins are recorded as auth.login_failed events.",
    middleware: [rateLimit("login")] as const,
    request: { body: jsonBody(LoginBody) },
    responses: { 200: jsonContent(LoginResponse, "A bearer token and its expiry (RFC 3339)"), ...errorResponses(400, 401, 413, 429) },
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const { db, settings, clock } = c.var.services;
    const now = clock.now();
    const isAdmin = username === settings.adminUsername;
    const isProbe = !isAdmin && isAdoptableClientId(username);
    const account: LoginAccount = isProbe
      ? { kind: "probe", id: clientIdKey(username) }
      : { kind: "operator", id: isAdmin ? username : username.toLowerCase() };
    const failures = await failureStateOf(db, account);
    const waitS = lockedForS(failures, now);
    if (waitS > 0) {
      throw new ApiError("rate_limited", "too many failed logins for this account; retry later", undefined, { "Retry-After": String(waitS) });
    }
    let who: Principal | null = null;
    let issue: IssueOptions = {};
    if (isProbe) {
      // A client id, ours or OONI's: an id never seen here is adopted (functions/ooni/adoption.ts).
      const id = account.id;
      let row = await probeLoginRow(db, id);
      if (!row) {
        await adoptProbe(db, id, password, now.toISOString());
        row = await probeLoginRow(db, id);
      }
      if (row?.hash && (await verifyPassword(password, row.hash))) {
        const v = await currentVersion(db, "probe", row.id);
        if (!v.disabled) {
          who = devicePrincipal("probe", row.id);
          issue = { ver: v.version };
        }
        // "Last seen" has minutes of resolution: refresh it after the response, and only when it is stale.
        if (who && now.getTime() - Date.parse(row.lastSeenAt) > LAST_SEEN_RESOLUTION_MS) {
          c.executionCtx.waitUntil(
            db
              .update(probes)
              .set({ lastSeenAt: now.toISOString() })
              .where(eq(probes.id, row.id))
              .run()
              .then(() => undefined),
          );
        }
      }
    } else if (isAdmin) {
      // No ADMIN_PASSWORD: the guess is still checked (against the dummy), so the admin name costs what any other does.
      const ok = await verifyPassword(password, settings.adminPassword !== "" ? await adminHash(settings) : DUMMY_HASH);
      if (ok && settings.adminPassword !== "") {
        who = operatorPrincipal(username, "admin");
        issue = { ver: (await currentVersion(db, "operator", username)).version, adminStamp: await adminStamp(settings) };
      }
    } else {
      const row = await db
        .select()
        .from(operators)
        .where(and(eq(operators.username, account.id), isNull(operators.disabledAt)))
        .get();
      const ok = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH);
      if (row && ok) {
        who = operatorPrincipal(row.username, row.role);
        issue = { ver: (await currentVersion(db, "operator", row.username)).version };
      }
    }
    // The audit row and the failure count (or their reset) in one batch: a D1 error leaves neither (503, nothing
    // half-applied). Rows are sealed into the chain by the audit.seal cron, as every other audited write's are.
    const audit = auditInsert(db, loginAudit(clock.now().toISOString(), username, who, c.req.header("cf-connecting-ip")));
    if (!who) {
      await db.batch([audit, ...loginFailureWrites(db, account, failures, now, settings.abuse, await addressActor(settings.jwtSecret, addressOf(c)))]);
      throw new ApiError("wrong_credentials", "wrong username or password", undefined, { "WWW-Authenticate": "Bearer" });
    }
    await (failures ? db.batch([audit, clearLoginFailures(db, account)]) : audit);
    c.header("Cache-Control", "no-store");
    return c.json(await issueToken(who, settings, clock, issue), 200);
  },
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/logout",
    tags: ["auth"],
    summary: 'Revoke the presented token, or with {"everywhere": true} every token of its principal',
    description:
      "Any principal kind. The token stops working at once (its jti is kept in a deny-list until it would have expired); everywhere bumps the principal's token version. Tokens without a jti (issued before revocation existed) are revoked everywhere.",
    security: [{ bearer: [] }],
    middleware: [requireAnyPrincipal] as const,
    request: { body: { required: false, content: { "application/json": { schema: LogoutBody } } } },
    responses: { 200: jsonContent(LogoutResponse, "Revoked"), ...errorResponses(400, 401, 413) },
  }),
  async (c) => {
    const body: { everywhere?: boolean } = c.req.valid("json") ?? {};
    const { db, clock } = c.var.services;
    const me = principal(c);
    const t = c.get("token");
    const at = clock.now().toISOString();
    const everywhere = body.everywhere === true || !t?.jti;
    await db.batch([
      everywhere || !t?.jti ? bumpVersion(db, me.kind, me.sub, at) : revokeJti(db, t.jti, t.exp),
      eventInsert(db, {
        at,
        type: everywhere ? "auth.logout_everywhere" : "auth.logout",
        actor: actorOf(me),
        subject: { kind: subjectKindOf(me), id: me.sub },
        ...(me.kind === "probe" ? { probeId: me.sub } : {}),
        data: {},
      }),
    ]);
    c.header("Cache-Control", "no-store");
    return c.json({ revoked: everywhere ? ("everywhere" as const) : ("token" as const) }, 200);
  },
);

const operatorView = (r: typeof operators.$inferSelect) => ({
  username: r.username,
  role: r.role,
  created_at: r.createdAt,
  created_by: r.createdBy,
  disabled_at: r.disabledAt,
});

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/operators",
    tags: ["auth"],
    summary: "Create an operator account (admin only)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    request: { body: jsonBody(CreateOperatorBody) },
    responses: { 201: jsonContent(Operator, "Created"), ...errorResponses(400, 401, 403, 409, 413) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { db, settings, clock } = c.var.services;
    const me = principal(c);
    if (body.username === settings.adminUsername.toLowerCase()) throw new ApiError("conflict", "that username is the bootstrap admin's");
    const existing = await db.select({ id: operators.id }).from(operators).where(eq(operators.username, body.username)).get();
    if (existing) throw new ApiError("conflict", "an operator with that username already exists");
    const at = clock.now().toISOString();
    const row = {
      id: newId(),
      username: body.username,
      passwordHash: await hashPassword(body.password),
      role: body.role,
      createdAt: at,
      createdBy: me.sub,
      disabledAt: null,
    };
    try {
      await db.batch([
        db.insert(operators).values(row),
        eventInsert(db, {
          at,
          type: "operator.created",
          actor: actorOf(me),
          subject: { kind: "operator", id: row.username },
          data: { username: row.username, role: row.role },
        }),
        auditInsert(db, { at, action: "operator.created", actor: actorOf(me), subject: { kind: "operator", id: row.username }, data: { role: row.role } }),
      ]);
    } catch (e) {
      // Two concurrent creates of one username: the unique index decides, the loser gets the same 409.
      if (isUniqueViolation(e)) throw new ApiError("conflict", "an operator with that username already exists");
      throw e;
    }
    return c.json(operatorView(row), 201);
  },
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/operators",
    tags: ["auth"],
    summary: "List operator accounts (admin only)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    responses: { 200: jsonContent(z.object({ operators: z.array(Operator) }), "Accounts"), ...errorResponses(401, 403) },
  }),
  async (c) => {
    const rows = await c.var.services.db.select().from(operators).orderBy(asc(operators.username)).all();
    return c.json({ operators: rows.map(operatorView) }, 200);
  },
);

authRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/admin/operators/{username}",
    tags: ["auth"],
    summary: "Disable an operator account (admin only); its tokens stop working at once",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    request: { params: UsernameParam },
    responses: { 200: jsonContent(Operator, "Disabled"), ...errorResponses(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const { username } = c.req.valid("param");
    const { db, clock } = c.var.services;
    const me = principal(c);
    if (username.toLowerCase() === me.sub) throw new ApiError("conflict", "you cannot disable your own account");
    const row = await db.select().from(operators).where(eq(operators.username, username.toLowerCase())).get();
    if (!row) throw new ApiError("not_found", "no such operator");
    if (row.disabledAt) return c.json(operatorView(row), 200);
    const at = clock.now().toISOString();
    await db.batch([
      db.update(operators).set({ disabledAt: at }).where(eq(operators.id, row.id)),
      bumpVersion(db, "operator", row.username, at),
      eventInsert(db, { at, type: "operator.disabled", actor: actorOf(me), subject: { kind: "operator", id: row.username }, data: { username: row.username } }),
      auditInsert(db, { at, action: "operator.disabled", actor: actorOf(me), subject: { kind: "operator", id: row.username } }),
    ]);
    return c.json(operatorView({ ...row, disabledAt: at }), 200);
  },
);

// ---- Passwords -----------------------------------------------------------------------------------------------------

const BOOTSTRAP_PASSWORD = "the bootstrap admin's password is the ADMIN_PASSWORD setting: change it there (its tokens then stop working)";

/**
 * The statements of a password change or reset, in one batch: the new hash (guarded: the account still exists and is
 * enabled), every token of the operator ended (bumpVersion: the console session included), the event and the audit
 * entry. The failure count is cleared too: the new password starts with a clean slate.
 */
function passwordWrites(db: Parameters<typeof bumpVersion>[0], o: { username: string; hash: string; at: string; actor: string; action: string }) {
  return [
    db
      .update(operators)
      .set({ passwordHash: o.hash })
      .where(and(eq(operators.username, o.username), isNull(operators.disabledAt))),
    bumpVersion(db, "operator", o.username, o.at),
    clearLoginFailures(db, { kind: "operator", id: o.username }),
    eventInsert(db, { at: o.at, type: o.action, actor: o.actor, subject: { kind: "operator", id: o.username }, data: {} }),
    auditInsert(db, { at: o.at, action: o.action, actor: o.actor, subject: { kind: "operator", id: o.username } }),
  ] as const;
}

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/password",
    tags: ["auth"],
    summary: "Change your own operator password; every token of yours stops working (log in again)",
    description:
      "A wrong current_password is a 403 and counts as a failed login for the account (the same lockout as POST /api/v1/login: 429 with Retry-After while locked). The new password follows the account rule (at least 12 characters). The bootstrap admin's password is the ADMIN_PASSWORD setting: 409.",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { body: jsonBody(ChangePasswordBody) },
    responses: { 200: jsonContent(PasswordChanged, "Changed; all of the operator's tokens are revoked"), ...errorResponses(400, 401, 403, 409, 413, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { db, settings, clock } = c.var.services;
    const me = principal(c);
    if (me.sub === settings.adminUsername) throw new ApiError("conflict", BOOTSTRAP_PASSWORD);
    const account: LoginAccount = { kind: "operator", id: me.sub };
    const now = clock.now();
    const failures = await failureStateOf(db, account);
    const waitS = lockedForS(failures, now);
    if (waitS > 0) {
      throw new ApiError("rate_limited", "too many failed logins for this account; retry later", undefined, { "Retry-After": String(waitS) });
    }
    const row = await db
      .select()
      .from(operators)
      .where(and(eq(operators.username, me.sub), isNull(operators.disabledAt)))
      .get();
    if (!row) throw new ApiError("invalid_token", "operator account no longer exists or is disabled");
    if (!(await verifyPassword(body.current_password, row.passwordHash))) {
      // A guess at the current password is a guess at the account's password: counted, locked out, recorded.
      await db.batch([
        auditInsert(db, { ...loginAudit(now.toISOString(), me.sub, null, c.req.header("cf-connecting-ip")), action: "operator.password_change_failed" }),
        ...loginFailureWrites(db, account, failures, now, settings.abuse, await addressActor(settings.jwtSecret, addressOf(c))),
      ]);
      throw new ApiError("forbidden", "the current password is wrong");
    }
    const at = now.toISOString();
    await db.batch(
      passwordWrites(db, { username: row.username, hash: await hashPassword(body.new_password), at, actor: actorOf(me), action: "operator.password_changed" }),
    );
    c.header("Cache-Control", "no-store");
    return c.json({ username: row.username, changed_at: at, revoked: "everywhere" as const }, 200);
  },
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/operators/{username}/password",
    tags: ["auth"],
    summary: "Reset another operator's password (admin only); every token of that operator stops working",
    description:
      "For your own password use POST /api/v1/password (it asks for the current one): 409 here. The bootstrap admin's password is the ADMIN_PASSWORD setting: 409. A disabled or unknown account: 404.",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    request: { params: UsernameParam, body: jsonBody(ResetPasswordBody) },
    responses: { 200: jsonContent(PasswordChanged, "Reset; all of the operator's tokens are revoked"), ...errorResponses(400, 401, 403, 404, 409, 413) },
  }),
  async (c) => {
    const { username } = c.req.valid("param");
    const body = c.req.valid("json");
    const { db, settings, clock } = c.var.services;
    const me = principal(c);
    const name = username.toLowerCase();
    if (name === settings.adminUsername.toLowerCase()) throw new ApiError("conflict", BOOTSTRAP_PASSWORD);
    if (name === me.sub) throw new ApiError("conflict", "to change your own password use POST /api/v1/password (it asks for the current one)");
    const row = await db
      .select()
      .from(operators)
      .where(and(eq(operators.username, name), isNull(operators.disabledAt)))
      .get();
    if (!row) throw new ApiError("not_found", "no such operator (or it is disabled)");
    const at = clock.now().toISOString();
    await db.batch(
      passwordWrites(db, { username: row.username, hash: await hashPassword(body.new_password), at, actor: actorOf(me), action: "operator.password_reset" }),
    );
    return c.json({ username: row.username, changed_at: at, revoked: "everywhere" as const }, 200);
  },
);
