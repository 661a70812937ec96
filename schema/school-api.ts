import { z } from "@hono/zod-openapi";
import { SERIAL_INPUT_RE, UID_RE } from "../functions/school/registration";

// Request/response schemas of the school surface (sugar-server's contract). Its envelope is its own:
// {"success": "OK", ...} or {"success": "ERR", "error": "..."}. Unknown fields are stripped.

export const Uid = z
  .string()
  .trim()
  .regex(UID_RE, "must be 1-128 characters of letters, digits, . _ : -")
  .openapi({ example: "6e1f8d2a-1c7e-11ee-9f7b-0800200c9a66" });
export const Serial = z
  .string()
  .trim()
  .regex(SERIAL_INPUT_RE, "must be an 11-character XO serial (letters and digits)")
  .transform((s) => s.toUpperCase())
  .openapi({ example: "SHC005007B7" });

export const RegisterBody = z
  .object({
    uuid: Uid.optional(),
    uid: Uid.optional(),
    nickname: z.string().max(128).nullish(),
    serial: Serial.nullish(),
    /** The machine's UUID when it differs from the user's uuid (defaults to it, as on XOs). */
    machine_uuid: Uid.nullish(),
    pubkey: z.string().max(16_384).nullish(),
  })
  .refine((b) => b.uuid !== undefined || b.uid !== undefined, { message: "uuid (or uid) is required", path: ["uuid"] })
  .refine((b) => b.uuid === undefined || b.uid === undefined || b.uuid === b.uid, { message: "uuid and uid differ", path: ["uid"] })
  .openapi("SchoolRegisterBody");

export const UidQuery = z
  .object({ uuid: Uid.optional(), uid: Uid.optional() })
  .refine((q) => q.uuid !== undefined || q.uid !== undefined, { message: "uuid (or uid) is required", path: ["uuid"] });

export const UidParam = z.object({ uuid: Uid });
export const SerialQuery = z.object({ serial: Serial });
export const SerialParam = z.object({ serial: Serial });

const Ok = z.literal("OK");

export const RegisterReply = z
  .object({
    success: Ok,
    uid: z.string(),
    uuid: z.string(),
    config: z.record(z.string(), z.string()),
    backupurl: z.string(),
    jabberserver: z.string(),
    backuppath: z.string(),
    stamp: z.string(),
  })
  .openapi("SchoolRegisterReply");

export const StatusReply = z
  .object({ success: Ok, registered: z.boolean(), stamp: z.string(), "jabber-url": z.string().optional(), "backup-url": z.string().optional() })
  .openapi("SchoolStatusReply");

export const BackupReply = z.object({ success: Ok, accepted: z.boolean(), "retry-after": z.number().int().optional() }).openapi("SchoolBackupReply");

export const LeaseReply = z.object({ success: Ok, lease: z.string(), legacy: z.string().optional(), expires_at: z.string() }).openapi("SchoolLeaseReply");

export const SchoolError = z.object({ success: z.literal("ERR"), error: z.string(), code: z.string().optional() }).openapi("SchoolError");

export const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks");

// ---- operator API -----------------------------------------------------------------------------------------------

export const StolenBody = z.object({ serial: Serial });

export const MachinesImportBody = z.object({
  machines: z
    .array(z.object({ serial: Serial, uuid: Uid }))
    .min(1)
    .max(90),
});

export const DelegationsBody = z.object({ delegations: z.array(z.string().trim().min(16).max(8_192)).min(1).max(90) });

export const MachineListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(512).optional(),
  stolen: z
    .enum(["true", "false"])
    .transform((s) => s === "true")
    .optional(),
});

export const MachineView = z
  .object({
    serial: z.string(),
    uuid: z.string().nullable(),
    known: z.boolean(),
    stolen: z.boolean(),
    stolen_at: z.string().nullable(),
    first_seen_at: z.string(),
    last_seen_at: z.string().nullable(),
    lease_state: z.enum(["none", "valid", "renewing", "expired"]),
    lease_issued_at: z.string().nullable(),
    lease_expires_at: z.string().nullable(),
    lease_delegated: z.boolean(),
    user: z.object({ uid: z.string(), nickname: z.string().nullable(), registered_at: z.string(), stamp: z.string() }).nullable(),
  })
  .openapi("SchoolMachine");

export const MachineList = z.object({ results: z.array(MachineView), stamp: z.string(), next_cursor: z.string().nullable() }).openapi("SchoolMachineList");

export const BundleQuery = z.object({ format: z.enum(["json", "text"]).default("json") });
