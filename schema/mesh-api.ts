import { z } from "@hono/zod-openapi";

// Request/response schemas of the mesh certificate authority (enrolment and the operator API).

export const GroupName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit")
  .openapi({ example: "alpha" });

export const GroupParam = z.object({ group: GroupName.openapi({ param: { name: "group", in: "path" } }) });
export const TokenGroupParam = GroupParam.extend({
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/, "must be an enrolment token")
    .openapi({ param: { name: "token", in: "path" } }),
});
export const MemberId = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters (the 32-byte SubjectKeyId)");
export const MemberParam = GroupParam.extend({ id: MemberId.openapi({ param: { name: "id", in: "path" } }) });

/** Exactly Ifrit's certResponse as Go encodes it: []byte fields as standard base64 (with padding). */
export const CertificateAnswer = z
  .object({
    OwnCert: z.string().openapi({ description: "The member's certificate, DER, standard base64" }),
    KnownCerts: z.array(z.string()).openapi({ description: "Current certificates of the group's boot nodes (first BOOT_NODES members); never null" }),
    CaCert: z.string().openapi({ description: "The group's CA certificate, DER, standard base64" }),
    Trusted: z.boolean().openapi({ description: "True exactly for the group's boot nodes" }),
  })
  .openapi("MeshCertificateAnswer");

export const CreateGroupBody = z
  .object({
    name: GroupName,
    num_rings: z.number().int().min(1).max(32).optional().openapi({ description: "Ifrit's num_rings (1-32: a note's mask is 32 bits); default NUM_RINGS" }),
    boot_nodes: z.number().int().min(1).max(100).optional().openapi({ description: "Ifrit's boot_nodes; default BOOT_NODES" }),
    closed: z.boolean().default(false).openapi({ description: "New keys need an enrolment token" }),
  })
  .strict();

export const MeshGroup = z
  .object({
    name: z.string(),
    num_rings: z.number().int(),
    boot_nodes: z.number().int(),
    closed: z.boolean(),
    ca_addr: z.string().openapi({ description: "What an Ifrit node puts in ca_addr (it requests http://<ca_addr>/certificateRequest)" }),
    ca_cert: z.string().openapi({ description: "The group's CA certificate, DER, standard base64" }),
    created_at: z.string(),
    created_by: z.string(),
    members: z.number().int().optional(),
    revoked: z.number().int().optional(),
  })
  .openapi("MeshGroup");

export const MeshMember = z
  .object({
    id: z.string(),
    seq: z.number().int().openapi({ description: "Enrolment order in the group; boot nodes are 1..boot_nodes" }),
    trusted: z.boolean(),
    named_curve: z.string(),
    rpc_addr: z.string(),
    ping_addr: z.string(),
    http_addr: z.string().nullable(),
    enrolled_at: z.string(),
    revoked_at: z.string().nullable(),
    serial: z.string().nullable(),
    subject: z.string().nullable(),
    not_after: z.string().nullable(),
  })
  .openapi("MeshMember");

export const GroupList = z.object({ groups: z.array(MeshGroup) });
export const GroupDetail = MeshGroup.extend({ member_list: z.array(MeshMember), next_after_seq: z.number().int().nullable() });
export const GroupDetailQuery = z.object({
  after_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(100),
});

export const CreateTokenBody = z
  .object({
    uses: z.number().int().min(1).max(10_000).default(1).openapi({ description: "How many new keys it admits" }),
    ttl_s: z.number().int().min(60).max(31_536_000).optional().openapi({ description: "Default MESH_ENROLMENT_TOKEN_TTL_S" }),
  })
  .strict();
export const EnrolmentToken = z
  .object({ token: z.string(), group: z.string(), uses: z.number().int(), expires_at: z.string(), ca_addr: z.string() })
  .openapi("MeshEnrolmentToken");

export const RevokeAnswer = z.object({ id: z.string(), group: z.string(), status: z.enum(["revoked", "already_revoked"]) });
