import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { eq } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { agents } from "../../schema/minions";
import { connectKindAllowed } from "./enrolment";
import { minionsSettings } from "./settings";
import { BenchSeedBody, MinionBuckets, MinionChanges, MinionIdParam, MinionsQuery, MinionStatus } from "../../schema/minions-api";
import { bearerOf, requireOperator, resolvePrincipal } from "../auth/middleware";
import { ApiError } from "../lib/errors";
import { rateLimit } from "../lib/rate-limit";
import { type AppEnv, newRouter, parseJsonText } from "../lib/hono";
import { isUuid } from "../lib/ids";
import { errorResponses, jsonContent } from "../lib/openapi";
import { benchItem } from "./bench";
import { etagOf, ifNoneMatchHits, shardOf } from "./checksum";
import { replyHeaders } from "./frames";
import { decodeListCursor, encodeListCursor } from "./listing";
import { agentStub, changesSince, decodeSince, fleetStub, latestCursor, listPage, shardFor, shardStub } from "./registry";

export const minionRoutes = newRouter();

/** Content-MD5 (hex, as Stormtower sends it) and the same value as a strong ETag; 304 when If-None-Match matches. */
function checksumHeaders(c: Context<AppEnv>, hex: string): Response | null {
  c.header("Content-MD5", hex);
  c.header("ETag", etagOf(hex));
  c.header("Cache-Control", "no-cache");
  if (ifNoneMatchHits(c.req.header("if-none-match"), hex)) return c.body(null, 304);
  return null;
}

const notModified = { description: "If-None-Match matched the current checksum" };
const checksumHeaderDocs = {
  "Content-MD5": { description: "The checksum, hex (Stormtower's non-standard use)", schema: { type: "string" as const } },
  ETag: { description: "The same checksum as a strong entity tag", schema: { type: "string" as const } },
};

// ---- Agents connect -------------------------------------------------------------------------------------------

/**
 * The token of a connecting agent: `Authorization: Bearer <token>`, or (for clients that cannot set headers, such
 * as browsers and Node's WebSocket) the subprotocols `bearer, <token>`; the server then selects `bearer`.
 */
export function tokenFromProtocols(header: string | undefined | null): string | null {
  if (!header) return null;
  const parts = header.split(",").map((p) => p.trim());
  const i = parts.findIndex((p) => p.toLowerCase() === "bearer");
  if (i < 0) return null;
  const token = parts[i + 1];
  return token && /^[A-Za-z0-9._~+/=-]+$/.test(token) ? token : null;
}

// Plain handlers (a WebSocket upgrade; any method) are still documented in /openapi.json.
minionRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/agents/{id}/connect",
  tags: ["minions"],
  summary: "An agent's WebSocket (upgrade). Token: Authorization: Bearer, or subprotocols 'bearer, <token>'",
  description: "Frames: hello/hello:reply, beacon/beacon:reply, relay/relay-reply (docs/minions.md).",
  security: [{ bearer: [] }],
  request: { params: MinionIdParam },
  responses: { 101: { description: "Switching Protocols" }, ...errorResponses(400, 401, 403, 429) },
});
minionRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: "/proxy/{target}/{path}",
  tags: ["minions"],
  summary: "ALL /proxy/:id@:port/*: relay any request to an agent's port (GET/HEAD/OPTIONS: viewer; others: operator)",
  description: "404 unknown/offline agent or port not in its capability; 408 no reply within PROXY_TIMEOUT_MS; 500 agent error.",
  security: [{ bearer: [] }],
  request: {
    params: z.object({
      target: z.string().openapi({ param: { name: "target", in: "path" }, example: "30a2a131-f812-4666-bb69-c443f7e3a901@5000" }),
      path: z.string().openapi({ param: { name: "path", in: "path" }, example: "status" }),
    }),
  },
  responses: { 200: { description: "The agent's reply (status, headers, body as the agent sent them)" }, ...errorResponses(400, 401, 403, 404, 408) },
});

minionRoutes.get("/agents/:id/connect", rateLimit("agent_connect"), async (c) => {
  const id = c.req.param("id").toLowerCase();
  if (!isUuid(id)) throw new ApiError("validation_failed", "invalid request: id: must be a device id (client_id) this service issued");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError("upgrade_required", "this endpoint takes a WebSocket upgrade");
  let token = bearerOf(c);
  let viaProtocol = false;
  if (token === null) {
    token = tokenFromProtocols(c.req.header("sec-websocket-protocol"));
    viaProtocol = token !== null;
  }
  const who = await resolvePrincipal(c, token);
  if (!who) throw new ApiError("unauthorized", "authentication required", undefined, { "WWW-Authenticate": "Bearer" });
  const mode = minionsSettings(c.env).enrolment;
  if (!connectKindAllowed(who.kind, mode)) {
    throw new ApiError(
      "forbidden",
      who.kind === "probe" ? "a probe token may connect only when AGENT_ENROLMENT is open: enrol as an agent" : "an agent token is required",
    );
  }
  if (who.sub !== id) throw new ApiError("forbidden", "an agent may connect only as itself");
  const { db } = c.var.services;
  if (who.kind === "agent") {
    const row = await db.select({ state: agents.state }).from(agents).where(eq(agents.id, id)).get();
    if (!row) throw new ApiError("forbidden", "agent is not enrolled");
    if (row.state !== "active") throw new ApiError("forbidden", "this agent is awaiting an operator's approval");
  } else {
    const row = await db.select({ id: probes.id }).from(probes).where(eq(probes.id, id)).get();
    if (!row) throw new ApiError("forbidden", "device is not registered");
  }
  const headers = new Headers({ upgrade: "websocket", "x-minion-id": id, "x-minion-kind": who.kind, "x-minion-version": String(c.get("token")?.ver ?? 0) });
  if (viaProtocol) headers.set("x-minion-protocol", "bearer");
  const res = await agentStub(c.env, id).fetch(new Request("https://minion-agent/connect", { headers }));
  // The object refuses a token from before the agent was disabled (the D1 check above may have raced the disable).
  if (res.status === 403) throw new ApiError("forbidden", "this agent is disabled");
  if (!res.webSocket) throw new ApiError("internal", "agent object refused the connection");
  // A fresh Response: the stub's headers are immutable and the app's middleware adds X-Request-Id.
  return new Response(null, { status: 101, webSocket: res.webSocket, headers: new Headers(res.headers) });
});

// ---- Registry reads ----------------------------------------------------------------------------------------------

minionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/minions",
    tags: ["minions"],
    summary: "The minions' statuses, in pages (HEAD: only the fleet checksum); with ?since= the change feed",
    description:
      "HEAD and GET carry the fleet checksum in Content-MD5 (hex) and ETag; If-None-Match gives 304. GET returns the last " +
      "stored status of each ready minion in join order, at most MINIONS_PAGE_SIZE (or `limit`) per page: a fleet that fits " +
      'one page is the whole array, as Stormtower answers; otherwise `Link: <...>; rel="next"` and X-Minions-Next-Cursor ' +
      "name the next page (`?cursor=`). X-Minions-Cursor is the change feed's cursor; `?since=<cursor>` returns the minion " +
      "events after it instead.",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { query: MinionsQuery },
    responses: {
      200: {
        description: "A page of statuses (or the change feed with ?since=)",
        headers: {
          ...checksumHeaderDocs,
          Link: { description: 'rel="next": the next page, when there is one', schema: { type: "string" as const } },
          "X-Minions-Next-Cursor": { description: "The next page's cursor, when there is one", schema: { type: "string" as const } },
        },
        content: { "application/json": { schema: z.union([z.array(MinionStatus), MinionChanges]) } },
      },
      304: notModified,
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { db, settings } = c.var.services;
    if (q.since !== undefined) {
      if (q.cursor !== undefined) throw new ApiError("validation_failed", "invalid request: cursor pages the listing, since the change feed: send one");
      if (q.limit !== undefined && q.limit > 1000)
        throw new ApiError("validation_failed", "invalid request: limit: the change feed gives at most 1000 events a page");
      return c.json(await changesSince(db, decodeSince(q.since), q.limit ?? 500), 200);
    }
    const head = c.req.method === "HEAD";
    const after = q.cursor === undefined ? null : decodeListCursor(q.cursor);
    const pageSize = minionsSettings(c.env).pageSize;
    const limit = Math.min(q.limit ?? pageSize, pageSize);
    // The cursor is read first: a change racing this read is reported again by the feed, never lost.
    const cursor = head ? null : await latestCursor(db);
    const fleet = await fleetStub(c.env).summary();
    const nm = checksumHeaders(c, fleet.checksum);
    c.header("X-Minion-Count", String(fleet.count));
    if (nm) return nm;
    if (head) return c.body(null, 200, { "Content-Type": "application/json" });
    c.header("X-Minions-Cursor", cursor!);
    const page = await listPage(c.env, after, limit);
    if (page.next) {
      const next = encodeListCursor(page.next);
      const u = new URL(c.req.url);
      u.searchParams.set("cursor", next);
      if (q.limit !== undefined) u.searchParams.set("limit", String(limit));
      c.header("X-Minions-Next-Cursor", next);
      c.header("Link", `<${settings.publicBaseUrl}${u.pathname}${u.search}>; rel="next"`);
    }
    return c.body(page.text, 200, { "Content-Type": "application/json" });
  },
);

minionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/minions/buckets",
    tags: ["minions"],
    summary: "The fleet checksum's buckets: a controller compares digests to find what changed without fetching the fleet",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    responses: {
      200: { description: "Non-empty buckets in order", headers: checksumHeaderDocs, content: { "application/json": { schema: MinionBuckets } } },
      304: notModified,
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { summary, buckets } = await fleetStub(c.env).buckets();
    const nm = checksumHeaders(c, summary.checksum);
    if (nm) return nm;
    return c.json({ checksum: summary.checksum, count: summary.count, buckets }, 200);
  },
);

minionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/minions/buckets/{bucket}",
    tags: ["minions"],
    summary: "One bucket's members and their checksums",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: {
      params: z.object({
        bucket: z
          .string()
          .regex(/^[0-9a-f]{2}$/, "must be two lowercase hex characters")
          .openapi({ param: { name: "bucket", in: "path" } }),
      }),
    },
    responses: {
      200: jsonContent(
        z.object({ bucket: z.string(), digest: z.string().nullable(), minions: z.array(z.object({ id: z.string(), checksum: z.string() })) }),
        "Members",
      ),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { bucket } = c.req.valid("param");
    return c.json(await shardStub(c.env, bucket[0]).bucket(bucket), 200);
  },
);

minionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/minions/{id}",
    tags: ["minions"],
    summary: "One minion's status (HEAD: only its checksum)",
    description: "Content-MD5 = MD5 hex of the status without its top-level `os` key; the same value as ETag. Unknown id: 404.",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: MinionIdParam },
    responses: {
      200: { description: "The status", headers: checksumHeaderDocs, content: { "application/json": { schema: MinionStatus } } },
      304: notModified,
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const shard = shardFor(c.env, id);
    if (c.req.method === "HEAD") {
      const sum = await shard.checksumOf(id);
      if (sum === null) throw new ApiError("not_found", "no such minion");
      return checksumHeaders(c, sum) ?? c.body(null, 200, { "Content-Type": "application/json" });
    }
    const m = await shard.get(id);
    if (!m) throw new ApiError("not_found", "no such minion");
    return checksumHeaders(c, m.checksum) ?? c.body(m.status, 200, { "Content-Type": "application/json" });
  },
);

// ---- Proxy -----------------------------------------------------------------------------------------------------

const TARGET_RE = /^([0-9a-fA-F-]{36})@(\d{1,5})$/;

/** `/proxy/<id>@<port>/<path>` → {id, port, url} or null (the path keeps its query string). */
export function parseProxyPath(pathname: string, search: string): { id: string; port: number; url: string } | null {
  const m = /^\/proxy\/([^/]+)(\/.*)?$/.exec(pathname);
  if (!m) return null;
  let target: string;
  try {
    target = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  const t = TARGET_RE.exec(target);
  if (!t || !isUuid(t[1])) return null;
  const port = Number(t[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { id: t[1].toLowerCase(), port, url: `${m[2] ?? "/"}${search}` };
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

minionRoutes.all("/proxy/*", async (c) => {
  // Reads for viewers, anything else for operators; checked before the path, so anonymous callers learn nothing.
  await requireOperator(READS.has(c.req.method) ? "viewer" : "operator")(c, async () => {});
  const url = new URL(c.req.url);
  const target = parseProxyPath(url.pathname, url.search);
  if (!target) throw new ApiError("validation_failed", "invalid request: path must be /proxy/<device id>@<port>/<path> with a port in 1-65535");
  let data: unknown = null;
  if (!READS.has(c.req.method)) {
    const text = await c.req.text();
    if (text !== "") {
      // Relayed as it came: any JSON value for a JSON body, the text otherwise.
      data = /json/i.test(c.req.header("content-type") ?? "") ? parseJsonText(text, z.json()) : text;
    }
  }
  const r = await agentStub(c.env, target.id).relay({
    port: target.port,
    method: c.req.method,
    url: target.url,
    data,
    timeoutMs: c.var.services.settings.minions.proxyTimeoutMs,
  });
  if (!r.ok) {
    throw new ApiError(r.status === 404 ? "not_found" : r.status === 408 ? "request_timeout" : "internal", r.error);
  }
  if (r.statusCode < 200) throw new ApiError("bad_gateway", `agent replied with status ${r.statusCode}`);
  const bodyless = r.statusCode === 204 || r.statusCode === 304 || c.req.method === "HEAD";
  return new Response(bodyless ? null : r.body, { status: r.statusCode, headers: replyHeaders(r.headers) });
});

// ---- Benchmark-only seeding ----------------------------------------------------------------------------------------

minionRoutes.post("/minions/_bench/seed", async (c) => {
  if (!c.var.services.settings.minions.benchSeed) throw new ApiError("not_found", `no route for POST ${new URL(c.req.url).pathname}`);
  await requireOperator("admin")(c, async () => {});
  const { count, offset, round, single } = parseJsonText(await c.req.text(), BenchSeedBody);
  const groups = new Map<string, ReturnType<typeof benchItem>[]>();
  for (let i = offset; i < offset + count; i++) {
    const it = benchItem(i, round);
    const s = shardOf(it.id);
    const g = groups.get(s);
    if (g) g.push(it);
    else groups.set(s, [it]);
  }
  const at = c.var.services.clock.now().toISOString();
  const started = Date.now();
  let applied = 0;
  if (single) {
    // Per shard, writes one after another (as one agent's polls are); shards in parallel.
    await Promise.all(
      [...groups].map(async ([s, items]) => {
        const stub = shardStub(c.env, s);
        for (const it of items) {
          const r = await stub.upsert(it.id, it.seq, it.checksum, it.status, at);
          if (r.outcome === "joined" || r.outcome === "changed") applied++;
        }
      }),
    );
  } else {
    const results = await Promise.all([...groups].map(([s, items]) => shardStub(c.env, s).upsertMany(items, at)));
    applied = results.reduce((n, r) => n + r.applied, 0);
  }
  return c.json({ applied, ms: Date.now() - started }, 200);
});
