import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull } from "drizzle-orm";
import { CreateOperatorBody, LoginBody, LoginResponse, Operator, UsernameParam } from "../../schema/auth-api";
import { operators } from "../../schema/operators";
import { probes } from "../../schema/probes";
import { loginAudit } from "../audit/entries";
import { auditInsert, recordAudit } from "../audit/store";
import { eventInsert } from "../events/store";
import { isUniqueViolation } from "../lib/db";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { newId } from "../lib/ids";
import { adoptProbe, clientIdKey, isAdoptableClientId, probeLoginRow } from "../ooni/adoption";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { actorOf, principal, requireOperator } from "./middleware";
import { hashPassword, secretsEqual, verifyPassword } from "./passwords";
import { devicePrincipal, issueToken, operatorPrincipal, type Principal } from "./tokens";

export const authRoutes = newRouter();

const LAST_SEEN_RESOLUTION_MS = 5 * 60_000;

// Verified against when the username is unknown, so a miss costs what a hit costs (no username oracle by timing).
const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/login",
    tags: ["auth"],
    summary: "Log in a probe (username = client_id) or an operator; one token format for both",
    request: { body: jsonBody(LoginBody) },
    responses: { 200: jsonContent(LoginResponse, "A bearer token and its expiry (RFC 3339)"), ...errorResponses(400, 401, 413) },
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const { db, settings, clock } = c.var.services;
    let who: Principal | null = null;
    if (username !== settings.adminUsername && isAdoptableClientId(username)) {
      // A client id, ours or OONI's: an id never seen here is adopted (functions/ooni/adoption.ts).
      const id = clientIdKey(username);
      let row = await probeLoginRow(db, id);
      if (!row) {
        await adoptProbe(db, id, password, clock.now().toISOString());
        row = await probeLoginRow(db, id);
      }
      if (row?.hash && (await verifyPassword(password, row.hash))) {
        who = devicePrincipal("probe", row.id);
        // "Last seen" has minutes of resolution: refresh it after the response, and only when it is stale,
        // so a login is one D1 read in the common case.
        const now = clock.now();
        if (now.getTime() - Date.parse(row.lastSeenAt) > LAST_SEEN_RESOLUTION_MS) {
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
    } else if (username === settings.adminUsername) {
      if (settings.adminPassword !== "" && (await secretsEqual(password, settings.adminPassword))) {
        who = operatorPrincipal(username, "admin");
      }
    } else {
      const row = await db
        .select()
        .from(operators)
        .where(and(eq(operators.username, username.toLowerCase()), isNull(operators.disabledAt)))
        .get();
      const ok = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH);
      if (row && ok) who = operatorPrincipal(row.username, row.role);
    }
    await recordAudit(db, loginAudit(clock.now().toISOString(), username, who, c.req.header("cf-connecting-ip")), c.executionCtx);
    if (!who) throw new ApiError("wrong_credentials", "wrong username or password", undefined, { "WWW-Authenticate": "Bearer" });
    c.header("Cache-Control", "no-store");
    return c.json(await issueToken(who, settings, clock), 200);
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
      eventInsert(db, { at, type: "operator.disabled", actor: actorOf(me), subject: { kind: "operator", id: row.username }, data: { username: row.username } }),
      auditInsert(db, { at, action: "operator.disabled", actor: actorOf(me), subject: { kind: "operator", id: row.username } }),
    ]);
    return c.json(operatorView({ ...row, disabledAt: at }), 200);
  },
);
