import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * A mesh group (one Ifrit network): its ring count and boot-node count, fixed when an operator creates it (defaults
 * from NUM_RINGS / BOOT_NODES at that time), whether enrolment needs a token, and its self-signed CA certificate.
 */
export const meshGroups = sqliteTable("mesh_groups", {
  name: text("name").primaryKey(),
  numRings: integer("num_rings").notNull(),
  bootNodes: integer("boot_nodes").notNull(),
  /** Closed groups admit a new key only with an enrolment token; renewals need none. */
  closed: integer("closed", { mode: "boolean" }).notNull().default(false),
  /** The group's CA certificate, DER as standard base64 (the CaCert of every answer). */
  caCertDer: text("ca_cert_der").notNull(),
  /** SHA-256 hex of the public key that CA certificate certifies; a different MESH_CA_KEY re-issues it. */
  caKeySha256: text("ca_key_sha256").notNull(),
  createdAt: text("created_at").notNull(),
  createdBy: text("created_by").notNull(),
});

/**
 * A member: one key admitted to a group. `seq` is its enrolment order in the group (1, 2, ...): the first
 * `boot_nodes` members are the boot nodes, whose certificates every answer carries as KnownCerts, and are Trusted.
 */
export const meshMembers = sqliteTable(
  "mesh_members",
  {
    group: text("group_name")
      .notNull()
      .references(() => meshGroups.name, { onDelete: "cascade" }),
    /** Lowercase hex of the 32-byte SubjectKeyId. */
    id: text("id").notNull(),
    seq: integer("seq").notNull(),
    /** SHA-256 hex of the SubjectPublicKeyInfo: a request with the same key is a renewal. */
    spkiSha256: text("spki_sha256").notNull(),
    spkiDer: text("spki_der").notNull(),
    namedCurve: text("named_curve", { enum: ["P-256", "P-384", "P-521"] }).notNull(),
    rpcAddr: text("rpc_addr").notNull(),
    pingAddr: text("ping_addr").notNull(),
    httpAddr: text("http_addr"),
    enrolledAt: text("enrolled_at").notNull(),
    /** Set once: a revoked member's key is refused renewal and the group object removes it. */
    revokedAt: text("revoked_at"),
    revokedBy: text("revoked_by"),
  },
  (t) => [
    primaryKey({ columns: [t.group, t.id] }),
    uniqueIndex("mesh_members_key_idx").on(t.group, t.spkiSha256),
    uniqueIndex("mesh_members_seq_idx").on(t.group, t.seq),
  ],
);

/** Every certificate issued, enrolment or renewal. The newest unexpired one of a member is its current certificate. */
export const meshCertificates = sqliteTable(
  "mesh_certificates",
  {
    /** Lowercase hex, 16 octets. */
    serial: text("serial").primaryKey(),
    group: text("group_name").notNull(),
    memberId: text("member_id").notNull(),
    /** The subject as text (RFC 4514 style), for people; the DER is authoritative. */
    subject: text("subject").notNull(),
    /** JSON {rpc, ping, http}. */
    addresses: text("addresses").notNull(),
    kind: text("kind", { enum: ["enrol", "renew"] }).notNull(),
    issuedAt: text("issued_at").notNull(),
    notAfter: text("not_after").notNull(),
    der: text("der").notNull(),
    revoked: integer("revoked", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [index("mesh_certificates_member_idx").on(t.group, t.memberId, t.notAfter)],
);

/** Enrolment tokens of closed groups, stored as SHA-256 hex of the token; each admits up to `uses_left` new keys. */
export const meshEnrolmentTokens = sqliteTable(
  "mesh_enrolment_tokens",
  {
    hash: text("hash").primaryKey(),
    group: text("group_name")
      .notNull()
      .references(() => meshGroups.name, { onDelete: "cascade" }),
    usesLeft: integer("uses_left").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    createdBy: text("created_by").notNull(),
  },
  (t) => [index("mesh_enrolment_tokens_group_idx").on(t.group)],
);

export type MeshGroupRow = typeof meshGroups.$inferSelect;
export type MeshMemberRow = typeof meshMembers.$inferSelect;
export type MeshCertificateRow = typeof meshCertificates.$inferSelect;
