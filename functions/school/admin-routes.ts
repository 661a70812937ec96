import { createRoute, z } from "@hono/zod-openapi";
import type { JWK } from "jose";
import { BundleQuery, DelegationsBody, MachineList, MachineListQuery, MachinesImportBody, SerialParam, StolenBody } from "../../schema/school-api";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { rfc3339 } from "../lib/clock";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { LeaseInvalid, publishedKey, verifyDelegation } from "./lease";
import { bundleContent, currentEpoch, listMachines, type MachineListItem } from "./queries";
import { leaseState, stampOf } from "./registration";
import { schoolKeyring, schoolSettings } from "./settings";
import { bumpEpochBatch, clearStolenBatch, type DelegationRecord, importDelegationsBatch, importMachinesBatch, markStolenBatch } from "./store";

/** Operator API of the school surface (`/api/v1/admin/school/*`), in the service's {error, code} envelope. */
export const schoolAdminRoutes = newRouter();

const security = [{ bearer: [] }];

export function machineView(m: MachineListItem, now: Date, renewBeforeS: number) {
  return {
    serial: m.serial,
    uuid: m.uuid,
    known: m.known,
    stolen: m.stolen,
    stolen_at: m.stolenAt,
    first_seen_at: m.firstSeenAt,
    last_seen_at: m.lastSeenAt,
    lease_state: m.stolen ? ("none" as const) : leaseState(m.leaseExpiresAt, now, renewBeforeS),
    lease_issued_at: m.leaseIssuedAt,
    lease_expires_at: m.leaseExpiresAt,
    lease_delegated: m.leaseDelegated,
    user: m.uid ? { uid: m.uid, nickname: m.nickname, registered_at: m.registeredAt as string, stamp: m.userStamp as string } : null,
  };
}

schoolAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/school/machines",
    tags: ["school"],
    summary: "Machines with their user, lease state and expiry, stolen flag and last seen (by serial, cursor-paginated)",
    security,
    middleware: [requireOperator("viewer")] as const,
    request: { query: MachineListQuery },
    responses: { 200: jsonContent(MachineList, "A page of machines"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { db, clock } = c.var.services;
    const s = schoolSettings(c.env);
    const [page, epoch] = await Promise.all([listMachines(db, q), currentEpoch(db)]);
    const now = clock.now();
    return c.json({ results: page.results.map((m) => machineView(m, now, s.leaseRenewBeforeS)), stamp: stampOf(epoch, s), next_cursor: page.nextCursor }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/school/machines",
    tags: ["school"],
    summary: "Import machines (serial and UUID): they become known and get leases",
    security,
    middleware: [requireOperator("operator")] as const,
    request: { body: jsonBody(MachinesImportBody) },
    responses: { 200: jsonContent(z.object({ imported: z.number().int() }), "Imported"), ...errorResponses(400, 401, 403, 413) },
  }),
  async (c) => {
    const { machines } = c.req.valid("json");
    const { db, clock } = c.var.services;
    await db.batch(importMachinesBatch(db, machines, clock.now().toISOString(), actorOf(principal(c))));
    return c.json({ imported: machines.length }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/school/stolen",
    tags: ["school"],
    summary: "Report a machine stolen: activation answers STOLEN, its lease is dropped and never renewed",
    security,
    middleware: [requireOperator("operator")] as const,
    request: { body: jsonBody(StolenBody) },
    responses: { 200: jsonContent(z.object({ serial: z.string(), stolen: z.literal(true) }), "Marked stolen"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { serial } = c.req.valid("json");
    const { db, clock } = c.var.services;
    await db.batch(markStolenBatch(db, serial, clock.now().toISOString(), actorOf(principal(c))));
    return c.json({ serial, stolen: true as const }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/admin/school/stolen/{serial}",
    tags: ["school"],
    summary: "Clear a machine's stolen flag",
    security,
    middleware: [requireOperator("operator")] as const,
    request: { params: SerialParam },
    responses: { 200: jsonContent(z.object({ serial: z.string(), stolen: z.literal(false) }), "Cleared"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { serial } = c.req.valid("param");
    const { db, clock } = c.var.services;
    const [, cleared] = await db.batch(clearStolenBatch(db, serial, clock.now().toISOString(), actorOf(principal(c))));
    if (cleared.length === 0) throw new ApiError("not_found", "this serial is not on the stolen list");
    return c.json({ serial, stolen: false as const }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/school/stamp",
    tags: ["school"],
    summary: "Ask every client to re-register (changes the stamp)",
    security,
    middleware: [requireOperator("operator")] as const,
    responses: { 200: jsonContent(z.object({ stamp: z.string() }), "The new stamp"), ...errorResponses(401, 403) },
  }),
  async (c) => {
    const { db, clock } = c.var.services;
    const [rows] = await db.batch(bumpEpochBatch(db, clock.now().toISOString(), actorOf(principal(c))));
    return c.json({ stamp: stampOf(Number(rows[0]?.value ?? 0), schoolSettings(c.env)) }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/school/delegations",
    tags: ["school"],
    summary: "Import delegations signed by the master key for this server's key",
    description:
      "Each must verify with the master key (JWKS role master), be unexpired, name an 11-character serial and confirm this server's signing key (cnf.jwk). Valid ones are stored; the others are listed with the reason.",
    security,
    middleware: [requireOperator("operator")] as const,
    request: { body: jsonBody(DelegationsBody) },
    responses: {
      200: jsonContent(z.object({ imported: z.number().int(), rejected: z.array(z.object({ index: z.number().int(), reason: z.string() })) }), "Import result"),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const { delegations } = c.req.valid("json");
    const { db, clock } = c.var.services;
    const keyring = await schoolKeyring(c.env);
    const now = clock.now();
    const ok: DelegationRecord[] = [];
    const rejected: { index: number; reason: string }[] = [];
    for (const [index, token] of delegations.entries()) {
      try {
        const d = await verifyDelegation(token, keyring.jwks, now);
        const confirmed = await publishedKey(d.cnf.jwk as JWK, "server").catch(() => null);
        if (confirmed?.kid !== keyring.server.kid) throw new LeaseInvalid("delegation is for another server key");
        ok.push({ serial: d.sub, serverKid: keyring.server.kid, masterKid: d.masterKid, expiresAt: rfc3339(new Date(d.exp * 1000)), token });
      } catch (e) {
        rejected.push({ index, reason: e instanceof LeaseInvalid ? e.reason : String(e) });
      }
    }
    if (ok.length) await db.batch(importDelegationsBatch(db, ok, now.toISOString(), actorOf(principal(c))));
    return c.json({ imported: ok.length, rejected }, 200);
  },
);

schoolAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/school/bundle",
    tags: ["school"],
    summary: "Offline bundle: every unexpired lease and the stolen list, for machines that cannot reach the network",
    description:
      "JSON (default): {generated_at, jwks, leases: [{serial, lease, legacy?, expires_at}], stolen: [serial]}. `format=text`: a lease.sig-style file, one line per lease (the act01 line when there is one, then the JWS), then `stolen01: <serial>` lines.",
    security,
    middleware: [requireOperator("viewer")] as const,
    request: { query: BundleQuery },
    responses: { 200: { description: "The bundle" }, ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { format } = c.req.valid("query");
    const { db, clock } = c.var.services;
    const keyring = await schoolKeyring(c.env);
    const now = clock.now();
    const { leases, stolen } = await bundleContent(db, now.toISOString());
    c.header("Cache-Control", "no-store");
    if (format === "text") {
      const lines = [
        ...leases.flatMap((l) => [...(l.legacy ? [l.legacy.trimEnd()] : []), `${l.serial} ${l.lease}`]),
        ...stolen.map((s) => `stolen01: ${s.serial}`),
      ];
      c.header("Content-Disposition", 'attachment; filename="lease.sig"');
      return c.text(`${lines.join("\n")}\n`, 200);
    }
    return c.json(
      {
        generated_at: rfc3339(now),
        jwks: { keys: keyring.jwks },
        leases: leases.map((l) => ({
          serial: l.serial,
          lease: l.lease as string,
          ...(l.legacy ? { legacy: l.legacy.trimEnd() } : {}),
          expires_at: l.expiresAt as string,
        })),
        stolen: stolen.map((s) => s.serial),
      },
      200,
    );
  },
);
