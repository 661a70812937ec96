import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { bearerOf, requireOperator } from "../auth/middleware";
import { ApiError } from "../lib/errors";
import { type AppEnv, newRouter } from "../lib/hono";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { MemberId } from "./frames";
import { bytesToHex } from "./ring";
import { requestContent } from "./signatures";

/**
 * Membership routes of a mesh group (docs/mesh.md "Membership"): a member's WebSocket, the live view, and
 * SendToId over HTTP. Members authenticate HTTP calls with a signed request header; operators with their token.
 */
export const meshGroupRoutes = newRouter();

export const GroupName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
  .openapi({ param: { name: "group", in: "path" }, example: "demo" });
const GroupParam = z.object({ group: GroupName });
const MemberParam = z.object({ group: GroupName, id: MemberId.openapi({ param: { name: "id", in: "path" } }) });

/** How far a signed request's timestamp may be from the server's clock. */
export const SIGNED_REQUEST_SKEW_S = 300;

export function groupStub(env: Env, group: string) {
  return env.MESH_GROUP.get(env.MESH_GROUP.idFromName(group));
}

/**
 * A member's signed request: `X-Mesh-Member: <id>`, `X-Mesh-Timestamp: <unix seconds>`, `X-Mesh-Signature: <base64
 * ECDSA-SHA256 (DER or r‖s)>` over requestContent(group, method, path, ts, sha256hex(body)), verified with the
 * member's certificate key by the group object. Returns the member id, or null when no X-Mesh-Member was sent.
 */
async function signedMember(c: Context<AppEnv>, group: string, body: ArrayBuffer): Promise<string | null> {
  const id = c.req.header("x-mesh-member");
  if (id === undefined) return null;
  const unauthorized = (why: string) => new ApiError("unauthorized", why, undefined, { "WWW-Authenticate": 'MeshSignature realm="mesh"' });
  const ts = Number(c.req.header("x-mesh-timestamp"));
  const sig = c.req.header("x-mesh-signature") ?? "";
  if (!MemberId.safeParse(id).success) throw unauthorized("X-Mesh-Member must be a member id (64 lowercase hex)");
  if (!Number.isSafeInteger(ts)) throw unauthorized("X-Mesh-Timestamp must be unix seconds");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sig)) throw unauthorized("X-Mesh-Signature must be base64");
  const nowS = Math.floor(c.var.services.clock.now().getTime() / 1000);
  if (Math.abs(nowS - ts) > SIGNED_REQUEST_SKEW_S) throw unauthorized(`X-Mesh-Timestamp is more than ${SIGNED_REQUEST_SKEW_S} s from the server's clock`);
  const hash = bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
  const content = requestContent(group, c.req.method, new URL(c.req.url).pathname, ts, hash);
  const r = await groupStub(c.env, group).verifyRequest(id, content, sig);
  if (r === "unknown") throw unauthorized("no such member in this group");
  if (r === "refused") throw new ApiError("forbidden", "this member's certificate is revoked or expired");
  if (r === "bad_signature") throw unauthorized("X-Mesh-Signature does not verify with this member's certificate key");
  return id;
}

/** The exact request bytes, read before the JSON validator so the signature is checked over what was sent. */
const rawBodies = new WeakMap<Request, ArrayBuffer>();
const UNSIGNED_SEND = "members send with a signed request (X-Mesh-Member, X-Mesh-Timestamp, X-Mesh-Signature)";

const captureBody = createMiddleware<AppEnv>(async (c, next) => {
  // A caller that sends no member credentials is told so before its parameters and body are validated.
  if (!c.req.header("x-mesh-member")) throw new ApiError("unauthorized", UNSIGNED_SEND, undefined, { "WWW-Authenticate": 'MeshSignature realm="mesh"' });
  rawBodies.set(c.req.raw, await c.req.arrayBuffer());
  await next();
});

meshGroupRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/mesh/{group}/members/{id}/connect",
  tags: ["mesh"],
  summary: "A member's WebSocket (upgrade). The group sends a challenge; the member signs it with its certificate key",
  description: 'Frames: docs/mesh.md "Membership". 404 unknown member; 403 revoked or expired certificate; 426 not an upgrade.',
  request: { params: MemberParam },
  responses: { 101: { description: "Switching Protocols" }, ...errorResponses(400, 403, 404) },
});

meshGroupRoutes.get("/mesh/:group/members/:id/connect", async (c) => {
  const p = MemberParam.safeParse({ group: c.req.param("group"), id: c.req.param("id") });
  if (!p.success) throw new ApiError("validation_failed", `invalid request: ${p.error.issues[0].path.join(".")}: ${p.error.issues[0].message}`);
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError("upgrade_required", "this endpoint takes a WebSocket upgrade");
  const { group, id } = p.data;
  const res = await groupStub(c.env, group).fetch(
    new Request("https://mesh-group/connect", { headers: { upgrade: "websocket", "x-mesh-member": id, "x-mesh-group": group } }),
  );
  if (!res.webSocket) {
    const body = (await res.json().catch(() => null)) as { error?: string; code?: string } | null;
    const code = body?.code === "not_found" || body?.code === "forbidden" || body?.code === "upgrade_required" ? body.code : "internal";
    throw new ApiError(code, body?.error ?? "the group refused the connection");
  }
  return new Response(null, { status: 101, webSocket: res.webSocket, headers: new Headers(res.headers) });
});

const LiveMember = z.object({ id: z.string(), rpcAddr: z.string(), pingAddr: z.string(), httpAddr: z.string().nullable() }).openapi("MeshLiveMember");

meshGroupRoutes.openapi(
  createRoute({
    method: "get",
    path: "/mesh/{group}/members",
    tags: ["mesh"],
    summary: "Members(): the group's live view (ids and addresses). Operators (viewer+) or the group's members (signed request)",
    security: [{ bearer: [] }],
    request: { params: GroupParam },
    responses: { 200: jsonContent(z.object({ members: z.array(LiveMember) }), "The live view, by id"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { group } = c.req.valid("param");
    const member = await signedMember(c, group, new ArrayBuffer(0));
    if (member === null) {
      if (bearerOf(c) === null)
        throw new ApiError("unauthorized", "authentication required (operator token or a member's signed request)", undefined, {
          "WWW-Authenticate": "Bearer",
        });
      await requireOperator("viewer")(c, async () => {});
    }
    return c.json({ members: await groupStub(c.env, group).liveView() }, 200);
  },
);

const MessageBody = z
  .object({
    data: z
      .string()
      .max(1_400_000)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be standard base64")
      .openapi({ example: "aGVsbG8=" }),
  })
  .openapi("MeshMessage");
const MessageReply = z.object({ data: z.string().nullable(), error: z.string().nullable() }).openapi("MeshMessageReply");

meshGroupRoutes.openapi(
  createRoute({
    method: "post",
    path: "/mesh/{group}/members/{id}/messages",
    tags: ["mesh"],
    summary: "SendToId over HTTP: relay `data` to member :id's message handler and return its reply (signed member request)",
    description:
      "200 {data, error} with the handler's reply or error; 404 unknown member; 504 when the destination is not connected or does not answer " +
      "within MESH_MESSAGE_TIMEOUT_S. At most MESH_MAX_CONCURRENT_MESSAGES of a sender's messages are in flight; the rest wait their turn.",
    middleware: [captureBody] as const,
    request: { params: MemberParam, body: jsonBody(MessageBody) },
    responses: { 200: jsonContent(MessageReply, "The destination's reply"), ...errorResponses(400, 401, 403, 404), 504: { description: "No reply" } },
  }),
  async (c) => {
    const { group, id } = c.req.valid("param");
    const { data } = c.req.valid("json");
    const raw = rawBodies.get(c.req.raw) ?? new ArrayBuffer(0);
    const from = await signedMember(c, group, raw);
    if (from === null) throw new ApiError("unauthorized", UNSIGNED_SEND);
    const r = await groupStub(c.env, group).sendMessage(from, id, data);
    if (r.status === "unknown") throw new ApiError("not_found", "no member with that id in this group");
    if (r.status !== "ok")
      throw new ApiError("gateway_timeout", r.status === "timeout" ? "the destination did not reply in time" : "the destination is unreachable");
    return c.json({ data: r.data, error: r.error }, 200);
  },
);
