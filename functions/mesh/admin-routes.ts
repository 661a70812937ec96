import { createRoute } from "@hono/zod-openapi";
import type { MeshGroupRow } from "../../schema/mesh";
import {
  CreateGroupBody,
  CreateTokenBody,
  EnrolmentToken,
  GroupDetail,
  GroupDetailQuery,
  GroupList,
  GroupParam,
  MemberParam,
  MeshGroup,
  RevokeAnswer,
} from "../../schema/mesh-api";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorText, log } from "../lib/log";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { groupByName, groupMembers, listGroups, memberById } from "./ca-queries";
import { z } from "@hono/zod-openapi";
import { principalVersions } from "../../schema/auth";
import { auditInsert } from "../audit/store";
import { setDisabled } from "../auth/revocation";
import { eventInsert } from "../events/store";
import { groupStub } from "./group-routes";
import { createEnrolmentToken, createGroup, notifyGroupRevoked, revokeMember } from "./ca-store";
import { meshSettings } from "./settings";

// Operators create mesh groups (ring and boot-node counts fixed at creation), hand out enrolment tokens for closed
// groups, and revoke members. Reads need viewer, changes operator.

export const meshAdminRoutes = newRouter();

/** Ifrit's ca_addr for a group: host:port/mesh/<group>, from PUBLIC_BASE_URL (Ifrit itself prepends http://). */
function caAddr(publicBaseUrl: string, group: string, token?: string): string {
  const u = new URL(publicBaseUrl);
  const path = u.pathname.replace(/\/+$/, "");
  return `${u.host}${path}/mesh/${group}${token ? `/enrol/${token}` : ""}`;
}

function groupView(g: MeshGroupRow, base: string, counts?: { members: number; revoked: number }) {
  return {
    name: g.name,
    num_rings: g.numRings,
    boot_nodes: g.bootNodes,
    closed: g.closed,
    ca_addr: caAddr(base, g.name),
    ca_cert: g.caCertDer,
    created_at: g.createdAt,
    created_by: g.createdBy,
    ...(counts ?? {}),
  };
}

meshAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/mesh/groups",
    tags: ["mesh"],
    summary: "Create a mesh group (its CA certificate, ring count and boot-node count)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { body: jsonBody(CreateGroupBody) },
    responses: { 201: jsonContent(MeshGroup, "The new group"), ...errorResponses(400, 401, 403, 409) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const settings = meshSettings(c.env);
    const { db, clock, settings: app } = c.var.services;
    const row = await createGroup(db, await settings.caKey(), {
      name: body.name,
      numRings: body.num_rings ?? settings.numRings,
      bootNodes: body.boot_nodes ?? settings.bootNodes,
      closed: body.closed,
      by: actorOf(principal(c)),
      now: clock.now(),
    });
    return c.json(groupView(row, app.publicBaseUrl), 201);
  },
);

meshAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/mesh/groups",
    tags: ["mesh"],
    summary: "List mesh groups with their member counts",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    responses: { 200: jsonContent(GroupList, "Groups by name"), ...errorResponses(401, 403) },
  }),
  async (c) => {
    const rows = await listGroups(c.var.services.db);
    const base = c.var.services.settings.publicBaseUrl;
    return c.json({ groups: rows.map((r) => groupView(r.group, base, { members: r.members, revoked: r.revoked })) }, 200);
  },
);

meshAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/mesh/groups/{group}",
    tags: ["mesh"],
    summary: "One mesh group and its members in enrolment order, with their current certificates",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: GroupParam, query: GroupDetailQuery },
    responses: { 200: jsonContent(GroupDetail, "The group"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { group } = c.req.valid("param");
    const q = c.req.valid("query");
    const { db, settings } = c.var.services;
    const g = await groupByName(db, group);
    if (!g) throw new ApiError("not_found", `no mesh group "${group}"`);
    const rows = await groupMembers(db, group, { limit: q.limit, afterSeq: q.after_seq });
    const memberList = rows.map((r) => ({
      id: r.member.id,
      seq: r.member.seq,
      trusted: r.member.seq <= g.bootNodes,
      named_curve: r.member.namedCurve,
      rpc_addr: r.member.rpcAddr,
      ping_addr: r.member.pingAddr,
      http_addr: r.member.httpAddr,
      enrolled_at: r.member.enrolledAt,
      revoked_at: r.member.revokedAt,
      serial: r.serial,
      subject: r.subject,
      not_after: r.notAfter,
    }));
    const next = rows.length === q.limit ? rows[rows.length - 1].member.seq : null;
    return c.json({ ...groupView(g, settings.publicBaseUrl), member_list: memberList, next_after_seq: next }, 200);
  },
);

meshAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/mesh/groups/{group}/enrolment-tokens",
    tags: ["mesh"],
    summary: "Make an enrolment token for a (closed) group; it is shown once",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { params: GroupParam, body: jsonBody(CreateTokenBody) },
    responses: { 201: jsonContent(EnrolmentToken, "The token"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { group } = c.req.valid("param");
    const body = c.req.valid("json");
    const { db, clock, settings } = c.var.services;
    if (!(await groupByName(db, group))) throw new ApiError("not_found", `no mesh group "${group}"`);
    const t = await createEnrolmentToken(db, {
      group,
      uses: body.uses,
      ttlS: body.ttl_s ?? meshSettings(c.env).enrolmentTokenTtlS,
      by: actorOf(principal(c)),
      now: clock.now(),
    });
    c.header("Cache-Control", "no-store");
    return c.json({ token: t.token, group, uses: t.uses, expires_at: t.expiresAt, ca_addr: caAddr(settings.publicBaseUrl, group, t.token) }, 201);
  },
);

meshAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/mesh/groups/{group}/members/{id}/revoke",
    tags: ["mesh"],
    summary: "Revoke a member: its key may not renew, and the group removes it",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { params: MemberParam },
    responses: { 200: jsonContent(RevokeAnswer, "Revoked (or already was)"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { group, id } = c.req.valid("param");
    const { db, clock } = c.var.services;
    const outcome = await revokeMember(db, { group, id, by: actorOf(principal(c)), now: clock.now() });
    // Told every time (also when already revoked), so a group object that missed the first call catches up.
    try {
      await notifyGroupRevoked(c.env, group, id);
    } catch (e) {
      log.error("mesh.ca", "the group object refused revoke", { group, id, error: errorText(e) });
      throw new ApiError("unavailable", "revoked here, but the group could not be told: send the same request again");
    }
    return c.json({ id, group, status: outcome === "revoked" ? ("revoked" as const) : ("already_revoked" as const) }, 200);
  },
);

const MemberDisabled = z.object({ id: z.string(), group: z.string(), disabled: z.boolean() }).openapi("MeshMemberDisabled");

/**
 * Disable / enable a member (docs/security.md "Revocation"): unlike revocation it is undone by enabling, and the
 * member keeps its certificate. Disabling records it in D1 first (the member principal is marked disabled and its
 * version bumped, so any member token stops), then tells the group object, which closes the member's socket and
 * refuses its connects and signed requests. The group is told every time, so a repeat catches up an object that
 * missed it (503 when it could not be told: send the same request again).
 */
for (const action of ["disable", "enable"] as const) {
  meshAdminRoutes.openapi(
    createRoute({
      method: "post",
      path: `/api/v1/admin/mesh/groups/{group}/members/{id}/${action}`,
      tags: ["mesh"],
      summary:
        action === "disable"
          ? "Disable a member: its connection is closed, it cannot connect or sign requests until enabled"
          : "Enable a disabled member (it connects again; a revoked member stays revoked)",
      security: [{ bearer: [] }],
      middleware: [requireOperator("operator")] as const,
      request: { params: MemberParam },
      responses: { 200: jsonContent(MemberDisabled, action === "disable" ? "Disabled" : "Enabled"), ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { group, id } = c.req.valid("param");
      const { db, clock } = c.var.services;
      const me = principal(c);
      const found = await memberById(db, group, id);
      if (!found) throw new ApiError("not_found", `no member ${id} in mesh group "${group}"`);
      if (action === "enable" && found.revokedAt) throw new ApiError("conflict", "this member's certificate is revoked: it stays revoked");
      const at = clock.now().toISOString();
      const subject = { kind: "mesh_member" as const, id };
      await db.batch([
        setDisabled(db, "member", id, action === "disable" ? at : null, at).returning({ version: principalVersions.version }),
        eventInsert(db, { at, type: `mesh.member.${action}d`, actor: actorOf(me), subject, data: { group } }),
        auditInsert(db, { at, action: `mesh.member.${action}d`, actor: actorOf(me), subject, data: { group } }),
      ]);
      try {
        await groupStub(c.env, group).setMemberDisabled(id, action === "disable");
      } catch (e) {
        log.error("mesh.members", `the group object refused ${action}`, { group, id, error: errorText(e) });
        throw new ApiError("unavailable", `${action}d here, but the group could not be told: send the same request again`);
      }
      return c.json({ id, group, disabled: action === "disable" }, 200);
    },
  );
}
