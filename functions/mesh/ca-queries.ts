import { and, asc, count, desc, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { meshCertificates, meshGroups, meshMembers } from "../../schema/mesh";
import type { Db } from "../lib/db";

// Reads of the mesh CA, shared by the enrolment route, the operator API and the group's record.

export function groupQuery(db: Db, name: string) {
  return db.select().from(meshGroups).where(eq(meshGroups.name, name)).limit(1);
}

export function groupByName(db: Db, name: string) {
  return db.select().from(meshGroups).where(eq(meshGroups.name, name)).get();
}

/** The member holding a key in a group, with the expiry of its newest certificate (a query to batch). */
export function memberByKeyQuery(db: Db, group: string, spkiSha256: string) {
  return db
    .select({
      member: meshMembers,
      notAfter: sql<string | null>`(SELECT max(${meshCertificates.notAfter}) FROM ${meshCertificates}
        WHERE ${meshCertificates.group} = ${meshMembers.group} AND ${meshCertificates.memberId} = ${meshMembers.id})`,
      // An operator disabled the member (functions/mesh/admin-routes.ts): it may not renew until enabled.
      disabledAt: sql<string | null>`(SELECT disabled_at FROM principal_versions WHERE kind = 'member' AND sub = ${meshMembers.id})`,
    })
    .from(meshMembers)
    .where(and(eq(meshMembers.group, group), eq(meshMembers.spkiSha256, spkiSha256)))
    .limit(1);
}

/**
 * KnownCerts: the current certificate of each boot node (the group's first `bootNodes` members by enrolment
 * order), in that order. A revoked boot node is left out and an expired certificate is not handed out; the set of
 * boot members itself never changes, so the list is stable apart from renewals.
 */
export function bootCertsQuery(db: Db, group: string, bootNodes: number, now: string) {
  const newest = sql`(SELECT c2.serial FROM ${meshCertificates} c2
    WHERE c2.group_name = ${meshMembers.group} AND c2.member_id = ${meshMembers.id} AND c2.not_after > ${now}
    ORDER BY c2.not_after DESC LIMIT 1)`;
  return db
    .select({ id: meshMembers.id, seq: meshMembers.seq, der: meshCertificates.der })
    .from(meshMembers)
    .innerJoin(meshCertificates, eq(meshCertificates.serial, newest))
    .where(and(eq(meshMembers.group, group), lte(meshMembers.seq, bootNodes), isNull(meshMembers.revokedAt)))
    .orderBy(asc(meshMembers.seq));
}

export function memberById(db: Db, group: string, id: string) {
  return db
    .select()
    .from(meshMembers)
    .where(and(eq(meshMembers.group, group), eq(meshMembers.id, id)))
    .get();
}

/** Groups with their member counts, by name. */
export function listGroups(db: Db) {
  return db
    .select({
      group: meshGroups,
      members: sql<number>`(SELECT count(*) FROM ${meshMembers} WHERE ${meshMembers.group} = ${meshGroups.name})`,
      revoked: sql<number>`(SELECT count(*) FROM ${meshMembers} WHERE ${meshMembers.group} = ${meshGroups.name} AND ${meshMembers.revokedAt} IS NOT NULL)`,
    })
    .from(meshGroups)
    .orderBy(asc(meshGroups.name))
    .limit(500)
    .all();
}

/** A group's members in enrolment order, each with its newest certificate's serial and expiry (one round trip). */
export function groupMembers(db: Db, group: string, { limit, afterSeq }: { limit: number; afterSeq: number }) {
  return db
    .select({
      member: meshMembers,
      serial: meshCertificates.serial,
      notAfter: meshCertificates.notAfter,
      subject: meshCertificates.subject,
    })
    .from(meshMembers)
    .leftJoin(
      meshCertificates,
      eq(
        meshCertificates.serial,
        sql`(SELECT c2.serial FROM ${meshCertificates} c2 WHERE c2.group_name = ${meshMembers.group} AND c2.member_id = ${meshMembers.id}
          ORDER BY c2.not_after DESC LIMIT 1)`,
      ),
    )
    .where(and(eq(meshMembers.group, group), gt(meshMembers.seq, afterSeq)))
    .orderBy(asc(meshMembers.seq))
    .limit(limit)
    .all();
}

export function certificatesOf(db: Db, group: string, memberId: string) {
  return db
    .select()
    .from(meshCertificates)
    .where(and(eq(meshCertificates.group, group), eq(meshCertificates.memberId, memberId)))
    .orderBy(desc(meshCertificates.notAfter))
    .limit(50)
    .all();
}

export function countMembers(db: Db, group: string) {
  return db.select({ n: count() }).from(meshMembers).where(eq(meshMembers.group, group)).get();
}

export type GroupSummary = { name: string; numRings: number; bootNodes: number; closed: boolean; createdAt: string; members: number; revoked: number };

/** Groups by name after `after` (paging), each with its enrolled and revoked member counts: one statement. */
export async function groupSummaries(db: Db, { after = "", limit }: { after?: string; limit: number }): Promise<GroupSummary[]> {
  const rows = await db
    .select({
      name: meshGroups.name,
      numRings: meshGroups.numRings,
      bootNodes: meshGroups.bootNodes,
      closed: meshGroups.closed,
      createdAt: meshGroups.createdAt,
      members: count(meshMembers.id),
      revoked: count(meshMembers.revokedAt),
    })
    .from(meshGroups)
    .leftJoin(meshMembers, eq(meshMembers.group, meshGroups.name))
    .where(gt(meshGroups.name, after))
    .groupBy(meshGroups.name)
    .orderBy(asc(meshGroups.name))
    .limit(limit);
  return rows.map((r) => ({ ...r, closed: Boolean(r.closed) }));
}
