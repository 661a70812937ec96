import { z } from "@hono/zod-openapi";

export const AuditQuery = z.object({
  after_seq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).openapi({ description: "Entries with a greater seq (resume an export)" }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(["json", "jsonl"]).default("json").openapi({ description: "json: one page object; jsonl: one entry per line (application/x-ndjson)" }),
});

/** An entry exactly as stored and hashed, so an export can be verified offline (docs/audit.md). */
export const AuditEntry = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    subject_kind: z.string(),
    subject_id: z.string(),
    data: z.string().openapi({ description: "canonical JSON text (keys sorted), exactly as hashed" }),
    prev_hash: z.string().nullable(),
    hash: z.string().nullable().openapi({ description: "null while the entry is appended but not yet sealed" }),
  })
  .openapi("AuditEntry");

export const AuditPage = z.object({ entries: z.array(AuditEntry), next_after_seq: z.number().int().nullable() }).openapi("AuditPage");

export const AuditVerification = z
  .object({
    ok: z.boolean(),
    entries: z.number().int(),
    verified_seq: z.number().int().openapi({ description: "the chain is intact from seq 1 up to this seq" }),
    verified_hash: z.string().openapi({ description: "the hash at verified_seq: keep it to detect a later truncation" }),
    pending: z.number().int().openapi({ description: "appended entries after verified_seq not yet sealed" }),
    problem: z.object({ seq: z.number().int(), reason: z.string() }).nullable().openapi({ description: "the first entry that breaks the chain" }),
  })
  .openapi("AuditVerification");
