import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { meshCertificates, meshEnrolmentTokens, meshGroups, meshMembers, type MeshGroupRow } from "../../schema/mesh";
import { auditInsert } from "../audit/store";
import { eventInsert } from "../events/store";
import { rfc3339 } from "../lib/clock";
import { ApiError } from "../lib/errors";
import type { Db } from "../lib/db";
import { sha256Hex, toBase64, toHex, fromBase64 } from "./ca/bytes";
import { type ParsedCsr, parseCsr } from "./ca/csr";
import { CsrError } from "./ca/errors";
import { caCertSpki, createGroupCaCert, issueMemberCert, newMemberId, newSerial } from "./ca/issue";
import type { CaKey } from "./ca/key";
import { bootCertsQuery, groupQuery, memberById, memberByKeyQuery } from "./ca-queries";
import type { MeshMemberRecord } from "./member-record";

// Writes of the mesh CA. Each enrolment is one D1 batch (member, certificate, event, and the reads of the answer),
// so a failure leaves nothing half-written; the only separate write is spending a closed group's enrolment token.

/** The group object's side of the contract (durable-objects/mesh-group.ts, class MeshGroup). */
type MeshGroupRpc = { admit(member: MeshMemberRecord, group?: string): Promise<unknown>; revoke(id: string): Promise<unknown> };

function groupStub(env: Env, group: string): MeshGroupRpc | null {
  // A deployment without the MeshGroup binding (tests of the CA alone) skips the calls.
  const ns = (env as unknown as { MESH_GROUP?: DurableObjectNamespace }).MESH_GROUP;
  if (!ns) return null;
  return ns.get(ns.idFromName(group)) as unknown as MeshGroupRpc;
}

/** Tells the group object about a certificate just issued (new member or renewal). No-op without the binding. */
export async function notifyGroup(env: Env, group: string, record: MeshMemberRecord): Promise<void> {
  // The group name goes along: it is part of every signed content (challenge, notes, pongs), and an object does not
  // always know the name it was addressed by.
  await groupStub(env, group)?.admit(record, group);
}

/** Tells the group object a member was revoked, so it leaves the view. No-op without the binding. */
export async function notifyGroupRevoked(env: Env, group: string, id: string): Promise<void> {
  await groupStub(env, group)?.revoke(id);
}

export const GROUP_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function createGroup(
  db: Db,
  caKey: CaKey,
  g: { name: string; numRings: number; bootNodes: number; closed: boolean; by: string; now: Date },
): Promise<MeshGroupRow> {
  const caCertDer = await createGroupCaCert(caKey, g.name, g.numRings, g.now);
  const row: MeshGroupRow = {
    name: g.name,
    numRings: g.numRings,
    bootNodes: g.bootNodes,
    closed: g.closed,
    caCertDer: toBase64(caCertDer),
    caKeySha256: await sha256Hex(caKey.spkiDer),
    createdAt: rfc3339(g.now),
    createdBy: g.by,
  };
  const [inserted] = await db.batch([
    db.insert(meshGroups).values(row).onConflictDoNothing().returning({ name: meshGroups.name }),
    // Right after the insert: no audit entry when the name was taken.
    auditInsert(
      db,
      {
        at: row.createdAt,
        action: "mesh.group.created",
        actor: g.by,
        subject: { kind: "mesh_group", id: g.name },
        data: { num_rings: g.numRings, closed: g.closed },
      },
      sql`changes() = 1`,
    ),
    eventInsert(db, {
      at: row.createdAt,
      type: "mesh.group.created",
      actor: g.by,
      subject: { kind: "mesh_group", id: g.name },
      data: { num_rings: g.numRings, boot_nodes: g.bootNodes, closed: g.closed },
    }),
  ]);
  if (inserted.length === 0) throw new ApiError("conflict", `mesh group "${g.name}" exists`);
  return row;
}

function randomToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return toBase64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function createEnrolmentToken(db: Db, t: { group: string; uses: number; ttlS: number; by: string; now: Date }) {
  const token = randomToken();
  const expiresAt = rfc3339(new Date(t.now.getTime() + t.ttlS * 1000));
  await db.batch([
    db.insert(meshEnrolmentTokens).values({
      hash: await sha256Hex(new TextEncoder().encode(token)),
      group: t.group,
      usesLeft: t.uses,
      createdAt: rfc3339(t.now),
      expiresAt,
      createdBy: t.by,
    }),
    eventInsert(db, {
      at: rfc3339(t.now),
      type: "mesh.enrolment_token.created",
      actor: t.by,
      subject: { kind: "mesh_group", id: t.group },
      data: { uses: t.uses, expires_at: expiresAt },
    }),
  ]);
  return { token, expiresAt, uses: t.uses };
}

/** Spends one use of a token of this group; false when it is unknown, used up, expired or another group's. */
async function spendToken(db: Db, group: string, token: string, now: string): Promise<boolean> {
  const hash = await sha256Hex(new TextEncoder().encode(token));
  const spent = await db
    .update(meshEnrolmentTokens)
    .set({ usesLeft: sql`${meshEnrolmentTokens.usesLeft} - 1` })
    .where(
      and(
        eq(meshEnrolmentTokens.hash, hash),
        eq(meshEnrolmentTokens.group, group),
        gt(meshEnrolmentTokens.usesLeft, 0),
        gt(meshEnrolmentTokens.expiresAt, now),
      ),
    )
    .returning({ hash: meshEnrolmentTokens.hash });
  return spent.length > 0;
}

/** The Ifrit answer: field names and shapes as Go's encoding/json writes Ifrit's certResponse. */
export type CertificateAnswer = { OwnCert: string; KnownCerts: string[]; CaCert: string; Trusted: boolean };

export type EnrolInput = { group: string; body: Uint8Array; token: string | null; caKey: CaKey; ttlS: number; now: Date };

/**
 * POST certificateRequest. A key the group has not seen is a new member (a closed group wants a token); a key
 * whose member holds an unexpired, unrevoked certificate is a renewal (same id, new certificate). The request's
 * self-signature is the proof of possession of that key, so nothing else is needed to renew; see docs/mesh.md.
 */
export async function enrol(db: Db, input: EnrolInput): Promise<{ answer: CertificateAnswer; record: MeshMemberRecord; renewed: boolean }> {
  let csr: ParsedCsr;
  try {
    csr = await parseCsr(input.body);
  } catch (e) {
    if (e instanceof CsrError) throw new ApiError("bad_request", e.message, [{ path: "(body)", message: e.reason }]);
    throw e;
  }
  const now = rfc3339(input.now);
  const spkiSha256 = await sha256Hex(csr.spkiDer);
  // The group and this key's member in one D1 round trip.
  const [groups, members] = await db.batch([groupQuery(db, input.group), memberByKeyQuery(db, input.group, spkiSha256)]);
  const group = groups[0];
  if (!group) throw new ApiError("not_found", `no mesh group "${input.group}"`);
  const existing = members[0];
  let renewing = false;
  if (existing) {
    if (existing.member.revokedAt) throw new ApiError("forbidden", "this key's member was revoked; it cannot renew");
    if (existing.disabledAt) throw new ApiError("forbidden", "this key's member is disabled by an operator; it cannot renew until enabled");
    if (!existing.notAfter || existing.notAfter <= now) {
      throw new ApiError("conflict", "this key's certificate has expired: enrol again with a new key");
    }
    renewing = true;
  } else if (group.closed) {
    if (!input.token) throw new ApiError("unauthorized", `mesh group "${group.name}" is closed: send an enrolment token (Mesh-Enrolment-Token)`);
    if (!(await spendToken(db, group.name, input.token, now))) throw new ApiError("unauthorized", "enrolment token is unknown, used up or expired");
  }

  // A MESH_CA_KEY that differs from the one the group's CA certificate certifies (a key rotation) re-issues it.
  let caCertDer = fromBase64(group.caCertDer);
  const caKeySha256 = await sha256Hex(input.caKey.spkiDer);
  const rotate = caKeySha256 !== group.caKeySha256 || toHex(caCertSpki(caCertDer)) !== toHex(input.caKey.spkiDer);
  if (rotate) caCertDer = await createGroupCaCert(input.caKey, group.name, group.numRings, input.now);

  const idBytes = renewing ? hexBytes(existing!.member.id) : newMemberId();
  const id = toHex(idBytes);
  const serial = newSerial();
  const issued = await issueMemberCert({ caKey: input.caKey, caCertDer, csr, id: idBytes, serial, numRings: group.numRings, now: input.now, ttlS: input.ttlS });
  const certB64 = toBase64(issued.der);
  const { rpcAddr, pingAddr, httpAddr } = csr.addresses;
  const notAfter = rfc3339(issued.notAfter);
  const actor = `member:${id}`;

  const memberWrite = renewing
    ? db
        .update(meshMembers)
        .set({ rpcAddr, pingAddr, httpAddr })
        .where(and(eq(meshMembers.group, group.name), eq(meshMembers.id, id), isNull(meshMembers.revokedAt)))
        .returning({ seq: meshMembers.seq })
    : db
        .insert(meshMembers)
        .select(
          sql`SELECT ${group.name}, ${id}, coalesce(max(${meshMembers.seq}), 0) + 1, ${spkiSha256}, ${toBase64(csr.spkiDer)}, ${csr.namedCurve},
            ${rpcAddr}, ${pingAddr}, ${httpAddr}, ${now}, NULL, NULL FROM ${meshMembers} WHERE ${meshMembers.group} = ${group.name}`,
        )
        .returning({ seq: meshMembers.seq });
  let results: readonly unknown[];
  try {
    results = await db.batch([
      memberWrite,
      db.insert(meshCertificates).values({
        serial,
        group: group.name,
        memberId: id,
        subject: csr.subject,
        addresses: JSON.stringify({ rpc: rpcAddr, ping: pingAddr, http: httpAddr }),
        kind: renewing ? "renew" : "enrol",
        issuedAt: now,
        notAfter,
        der: certB64,
      }),
      ...(rotate
        ? [
            db
              .update(meshGroups)
              .set({ caCertDer: toBase64(caCertDer), caKeySha256 })
              .where(eq(meshGroups.name, group.name)),
          ]
        : []),
      eventInsert(db, {
        at: now,
        type: renewing ? "mesh.certificate.renewed" : "mesh.certificate.issued",
        actor,
        subject: { kind: "mesh_member", id },
        data: { group: group.name, serial, not_after: notAfter, rpc_addr: rpcAddr },
      }),
      auditInsert(db, {
        at: now,
        action: renewing ? "mesh.certificate.renewed" : "mesh.certificate.issued",
        actor,
        subject: { kind: "mesh_member", id },
        data: { group: group.name, serial, not_after: notAfter, key_sha256: spkiSha256 },
      }),
      // Last: its rows are the answer's known certificates.
      bootCertsQuery(db, group.name, group.bootNodes, now),
    ] as unknown as Parameters<typeof db.batch>[0]);
  } catch (e) {
    // Two requests with one new key at once: the second hits the (group, key) unique index; it may retry as a renewal.
    if (/UNIQUE/i.test(String((e as Error)?.message ?? e))) throw new ApiError("conflict", "a request with this key is being processed: retry");
    throw e;
  }
  const written = results[0] as { seq: number }[];
  if (written.length === 0) throw new ApiError("conflict", "this member changed while renewing: retry");
  const seq = written[0].seq;
  const boot = results[results.length - 1] as { id: string; seq: number; der: string }[];
  const trusted = seq <= group.bootNodes;
  const record: MeshMemberRecord = {
    id,
    certDer: certB64,
    spkiDer: toBase64(csr.spkiDer),
    namedCurve: csr.namedCurve,
    rpcAddr,
    pingAddr,
    httpAddr,
    notAfter,
    serial,
    trusted,
  };
  return {
    answer: { OwnCert: certB64, KnownCerts: boot.map((b) => b.der), CaCert: toBase64(caCertDer), Trusted: trusted },
    record,
    renewed: renewing,
  };
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Revokes a member: it may not renew, its certificates are marked revoked, and the group object drops it. */
export async function revokeMember(db: Db, g: { group: string; id: string; by: string; now: Date }): Promise<"revoked" | "already"> {
  const found = await memberById(db, g.group, g.id);
  if (!found) throw new ApiError("not_found", `no member ${g.id} in mesh group "${g.group}"`);
  if (found.revokedAt) return "already";
  const at = rfc3339(g.now);
  const [updated] = await db.batch([
    db
      .update(meshMembers)
      .set({ revokedAt: at, revokedBy: g.by })
      .where(and(eq(meshMembers.group, g.group), eq(meshMembers.id, g.id), isNull(meshMembers.revokedAt)))
      .returning({ id: meshMembers.id }),
    // Right after the guarded update: no entry when a concurrent revoke got there first.
    auditInsert(
      db,
      { at, action: "mesh.certificate.revoked", actor: g.by, subject: { kind: "mesh_member", id: g.id }, data: { group: g.group } },
      sql`changes() = 1`,
    ),
    db
      .update(meshCertificates)
      .set({ revoked: true })
      .where(and(eq(meshCertificates.group, g.group), eq(meshCertificates.memberId, g.id))),
    eventInsert(db, { at, type: "mesh.certificate.revoked", actor: g.by, subject: { kind: "mesh_member", id: g.id }, data: { group: g.group } }),
  ]);
  return updated.length ? "revoked" : "already";
}
