import { createRoute } from "@hono/zod-openapi";
import { AuditPage, AuditQuery, AuditVerification } from "../../schema/audit-api";
import { requireOperator } from "../auth/middleware";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { auditCount, auditPage, verifyStoredChain } from "./queries";
import { sealAudit } from "./store";

export const auditAdminRoutes = newRouter();

auditAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/audit",
    tags: ["audit"],
    summary: "Export the audit log, oldest first, from after_seq (admin only); format=jsonl for JSON lines",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    request: { query: AuditQuery },
    responses: {
      200: { description: "A page of entries", content: { "application/json": { schema: AuditPage }, "application/x-ndjson": { schema: AuditPage } } },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { db } = c.var.services;
    // Seal first, so an export carries hashes for everything appended before it (sealing is idempotent).
    await sealAudit(db);
    const entries = await auditPage(db, q.after_seq, q.limit);
    c.header("Cache-Control", "no-store");
    if (q.format === "jsonl") {
      c.header("Content-Type", "application/x-ndjson; charset=utf-8");
      return c.body(entries.map((e) => `${JSON.stringify(e)}\n`).join(""), 200) as never;
    }
    const next = entries.length === q.limit ? entries[entries.length - 1].seq : null;
    return c.json({ entries, next_after_seq: next }, 200);
  },
);

auditAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/audit/verify",
    tags: ["audit"],
    summary: "Recompute the audit log's hash chain from seq 1 and name the first entry that breaks it (admin only)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("admin")] as const,
    responses: { 200: jsonContent(AuditVerification, "The chain's state (ok false names the first bad seq)"), ...errorResponses(401, 403) },
  }),
  async (c) => {
    const { db } = c.var.services;
    await sealAudit(db);
    const check = await verifyStoredChain(db);
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        ok: check.problem === null,
        entries: await auditCount(db),
        verified_seq: check.verified.seq,
        verified_hash: check.verified.hash,
        pending: check.pending,
        problem: check.problem,
      },
      200,
    );
  },
);
