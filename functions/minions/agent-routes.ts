import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { agents } from "../../schema/minions";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { hashProbeSecret, verifyPassword } from "../auth/passwords";
import { currentVersion, setDisabled } from "../auth/revocation";
import { principalVersions } from "../../schema/auth";
import { auditInsert } from "../audit/store";
import { log } from "../lib/log";
import { agentStub } from "./registry";
import { devicePrincipal, issueToken } from "../auth/tokens";
import { eventInsert } from "../events/store";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { newId } from "../lib/ids";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { MinionIdParam } from "../../schema/minions-api";
import { minionsSettings } from "./settings";
import { enrolmentVerdict } from "./enrolment";

/** Agents enrol and log in here (docs/minions.md "Enrolment"); admins approve pending agents. */
export const agentRoutes = newRouter();

const AgentRegister = z
  .object({
    name: z.string().min(1).max(100).optional().openapi({ description: "A label for operators (hostname, site)" }),
    enrolment_secret: z.string().min(1).max(256).optional().openapi({ description: "AGENT_ENROLMENT = token: the shared enrolment secret" }),
  })
  .strict()
  .openapi("AgentRegister");
const AgentRegistered = z
  .object({
    client_id: z.string(),
    secret: z.string().openapi({ description: "The agent's login secret (shown once)" }),
    state: z.enum(["active", "pending"]),
  })
  .openapi("AgentRegistered");
const AgentLogin = z
  .object({ client_id: z.string().uuid(), secret: z.string().min(1).max(256) })
  .strict()
  .openapi("AgentLogin");
const AgentToken = z.object({ token: z.string(), expire: z.string() }).openapi("AgentToken");

/** A 256-bit random secret, base64url (high entropy: stored as salted SHA-256, verified in microseconds). */
function newSecret(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...b))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

agentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/agents/register",
    tags: ["minions"],
    summary: "Enrol an agent (AGENT_ENROLMENT: open, token with enrolment_secret, or approval: pending until an admin approves)",
    request: { body: jsonBody(AgentRegister) },
    responses: { 201: jsonContent(AgentRegistered, "Enrolled (state pending in approval mode)"), ...errorResponses(400, 403, 503) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const s = minionsSettings(c.env);
    const verdict = await enrolmentVerdict(s, body.enrolment_secret);
    if (verdict === "refused") throw new ApiError("forbidden", "a valid enrolment_secret is required to register an agent");
    const { db, clock } = c.var.services;
    const id = newId();
    const secret = newSecret();
    const at = clock.now().toISOString();
    await db.batch([
      db
        .insert(agents)
        .values({ id, secretHash: await hashProbeSecret(secret), state: verdict, name: body.name ?? null, enrolment: s.enrolment, createdAt: at }),
      eventInsert(db, {
        at,
        type: "agent.registered",
        actor: `agent:${id}`,
        subject: { kind: "minion", id },
        data: { state: verdict, enrolment: s.enrolment },
      }),
    ]);
    return c.json({ client_id: id, secret, state: verdict }, 201);
  },
);

agentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/agents/login",
    tags: ["minions"],
    summary: "An agent's login: an agent token (kind agent) for GET /agents/:id/connect; a pending agent is 403",
    request: { body: jsonBody(AgentLogin) },
    responses: { 200: jsonContent(AgentToken, "The agent token"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { client_id, secret } = c.req.valid("json");
    const { db, clock, settings } = c.var.services;
    const row = await db.select().from(agents).where(eq(agents.id, client_id.toLowerCase())).get();
    if (!row || !(await verifyPassword(secret, row.secretHash))) throw new ApiError("wrong_credentials", "unknown agent or wrong secret");
    if (row.state !== "active") throw new ApiError("forbidden", "this agent is awaiting an operator's approval");
    // Issued under the agent's current token version, so a logout everywhere or a re-enable does not lock it out.
    const v = await currentVersion(db, "agent", row.id);
    if (v.disabled) throw new ApiError("forbidden", "this agent is disabled by an operator");
    return c.json(await issueToken(devicePrincipal("agent", row.id), settings, clock, { ver: v.version }), 200);
  },
);

agentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/minions/{id}/approve",
    tags: ["minions"],
    summary: "Approve a pending agent (AGENT_ENROLMENT = approval); approving an active agent changes nothing",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    request: { params: MinionIdParam },
    responses: {
      200: jsonContent(z.object({ client_id: z.string(), state: z.literal("active"), approved_at: z.string().nullable() }), "Approved"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock } = c.var.services;
    const row = await db.select().from(agents).where(eq(agents.id, id)).get();
    if (!row) throw new ApiError("not_found", "no such agent");
    if (row.state === "active") return c.json({ client_id: id, state: "active" as const, approved_at: row.approvedAt }, 200);
    const at = clock.now().toISOString();
    const who = principal(c);
    await db.batch([
      db
        .update(agents)
        .set({ state: "active", approvedAt: at, approvedBy: who.sub })
        .where(and(eq(agents.id, id), eq(agents.state, "pending"))),
      eventInsert(db, { at, type: "agent.approved", actor: actorOf(who), subject: { kind: "minion", id }, data: {} }),
    ]);
    return c.json({ client_id: id, state: "active" as const, approved_at: at }, 200);
  },
);

const AgentDisabled = z.object({ client_id: z.string(), disabled: z.boolean() }).openapi("AgentDisabled");

/**
 * Disable / enable an agent (docs/security.md "Revocation"). Disabling revokes every token of the agent (its
 * version is bumped and it is marked disabled: its tokens fail, its logins and connects are refused), then closes
 * its socket: the minion leaves the registry at once, and its object refuses any token from before the disable
 * (one that raced it). Enabling clears the mark: old tokens stay revoked, the agent logs in again. Agent ids are
 * server-issued and never reused, so a disabled agent cannot re-register under the same id.
 */
for (const action of ["disable", "enable"] as const) {
  agentRoutes.openapi(
    createRoute({
      method: "post",
      path: `/api/v1/admin/minions/{id}/${action}`,
      tags: ["minions"],
      summary:
        action === "disable"
          ? "Disable an agent: its tokens stop working, its socket is closed, it cannot log in or connect"
          : "Enable a disabled agent (its old tokens stay revoked; it logs in again)",
      description:
        action === "disable" ? "503 when the agent's connection could not be closed (the tokens are already revoked): send the same request again." : undefined,
      security: [{ bearer: [] }],
      middleware: [requireOperator("operator")] as const,
      request: { params: MinionIdParam },
      responses: { 200: jsonContent(AgentDisabled, action === "disable" ? "Disabled" : "Enabled"), ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { db, clock } = c.var.services;
      const me = principal(c);
      const row = await db.select({ id: agents.id }).from(agents).where(eq(agents.id, id)).get();
      if (!row)
        throw new ApiError(
          "not_found",
          "no such agent (a mobile probe connected in open enrolment is disabled as a probe: /api/v1/admin/clients/{id}/disable)",
        );
      const at = clock.now().toISOString();
      const subject = { kind: "minion" as const, id };
      const [versions] = await db.batch([
        setDisabled(db, "agent", id, action === "disable" ? at : null, at).returning({ version: principalVersions.version }),
        eventInsert(db, { at, type: `agent.${action}d`, actor: actorOf(me), subject, data: {} }),
        auditInsert(db, { at, action: `agent.${action}d`, actor: actorOf(me), subject }),
      ]);
      if (action === "disable") {
        try {
          await agentStub(c.env, id).disconnect("agent", versions[0]?.version ?? 1, "disabled by an operator");
        } catch (e) {
          log.error("minions.disable", "the agent's object could not close its connection", { id, error: String(e) });
          throw new ApiError("unavailable", "disabled (its tokens are revoked), but its connection could not be closed: send the same request again");
        }
      }
      return c.json({ client_id: id, disabled: action === "disable" }, 200);
    },
  );
}
