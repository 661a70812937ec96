import { and, asc, eq, gt, isNotNull, isNull, lte, sql } from "drizzle-orm";
import { schoolConfig, schoolDelegations, schoolMachines, schoolUsers } from "../../schema/school";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import type { Db } from "../lib/db";

// School reads shared by the client routes, the admin API, the console page and the cron job.

export const EPOCH_KEY = "epoch";

export function epochQuery(db: Db) {
  return db.select({ value: schoolConfig.value }).from(schoolConfig).where(eq(schoolConfig.key, EPOCH_KEY));
}

export const epochOf = (rows: { value: string }[]): number => Number(rows[0]?.value ?? 0) || 0;

export async function currentEpoch(db: Db): Promise<number> {
  return epochOf(await epochQuery(db));
}

export function userQuery(db: Db, uid: string) {
  return db.select().from(schoolUsers).where(eq(schoolUsers.uid, uid));
}

/** The unexpired delegation this server key holds for a serial, if any. */
export function delegationQuery(db: Db, serial: string, serverKid: string, at: string) {
  return db
    .select()
    .from(schoolDelegations)
    .where(and(eq(schoolDelegations.serial, serial), eq(schoolDelegations.serverKid, serverKid), gt(schoolDelegations.expiresAt, at)));
}

export function machineQuery(db: Db, serial: string) {
  return db.select().from(schoolMachines).where(eq(schoolMachines.serial, serial));
}

export type MachineListItem = Awaited<ReturnType<typeof listMachines>>["results"][number];

/** Machines by serial (keyset-paginated), each with the registered user holding its serial, if any. One round trip. */
export async function listMachines(db: Db, q: { limit: number; cursor?: string; stolen?: boolean }) {
  const conds = [];
  if (q.cursor) conds.push(gt(schoolMachines.serial, decodeCursor(q.cursor, 1)[0] as string));
  if (q.stolen !== undefined) conds.push(eq(schoolMachines.stolen, q.stolen));
  const rows = await db
    .select({
      serial: schoolMachines.serial,
      uuid: schoolMachines.uuid,
      known: schoolMachines.known,
      stolen: schoolMachines.stolen,
      stolenAt: schoolMachines.stolenAt,
      firstSeenAt: schoolMachines.firstSeenAt,
      lastSeenAt: schoolMachines.lastSeenAt,
      leaseIssuedAt: schoolMachines.leaseIssuedAt,
      leaseExpiresAt: schoolMachines.leaseExpiresAt,
      leaseDelegated: schoolMachines.leaseDelegated,
      uid: schoolUsers.uid,
      nickname: schoolUsers.nickname,
      registeredAt: schoolUsers.registeredAt,
      userStamp: schoolUsers.stamp,
    })
    .from(schoolMachines)
    .leftJoin(schoolUsers, eq(schoolUsers.serial, schoolMachines.serial))
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(schoolMachines.serial))
    .limit(q.limit + 1);
  const more = rows.length > q.limit;
  const results = rows.slice(0, q.limit);
  const last = results[results.length - 1];
  return { results, nextCursor: more && last ? encodeCursor([last.serial]) : null };
}

/** Registered users without a machine (non-XO Sugar users), newest first, for the machines page. */
export function usersWithoutMachine(db: Db, limit: number) {
  return db
    .select()
    .from(schoolUsers)
    .where(and(isNull(schoolUsers.serial), isNull(schoolUsers.deregisteredAt)))
    .orderBy(sql`${schoolUsers.registeredAt} DESC`)
    .limit(limit);
}

/** Known, not-stolen machines whose lease is missing or ends before `before`, oldest expiry first. */
export function machinesDueForLease(db: Db, before: string, limit: number, afterSerial = "") {
  return db
    .select()
    .from(schoolMachines)
    .where(
      and(
        eq(schoolMachines.known, true),
        eq(schoolMachines.stolen, false),
        isNotNull(schoolMachines.uuid),
        isNotNull(schoolMachines.lease),
        lte(schoolMachines.leaseExpiresAt, before),
        gt(schoolMachines.serial, afterSerial),
      ),
    )
    .orderBy(asc(schoolMachines.serial))
    .limit(limit);
}

/** The offline bundle's content: unexpired leases of non-stolen machines, and the stolen list. One round trip. */
export async function bundleContent(db: Db, at: string) {
  const [leases, stolen] = await db.batch([
    db
      .select({ serial: schoolMachines.serial, lease: schoolMachines.lease, legacy: schoolMachines.legacyLease, expiresAt: schoolMachines.leaseExpiresAt })
      .from(schoolMachines)
      .where(and(eq(schoolMachines.stolen, false), isNotNull(schoolMachines.lease), gt(schoolMachines.leaseExpiresAt, at)))
      .orderBy(asc(schoolMachines.serial)),
    db
      .select({ serial: schoolMachines.serial, stolenAt: schoolMachines.stolenAt })
      .from(schoolMachines)
      .where(eq(schoolMachines.stolen, true))
      .orderBy(asc(schoolMachines.serial)),
  ]);
  return { leases, stolen };
}

/** Counts for the console's summary. */
export async function machineCounts(db: Db, at: string) {
  const [row] = await db
    .select({
      machines: sql<number>`count(*)`,
      known: sql<number>`coalesce(sum(${schoolMachines.known}), 0)`,
      stolen: sql<number>`coalesce(sum(${schoolMachines.stolen}), 0)`,
      leased: sql<number>`coalesce(sum(CASE WHEN ${schoolMachines.leaseExpiresAt} > ${at} AND ${schoolMachines.stolen} = 0 THEN 1 ELSE 0 END), 0)`,
    })
    .from(schoolMachines);
  return row ?? { machines: 0, known: 0, stolen: 0, leased: 0 };
}
