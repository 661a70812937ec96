import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { BackupReply, Jwks, LeaseReply, RegisterBody, RegisterReply, SchoolError, SerialQuery, StatusReply, UidParam, UidQuery } from "../../schema/school-api";
import { d1FailureAsApiError, isD1Failure } from "../lib/d1-errors";
import { ApiError, ERROR_STATUS } from "../lib/errors";
import { type AppEnv, newRouter, type Services } from "../lib/hono";
import { activate, activationBody } from "./activation";
import { log } from "../lib/log";
import { rateLimit } from "../lib/rate-limit";
import { epochOf, epochQuery, userQuery } from "./queries";
import { activationSerial, clientConfig, normalisePubkey, normaliseSerial, SERIAL_INPUT_RE, servicesFor, stampOf, UID_RE } from "./registration";
import { schoolKeyring, schoolSettings } from "./settings";
import { admitBackupBatch, registerBatch } from "./store";
import { FAULT, faultResponse, methodResponse, parseMethodCall, type XmlRpcValue, XmlRpcFault } from "./xmlrpc";

/**
 * The school server's client surface (sugar-server): JSON registration, status and backup admission, XML-RPC
 * `register` at POST /RPC2 and POST / (where Sugar's own client posts), activation and leases, and the JWKS.
 * Errors here use sugar-server's envelope {"success": "ERR", "error"} (the router's own onError), and XML-RPC
 * always answers HTTP 200 with a result or a fault.
 */
export const schoolRoutes = newRouter();

type C = Context<AppEnv>;

const json = (description: string, schema: typeof RegisterReply | typeof StatusReply | typeof BackupReply | typeof LeaseReply | typeof Jwks) => ({
  description,
  content: { "application/json": { schema } },
});
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: "Failure in the school envelope", content: { "application/json": { schema: SchoolError } } }]));

schoolRoutes.onError((err, c) => {
  let e: ApiError;
  if (err instanceof ApiError) e = err;
  else if (err instanceof HTTPException) {
    e =
      err.status === 400 && /json/i.test(err.message)
        ? new ApiError("invalid_json", "request body is not valid JSON")
        : err.status === 413
          ? new ApiError("payload_too_large", "request body too large")
          : new ApiError("bad_request", err.message || "bad request");
  } else if (isD1Failure(err)) {
    e = d1FailureAsApiError(err, c.req.method) as ApiError;
    log.warn("school", `D1 failure: ${String(err)}`, { requestId: c.get("requestId"), code: e.code });
  } else {
    log.error("school", String(err), { requestId: c.get("requestId"), stack: (err as Error)?.stack });
    e = new ApiError("internal", "internal error");
  }
  for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
  return c.json({ success: "ERR" as const, error: e.message, code: e.code }, e.status);
});

// ---- body size ---------------------------------------------------------------------------------------------------

/**
 * The school routes that take a body. The app's own body limit skips them (functions/app.ts): each limits its body
 * here, to the same MAX_BODY_BYTES, so that a body too large is refused in the school's form, not the app's: the
 * JSON envelope {"success": "ERR", ...} with 413 for the JSON and text routes, an XML-RPC fault with HTTP 200 for
 * the XML-RPC routes (docs/school.md).
 */
const SCHOOL_BODY_PATHS = new Set(["/client/register", "/activation", "/RPC2", "/"]);
export const schoolLimitsItsBody = (path: string) => SCHOOL_BODY_PATHS.has(path);

function schoolBodyLimit(render?: (c: C, err: ApiError) => Response) {
  return createMiddleware<AppEnv>((c, next) => {
    const max = c.var.services.settings.maxBodyBytes;
    return bodyLimit({
      maxSize: max,
      onError: (c) => {
        const err = new ApiError("payload_too_large", `request body exceeds ${max} bytes`);
        if (render) return render(c as C, err);
        throw err;
      },
    })(c, next);
  });
}

// ---- registration ----------------------------------------------------------------------------------------------

type RegisterInput = { uid: string; nickname: string | null; serial: string | null; machineUuid: string | null; pubkey: string | null };

// Sugar's stand-ins when a machine has no manufacturing data (jarabe/desktop/schoolserver.py): every such client
// sends the same ones, so they identify nothing and must not move a serial or bind a lease.
const NO_SERIAL = "SHF00000000";
const NO_UUID = "00000000-0000-0000-0000-000000000000";

async function registerUser(c: C, input: RegisterInput, via: "json" | "xmlrpc") {
  const { db, clock, commit, settings: app } = c.var.services;
  const s = schoolSettings(c.env);
  let pubkey: string | null = null;
  if (input.pubkey !== null && input.pubkey.trim() !== "") {
    const p = normalisePubkey(input.pubkey);
    if (!p.ok) throw new ApiError("validation_failed", p.error);
    pubkey = p.pubkey;
  }
  const serial = input.serial && input.serial !== NO_SERIAL ? input.serial : null;
  const machineUuid = input.machineUuid && input.machineUuid !== NO_UUID ? input.machineUuid.toLowerCase() : null;
  const stamp = stampOf(await currentEpochOf(c.var.services), s);
  await commit(registerBatch(db, { uid: input.uid, nickname: input.nickname, serial, machineUuid, pubkey, stamp, at: clock.now().toISOString(), via }));
  const services = servicesFor(s, input.uid);
  return {
    success: "OK" as const,
    uid: input.uid,
    uuid: input.uid,
    config: clientConfig(services, app.publicBaseUrl),
    ...services,
    stamp,
  };
}

async function currentEpochOf(services: Services): Promise<number> {
  return epochOf(await epochQuery(services.db));
}

schoolRoutes.openapi(
  createRoute({
    method: "post",
    path: "/client/register",
    tags: ["school"],
    summary: "Register a Sugar user (sugar-server id service)",
    description: "A serial held by another user moves to this one; the other is de-registered. The pubkey may lack its `ssh-dss ` prefix.",
    middleware: [rateLimit("register"), schoolBodyLimit()] as const,
    request: { body: { required: true, content: { "application/json": { schema: RegisterBody } } } },
    responses: { 200: json("Registered", RegisterReply), ...errors(400, 413, 429, 503) },
  }),
  async (c) => {
    const b = c.req.valid("json");
    const uid = (b.uid ?? b.uuid) as string;
    const reply = await registerUser(
      c,
      { uid, nickname: b.nickname ?? null, serial: b.serial ?? null, machineUuid: b.machine_uuid ?? uid, pubkey: b.pubkey ?? null },
      "json",
    );
    c.header("Cache-Control", "no-store");
    return c.json(reply, 200);
  },
);

schoolRoutes.openapi(
  createRoute({
    method: "get",
    path: "/client/status",
    tags: ["school"],
    summary: "A client's registration status and the current stamp",
    description: "`jabber-url` and `backup-url` appear only when registered. A stamp different from the one a client keeps means: re-register.",
    request: { query: UidQuery },
    responses: { 200: json("Status", StatusReply), ...errors(400, 503) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const uid = (q.uid ?? q.uuid) as string;
    const { db } = c.var.services;
    const s = schoolSettings(c.env);
    const [users, epoch] = await db.batch([userQuery(db, uid), epochQuery(db)]);
    const stamp = stampOf(epochOf(epoch), s);
    const u = users[0];
    c.header("Cache-Control", "no-store");
    if (!u || u.deregisteredAt !== null) return c.json({ success: "OK" as const, registered: false, stamp }, 200);
    const svc = servicesFor(s, uid);
    return c.json({ success: "OK" as const, registered: true, stamp, "jabber-url": svc.jabberserver, "backup-url": svc.backupurl }, 200);
  },
);

// ---- backup admission ------------------------------------------------------------------------------------------

type Admission = { outcome: "accepted" } | { outcome: "busy"; retryAfterS: number } | { outcome: "unregistered" } | { outcome: "no_pubkey" };

async function admitBackup(c: C, uid: string): Promise<Admission> {
  const { db, clock } = c.var.services;
  const s = schoolSettings(c.env);
  const now = clock.now();
  const expires = new Date(now.getTime() + s.backupAdmissionTtlS * 1000).toISOString();
  const [, user, mine, next] = await db.batch(admitBackupBatch(db, uid, now.toISOString(), expires, s.maxConcurrentBackups));
  const u = user[0];
  if (!u?.registered) return { outcome: "unregistered" };
  if (!u.hasKey) return { outcome: "no_pubkey" };
  if (mine.length > 0) return { outcome: "accepted" };
  const nextFree = next[0]?.next ? Date.parse(next[0].next) : now.getTime() + s.backupAdmissionTtlS * 1000;
  return { outcome: "busy", retryAfterS: Math.max(1, Math.ceil((nextFree - now.getTime()) / 1000)) };
}

schoolRoutes.openapi(
  createRoute({
    method: "get",
    path: "/client/backup",
    tags: ["school"],
    summary: "May this client start its Journal backup now?",
    description:
      "`accepted` is true for a registered user with a public key while fewer than MAX_CONCURRENT_BACKUPS admissions are live; admissions expire after BACKUP_ADMISSION_TTL_S. When busy, `retry-after` says in how many seconds a slot frees.",
    request: { query: UidQuery },
    responses: { 200: json("Admission decision", BackupReply), ...errors(400, 403, 503) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const a = await admitBackup(c, (q.uid ?? q.uuid) as string);
    c.header("Cache-Control", "no-store");
    if (a.outcome === "unregistered") throw new ApiError("forbidden", "this uid is not registered on this school server");
    if (a.outcome === "no_pubkey") throw new ApiError("forbidden", "register with a public key to back up");
    if (a.outcome === "busy") {
      c.header("Retry-After", String(a.retryAfterS));
      return c.json({ success: "OK" as const, accepted: false, "retry-after": a.retryAfterS }, 200);
    }
    return c.json({ success: "OK" as const, accepted: true }, 200);
  },
);

// The first sugar-server interface: 200 (start now), 503 (retry later), 403 (registration not processed).
schoolRoutes.openapi(
  createRoute({
    method: "get",
    path: "/backup/uuid/available/{uuid}",
    tags: ["school"],
    summary: "Legacy backup admission: 200, 503 or 403",
    request: { params: UidParam },
    responses: { 200: { description: "Start the backup now" }, 403: { description: "Not registered (or no public key)" }, 503: { description: "Retry later" } },
  }),
  async (c) => {
    const { uuid } = c.req.valid("param");
    const a = await admitBackup(c, uuid);
    c.header("Cache-Control", "no-store");
    if (a.outcome === "accepted") return c.body(null, 200);
    if (a.outcome === "busy") {
      c.header("Retry-After", String(a.retryAfterS));
      return c.html("<p>Backup server busy, retry later.</p>\n", 503);
    }
    return c.html("<p>Registration was not processed.</p>\n", 403);
  },
);

// ---- activation and leases -------------------------------------------------------------------------------------

const ACTIVATION_MAX_BYTES = 1024;

schoolRoutes.openapi(
  createRoute({
    method: "post",
    path: "/activation",
    tags: ["school"],
    summary: "Anti-theft activation (what the TCP relay forwards from port 191)",
    description:
      "Body: the machine's 11-character serial (text/plain; a line starting with it is enough). Answer (text/plain): `STOLEN`, the lease (its OLPC act01 line first when an RSA key is configured, then the JWS), or `UNKNOWN`.",
    responses: {
      200: { description: "STOLEN, the lease, or UNKNOWN", content: { "text/plain": { schema: { type: "string" } } } },
      400: { description: "UNKNOWN: no serial in the body" },
      413: { description: "Body over MAX_BODY_BYTES (school envelope)", content: { "application/json": { schema: SchoolError } } },
      429: { description: "Too many activations from this address (school envelope, Retry-After)", content: { "application/json": { schema: SchoolError } } },
    },
    middleware: [rateLimit("activation"), schoolBodyLimit()] as const,
  }),
  async (c) => {
    const body = await c.req.text();
    const serial = body.length <= ACTIVATION_MAX_BYTES ? activationSerial(body) : null;
    c.header("Cache-Control", "no-store");
    if (!serial) return c.text("UNKNOWN\n", 400);
    const a = await activate(c.var.services, schoolSettings(c.env), await schoolKeyring(c.env), serial);
    return c.text(activationBody(a), 200);
  },
);

schoolRoutes.openapi(
  createRoute({
    method: "get",
    path: "/client/lease",
    tags: ["school"],
    summary: "The machine's lease (JSON form of the activation service)",
    request: { query: SerialQuery },
    responses: { 200: json("The lease", LeaseReply), ...errors(400, 403, 404, 503) },
  }),
  async (c) => {
    const { serial } = c.req.valid("query");
    const a = await activate(c.var.services, schoolSettings(c.env), await schoolKeyring(c.env), serial);
    c.header("Cache-Control", "no-store");
    if (a.kind === "stolen") throw new ApiError("forbidden", "STOLEN");
    if (a.kind === "unknown") throw new ApiError("not_found", "UNKNOWN: no lease for this serial");
    return c.json({ success: "OK" as const, lease: a.lease, ...(a.legacy ? { legacy: a.legacy.trimEnd() } : {}), expires_at: a.expiresAt }, 200);
  },
);

schoolRoutes.openapi(
  createRoute({
    method: "get",
    path: "/.well-known/jwks.json",
    tags: ["school"],
    summary: "Public keys that verify leases (server keys) and delegations (master key)",
    description:
      "Each key has its RFC 7638 thumbprint as `kid` and a `role` (server | master). Retired server keys stay listed so older leases keep verifying.",
    responses: { 200: json("JWKS", Jwks), 503: { description: "Keys not configured" } },
  }),
  async (c) => {
    const keyring = await schoolKeyring(c.env);
    c.header("Cache-Control", "public, max-age=300");
    return c.json({ keys: keyring.jwks }, 200);
  },
);

// ---- XML-RPC ---------------------------------------------------------------------------------------------------

const asString = (v: XmlRpcValue): string | null => (typeof v === "string" ? v : null);

/** The one XML-RPC method: `register(serial, nickname, uuid, pubkey)` → the same struct as POST /client/register. */
async function dispatch(c: C, method: string, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  if (method !== "register") throw new XmlRpcFault(FAULT.methodNotFound, `method "${method}" is not supported`);
  if (params.length !== 4) throw new XmlRpcFault(FAULT.invalidParams, `register takes 4 arguments (serial, nickname, uuid, pubkey), got ${params.length}`);
  const [serialV, nickV, uuidV, keyV] = params.map(asString);
  if (serialV === null || nickV === null || uuidV === null || keyV === null) throw new XmlRpcFault(FAULT.invalidParams, "register takes 4 strings");
  // Bad values are sugar-server's ERR struct, not faults: Sugar reads `success` and logs `error`.
  const serial = serialV.trim();
  const uuid = uuidV.trim();
  if (!UID_RE.test(uuid)) return { success: "ERR", error: "uuid must be 1-128 characters of letters, digits, . _ : -" };
  if (serial !== "" && !SERIAL_INPUT_RE.test(serial)) return { success: "ERR", error: "serial must be an 11-character XO serial" };
  if (nickV.length > 128) return { success: "ERR", error: "nickname is longer than 128 characters" };
  try {
    const reply = await registerUser(
      c,
      { uid: uuid, nickname: nickV, serial: serial ? normaliseSerial(serial) : null, machineUuid: uuid, pubkey: keyV },
      "xmlrpc",
    );
    return reply as unknown as XmlRpcValue;
  } catch (e) {
    if (e instanceof ApiError && ERROR_STATUS[e.code] < 500) return { success: "ERR", error: e.message };
    throw e;
  }
}

async function xmlRpc(c: C, body: string) {
  let reply: string;
  try {
    const { method, params } = parseMethodCall(body);
    reply = methodResponse(await dispatch(c, method, params));
  } catch (e) {
    if (e instanceof XmlRpcFault) reply = faultResponse(e.faultCode, e.faultString);
    else if (e instanceof ApiError) reply = faultResponse(FAULT.internal, e.message);
    else if (isD1Failure(e)) {
      // XML-RPC has no status to carry a 503: the fault says the registration's outcome is unknown.
      log.warn("school.xmlrpc", `D1 failure: ${String(e)}`, { requestId: c.get("requestId") });
      reply = faultResponse(FAULT.internal, (d1FailureAsApiError(e, "POST") as ApiError).message);
    } else {
      log.error("school.xmlrpc", String(e), { requestId: c.get("requestId"), stack: (e as Error)?.stack });
      reply = faultResponse(FAULT.internal, "internal error");
    }
  }
  c.header("Cache-Control", "no-store");
  return c.body(reply, 200, { "Content-Type": "text/xml; charset=utf-8" });
}

// XML-RPC's contract is HTTP 200 with a fault, so the registration limit answers one (Retry-After as a hint too).
const xmlRateLimit = rateLimit("register", {
  render: (c, err) => {
    c.header("Cache-Control", "no-store");
    return c.body(faultResponse(FAULT.internal, `${err.message} (after ${err.headers?.["Retry-After"]} seconds)`), 200, {
      "Content-Type": "text/xml; charset=utf-8",
      ...err.headers,
    });
  },
});

// Likewise a body over MAX_BODY_BYTES: a fault, HTTP 200.
const xmlBodyLimit = schoolBodyLimit((c, err) => {
  c.header("Cache-Control", "no-store");
  return c.body(faultResponse(FAULT.invalidRequest, err.message), 200, { "Content-Type": "text/xml; charset=utf-8" });
});

const xmlRoute = (path: string, summary: string, refusals: Record<number, unknown> = {}) =>
  createRoute({
    method: "post",
    path,
    tags: ["school"],
    summary,
    middleware: [xmlRateLimit, xmlBodyLimit] as const,
    description: "XML-RPC `register(serial, nickname, uuid, pubkey)`. Always HTTP 200: a methodResponse, or a fault with int faultCode and faultString.",
    responses: { 200: { description: "methodResponse", content: { "text/xml": { schema: { type: "string" } } } }, ...refusals },
  });

schoolRoutes.openapi(xmlRoute("/RPC2", "OLPC XS registration over XML-RPC"), async (c) => xmlRpc(c, await c.req.text()));

/** POST / is XML-RPC when the body is XML (Sugar posts to http://schoolserver:8080/ with text/xml). */
schoolRoutes.openapi(xmlRoute("/", "OLPC XS registration over XML-RPC, where Sugar posts it", errors(415)), async (c) => {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const body = await c.req.text();
  if (/^(text|application)\/xml\b/.test(type) || body.trimStart().startsWith("<")) return xmlRpc(c, body);
  throw new ApiError("unsupported_media_type", "POST / takes an XML-RPC call (Content-Type: text/xml)");
});
