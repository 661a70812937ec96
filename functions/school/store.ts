import { and, eq, ne, sql } from "drizzle-orm";
import { schoolBackups, schoolConfig, schoolDelegations, schoolMachines, schoolUsers } from "../../schema/school";
import { auditInsert } from "../audit/store";
import { eventInsert, eventInsertSelect } from "../events/store";
import type { BatchItem } from "drizzle-orm/batch";
import type { Statements } from "../lib/d1-commit";
import type { Db } from "../lib/db";
import { EPOCH_KEY } from "./queries";

// School writes. Each function returns drizzle statements for one atomic db.batch(), with the events recording
// them; guards live in the WHERE clauses so a concurrent change (e.g. a machine marked stolen) is never undone.

export type Registration = {
  uid: string;
  nickname: string | null;
  serial: string | null;
  machineUuid: string | null;
  pubkey: string | null;
  stamp: string;
  at: string;
  via: "json" | "xmlrpc";
};

/**
 * Register (or re-register) a user. A serial held by another user moves to this one: the previous holder is
 * de-registered first (an event per holder, written from the row before the change), then this user is upserted,
 * then the machine becomes known. A machine whose UUID changes loses its lease (a lease binds serial and UUID).
 */
export function registerBatch(db: Db, r: Registration): Statements {
  const stmts: BatchItem<"sqlite">[] = [];
  if (r.serial) {
    stmts.push(
      eventInsertSelect(
        db,
        {
          at: r.at,
          type: "school.deregistered",
          actor: `school:${r.uid}`,
          subject: { kind: "school_user", id: sql`${schoolUsers.uid}` },
          data: sql`json_object('uid', ${schoolUsers.uid}, 'serial', ${schoolUsers.serial}, 'reason', 'serial registered by another user', 'by', ${r.uid})`,
        },
        sql`FROM ${schoolUsers} WHERE ${schoolUsers.serial} = ${r.serial} AND ${schoolUsers.uid} <> ${r.uid}`,
      ),
      db
        .update(schoolUsers)
        .set({ serial: null, deregisteredAt: r.at, updatedAt: r.at })
        .where(and(eq(schoolUsers.serial, r.serial), ne(schoolUsers.uid, r.uid))),
    );
  }
  stmts.push(
    db
      .insert(schoolUsers)
      .values({
        uid: r.uid,
        nickname: r.nickname,
        serial: r.serial,
        machineUuid: r.machineUuid,
        pubkey: r.pubkey,
        stamp: r.stamp,
        registeredAt: r.at,
        updatedAt: r.at,
      })
      .onConflictDoUpdate({
        target: schoolUsers.uid,
        set: {
          nickname: sql`excluded.nickname`,
          serial: sql`excluded.serial`,
          machineUuid: sql`excluded.machine_uuid`,
          // A re-registration without a key keeps the one already given (the backup account still needs it).
          pubkey: sql`coalesce(excluded.pubkey, ${schoolUsers.pubkey})`,
          stamp: sql`excluded.stamp`,
          registeredAt: sql`excluded.registered_at`,
          updatedAt: sql`excluded.updated_at`,
          deregisteredAt: null,
        },
      }),
  );
  if (r.serial) {
    const uuidChanged = sql`${schoolMachines.uuid} IS NOT excluded.uuid`;
    stmts.push(
      db
        .insert(schoolMachines)
        .values({ serial: r.serial, uuid: r.machineUuid, known: true, firstSeenAt: r.at })
        .onConflictDoUpdate({
          target: schoolMachines.serial,
          set: {
            known: true,
            uuid: sql`coalesce(excluded.uuid, ${schoolMachines.uuid})`,
            lease: sql`CASE WHEN excluded.uuid IS NOT NULL AND ${uuidChanged} THEN NULL ELSE ${schoolMachines.lease} END`,
            legacyLease: sql`CASE WHEN excluded.uuid IS NOT NULL AND ${uuidChanged} THEN NULL ELSE ${schoolMachines.legacyLease} END`,
            leaseExpiresAt: sql`CASE WHEN excluded.uuid IS NOT NULL AND ${uuidChanged} THEN NULL ELSE ${schoolMachines.leaseExpiresAt} END`,
          },
        }),
    );
  }
  stmts.push(
    eventInsert(db, {
      at: r.at,
      type: "school.registered",
      actor: `school:${r.uid}`,
      subject: { kind: "school_user", id: r.uid },
      data: { uid: r.uid, serial: r.serial, has_pubkey: r.pubkey !== null, via: r.via, stamp: r.stamp },
    }),
  );
  return stmts as unknown as Statements;
}

/**
 * A backup admission in one round trip: the insert happens only if the user is registered with a key, holds no
 * live admission yet, and fewer than `max` admissions are live (a single SQLite statement, so two concurrent
 * asks cannot both take the last slot). The reads after it tell the outcome and when a slot frees up.
 */
export function admitBackupBatch(db: Db, uid: string, at: string, expiresAt: string, max: number) {
  const live = sql`${schoolBackups.expiresAt} > ${at}`;
  return [
    db.insert(schoolBackups).select(sql`
      SELECT NULL, ${uid}, ${at}, ${expiresAt}
      WHERE EXISTS (SELECT 1 FROM ${schoolUsers} WHERE ${schoolUsers.uid} = ${uid} AND ${schoolUsers.deregisteredAt} IS NULL AND ${schoolUsers.pubkey} IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM ${schoolBackups} WHERE ${schoolBackups.uid} = ${uid} AND ${live})
        AND (SELECT count(*) FROM ${schoolBackups} WHERE ${live}) < ${max}`),
    db
      .select({ registered: sql<number>`${schoolUsers.deregisteredAt} IS NULL`, hasKey: sql<number>`${schoolUsers.pubkey} IS NOT NULL` })
      .from(schoolUsers)
      .where(eq(schoolUsers.uid, uid)),
    db
      .select({ expiresAt: schoolBackups.expiresAt })
      .from(schoolBackups)
      .where(and(eq(schoolBackups.uid, uid), live)),
    db
      .select({ next: sql<string | null>`min(${schoolBackups.expiresAt})` })
      .from(schoolBackups)
      .where(live),
  ] as const;
}

/** Record that a machine asked (activation or lease request), and read it back: one statement. */
export function touchMachine(db: Db, serial: string, at: string) {
  return db
    .insert(schoolMachines)
    .values({ serial, firstSeenAt: at, lastSeenAt: at })
    .onConflictDoUpdate({ target: schoolMachines.serial, set: { lastSeenAt: at } })
    .returning();
}

export type IssuedLease = { lease: string; legacy: string | null; issuedAt: string; expiresAt: string; delegated: boolean };

/** Store a freshly signed lease, only if the machine is still known, not stolen, and has the UUID it was signed for. */
export function saveLeaseBatch(db: Db, serial: string, uuid: string, l: IssuedLease, renewal: boolean) {
  return [
    db
      .update(schoolMachines)
      .set({ lease: l.lease, legacyLease: l.legacy, leaseIssuedAt: l.issuedAt, leaseExpiresAt: l.expiresAt, leaseDelegated: l.delegated })
      .where(and(eq(schoolMachines.serial, serial), eq(schoolMachines.known, true), eq(schoolMachines.stolen, false), eq(schoolMachines.uuid, uuid)))
      .returning({ serial: schoolMachines.serial }),
    eventInsertSelect(
      db,
      {
        at: l.issuedAt,
        type: renewal ? "lease.renewed" : "lease.issued",
        actor: "system",
        subject: { kind: "lease", id: serial },
        data: sql`json_object('serial', ${serial}, 'expires_at', ${l.expiresAt}, 'delegated', json(${l.delegated ? "true" : "false"}))`,
      },
      sql`FROM ${schoolMachines} WHERE ${schoolMachines.serial} = ${serial} AND ${schoolMachines.lease} = ${l.lease}`,
    ),
    // After the guarded event: written only when the lease was stored.
    auditInsert(
      db,
      {
        at: l.issuedAt,
        action: renewal ? "lease.renewed" : "lease.issued",
        actor: "system",
        subject: { kind: "lease", id: serial },
        data: { expires_at: l.expiresAt, delegated: l.delegated },
      },
      sql`changes() = 1`,
    ),
  ] as const;
}

/** Mark a serial stolen (recording it even if never seen) and drop its lease, so nothing issues or renews one. */
export function markStolenBatch(db: Db, serial: string, at: string, actor: string) {
  return [
    db
      .insert(schoolMachines)
      .values({ serial, stolen: true, stolenAt: at, firstSeenAt: at })
      .onConflictDoUpdate({
        target: schoolMachines.serial,
        set: { stolen: true, stolenAt: sql`coalesce(${schoolMachines.stolenAt}, ${at})`, lease: null, legacyLease: null, leaseExpiresAt: null },
      })
      .returning({ serial: schoolMachines.serial }),
    eventInsert(db, { at, type: "school.machine.stolen", actor, subject: { kind: "machine", id: serial }, data: { serial } }),
    auditInsert(db, { at, action: "school.machine.stolen", actor, subject: { kind: "machine", id: serial } }),
  ] as const;
}

export function clearStolenBatch(db: Db, serial: string, at: string, actor: string) {
  return [
    eventInsertSelect(
      db,
      { at, type: "school.machine.recovered", actor, subject: { kind: "machine", id: serial }, data: { serial } },
      sql`FROM ${schoolMachines} WHERE ${schoolMachines.serial} = ${serial} AND ${schoolMachines.stolen} = 1`,
    ),
    db
      .update(schoolMachines)
      .set({ stolen: false, stolenAt: null })
      .where(and(eq(schoolMachines.serial, serial), eq(schoolMachines.stolen, true)))
      .returning({ serial: schoolMachines.serial }),
    // After the guarded update: written only when the machine was marked stolen.
    auditInsert(db, { at, action: "school.machine.recovered", actor, subject: { kind: "machine", id: serial } }, sql`changes() = 1`),
  ] as const;
}

/** Ask every client to re-register: bump the epoch the stamp is built from. */
export function bumpEpochBatch(db: Db, at: string, actor: string) {
  return [
    db
      .insert(schoolConfig)
      .values({ key: EPOCH_KEY, value: "1" })
      .onConflictDoUpdate({ target: schoolConfig.key, set: { value: sql`CAST(${schoolConfig.value} AS INTEGER) + 1` } })
      .returning({ value: schoolConfig.value }),
    eventInsert(db, { at, type: "school.stamp.bumped", actor, subject: { kind: "system", id: "school" } }),
    auditInsert(db, { at, action: "school.stamp.bumped", actor, subject: { kind: "system", id: "school" } }),
  ] as const;
}

/** Operator import of machines (serial + UUID): each becomes known; a changed UUID drops the old lease. */
export function importMachinesBatch(db: Db, machines: { serial: string; uuid: string }[], at: string, actor: string): Statements {
  const uuidChanged = sql`${schoolMachines.uuid} IS NOT excluded.uuid`;
  return [
    ...machines.map((m) =>
      db
        .insert(schoolMachines)
        .values({ serial: m.serial, uuid: m.uuid, known: true, firstSeenAt: at })
        .onConflictDoUpdate({
          target: schoolMachines.serial,
          set: {
            known: true,
            uuid: sql`excluded.uuid`,
            lease: sql`CASE WHEN ${uuidChanged} THEN NULL ELSE ${schoolMachines.lease} END`,
            legacyLease: sql`CASE WHEN ${uuidChanged} THEN NULL ELSE ${schoolMachines.legacyLease} END`,
            leaseExpiresAt: sql`CASE WHEN ${uuidChanged} THEN NULL ELSE ${schoolMachines.leaseExpiresAt} END`,
          },
        }),
    ),
    eventInsert(db, { at, type: "school.machines.imported", actor, data: { count: machines.length, serials: machines.slice(0, 20).map((m) => m.serial) } }),
    auditInsert(db, {
      at,
      action: "school.machines.imported",
      actor,
      subject: { kind: "system", id: "school" },
      data: { count: machines.length, serials: machines.slice(0, 1000).map((m) => m.serial) },
    }),
  ] as unknown as Statements;
}

export type DelegationRecord = { serial: string; serverKid: string; masterKid: string; expiresAt: string; token: string };

export function importDelegationsBatch(db: Db, list: DelegationRecord[], at: string, actor: string): Statements {
  return [
    ...list.map((d) =>
      db
        .insert(schoolDelegations)
        .values({ ...d, importedAt: at })
        .onConflictDoUpdate({
          target: [schoolDelegations.serial, schoolDelegations.serverKid],
          set: { masterKid: d.masterKid, expiresAt: d.expiresAt, token: d.token, importedAt: at },
          // Never replace a delegation with one that ends sooner.
          setWhere: sql`excluded.expires_at >= ${schoolDelegations.expiresAt}`,
        }),
    ),
    eventInsert(db, { at, type: "school.delegations.imported", actor, data: { count: list.length } }),
    auditInsert(db, {
      at,
      action: "school.delegations.imported",
      actor,
      subject: { kind: "system", id: "school" },
      data: { count: list.length, serials: list.slice(0, 1000).map((d) => d.serial) },
    }),
  ] as unknown as Statements;
}

/** Housekeeping: expired admissions and delegations go. */
export function purgeExpiredBatch(db: Db, at: string) {
  return [
    db.delete(schoolBackups).where(sql`${schoolBackups.expiresAt} <= ${at}`),
    db.delete(schoolDelegations).where(sql`${schoolDelegations.expiresAt} <= ${at}`),
  ] as const;
}
