import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The school server (sugar-server, reference/seed-systems.md §2). A user is a Sugar user (uid), a machine is an
 * XO by its 11-character serial. A serial belongs to at most one registered user: registering it again
 * de-registers the previous holder (sugar-server's documented behaviour), which clears that user's serial.
 */
export const schoolUsers = sqliteTable(
  "school_users",
  {
    uid: text("uid").primaryKey(),
    nickname: text("nickname"),
    serial: text("serial"),
    /** The machine's UUID as the client reported it (on XOs: the manufacturing-data UUID). */
    machineUuid: text("machine_uuid"),
    /** Normalised `<type> <base64>` (the authorized_keys form without comment); null without one (no backups). */
    pubkey: text("pubkey"),
    /** The registration stamp this user last registered under (changes when the server asks for re-registration). */
    stamp: text("stamp").notNull(),
    registeredAt: text("registered_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** Set when the user lost registration (another user registered the serial); null while registered. */
    deregisteredAt: text("deregistered_at"),
  },
  (t) => [uniqueIndex("school_users_serial_idx").on(t.serial), index("school_users_registered_idx").on(t.registeredAt)],
);

/** Machines that asked for a lease, were registered, or were imported or reported stolen by an operator. */
export const schoolMachines = sqliteTable(
  "school_machines",
  {
    serial: text("serial").primaryKey(),
    uuid: text("uuid"),
    /** 1 once a user registered with this serial or an operator imported it: only known machines get leases. */
    known: integer("known", { mode: "boolean" }).notNull().default(false),
    stolen: integer("stolen", { mode: "boolean" }).notNull().default(false),
    stolenAt: text("stolen_at"),
    firstSeenAt: text("first_seen_at").notNull(),
    /** Last activation or lease request; null if the machine never asked. */
    lastSeenAt: text("last_seen_at"),
    /** The current lease (compact JWS) and, when an RSA key is configured, its OLPC act01 line. */
    lease: text("lease"),
    legacyLease: text("legacy_lease"),
    leaseIssuedAt: text("lease_issued_at"),
    leaseExpiresAt: text("lease_expires_at"),
    leaseDelegated: integer("lease_delegated", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [index("school_machines_lease_idx").on(t.known, t.stolen, t.leaseExpiresAt), index("school_machines_seen_idx").on(t.lastSeenAt)],
);

/** Backup admissions: a slot is live until it expires on its own (clients never say when rsync ended). */
export const schoolBackups = sqliteTable(
  "school_backups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    uid: text("uid").notNull(),
    admittedAt: text("admitted_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("school_backups_live_idx").on(t.expiresAt), index("school_backups_uid_idx").on(t.uid, t.expiresAt)],
);

/** Delegations imported from the master key holder: the server key may sign leases for `serial` until `expiresAt`. */
export const schoolDelegations = sqliteTable(
  "school_delegations",
  {
    serial: text("serial").notNull(),
    serverKid: text("server_kid").notNull(),
    masterKid: text("master_kid").notNull(),
    expiresAt: text("expires_at").notNull(),
    token: text("token").notNull(),
    importedAt: text("imported_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.serial, t.serverKid] }), index("school_delegations_expiry_idx").on(t.expiresAt)],
);

/** Server-wide values: `epoch`, bumped when an operator asks every client to re-register. */
export const schoolConfig = sqliteTable("school_config", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export type SchoolUserRow = typeof schoolUsers.$inferSelect;
export type SchoolMachineRow = typeof schoolMachines.$inferSelect;
export type SchoolDelegationRow = typeof schoolDelegations.$inferSelect;
