import { and, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import { eventInsertSelect } from "../events/store";
import { probes, probeUpdates } from "../../schema/probes";
import type { Db } from "../lib/db";
import { historySnapshot, type ProbeMetadata } from "./metadata";
import type { PriorRegistration, ReplayKey } from "./replay";

/** The stored registration a replay key belongs to (probes.register_key is unique), if any. */
export async function priorRegistration(db: Db, key: string): Promise<PriorRegistration | undefined> {
  return db
    .select({ id: probes.id, fingerprint: probes.registerFingerprint, createdAt: probes.createdAt })
    .from(probes)
    .where(eq(probes.registerKey, key))
    .get();
}

/** Oldest creation time still inside the replay window. */
export function windowCutoff(now: Date, windowS: number): string {
  return new Date(now.getTime() - windowS * 1000).toISOString();
}

/** Frees a replay key whose window has passed (a statement for the new registration's batch); a fresh one stays. */
export function releaseRegisterKey(db: Db, key: string, cutoff: string) {
  return db
    .update(probes)
    .set({ registerKey: null, registerFingerprint: null })
    .where(and(eq(probes.registerKey, key), sql`${probes.createdAt} < ${cutoff}`));
}

/**
 * A registration as one batch: the probe row, its first history row and its `probe.registered` event. The insert
 * yields to a stored replay key (ON CONFLICT DO NOTHING on probes.register_key) and returns no row then; the history
 * row and the event are selected from the new row, so they are written exactly when it is.
 */
export function registerWrites(db: Db, r: { id: string; meta: ProbeMetadata; at: string; passwordHash: string | null; replay: ReplayKey | null }) {
  const { id, meta, at, passwordHash, replay } = r;
  const probe = db
    .insert(probes)
    .values({
      id,
      ...meta,
      createdAt: at,
      updatedAt: at,
      lastSeenAt: at,
      pushTokenState: meta.pushToken ? "valid" : "none",
      pushTokenUpdatedAt: meta.pushToken ? at : null,
      passwordHash,
      registerKey: replay?.key ?? null,
      registerFingerprint: replay?.fingerprint ?? null,
    })
    .onConflictDoNothing({ target: probes.registerKey })
    .returning({ id: probes.id });
  const created = sql`FROM ${probes} WHERE ${probes.id} = ${id}`;
  // drizzle's INSERT … SELECT lists every column in table order (id, probe_id, at, update_type, snapshot, changed).
  const history = db.insert(probeUpdates).select(sql`SELECT NULL, ${probes.id}, ${at}, 'register', ${JSON.stringify(historySnapshot(meta))}, '[]' ${created}`);
  const event = eventInsertSelect(
    db,
    {
      at,
      type: "probe.registered",
      actor: `probe:${id}`,
      subject: { kind: "probe", id },
      probeId: id,
      data: { probe_cc: meta.probeCc, probe_asn: meta.probeAsn, platform: meta.platform, has_password: passwordHash !== null },
    },
    created,
  );
  return [probe, history, event] as const;
}

const WIRE: [keyof ProbeMetadata, string][] = [
  ["probeCc", "probe_cc"],
  ["probeAsn", "probe_asn"],
  ["platform", "platform"],
  ["softwareName", "software_name"],
  ["softwareVersion", "software_version"],
  ["supportedTests", "supported_tests"],
  ["networkType", "network_type"],
  ["availableBandwidth", "available_bandwidth"],
  ["language", "language"],
  ["probeFamily", "probe_family"],
  ["probeId", "probe_id"],
  ["pushToken", "push_token"],
];

/**
 * A probe update as one D1 round trip (one atomic `db.batch()`): the history row and the event are written by
 * INSERT … SELECT from the stored row, only when something differs, and the UPDATE comes last so those inserts
 * still see the old values. Every statement carries the auth condition ("has no password" for anonymous callers;
 * `stands`, the caller's token not revoked, from resolveForWrite), so an unauthorised, revoked or unknown client
 * changes nothing and the UPDATE returns no row.
 * In production each D1 call is a network round trip to the database's primary, so one instead of two matters.
 */
export function probeUpdateBatch(db: Db, clientId: string, next: Partial<ProbeMetadata>, at: string, anonymous: boolean, stands?: SQL) {
  const sent = WIRE.filter(([k]) => next[k] !== undefined);
  const value = (k: keyof ProbeMetadata): SQL => (next[k] !== undefined ? sql`${next[k]}` : sql`${probes[k]}`);
  const differs = (k: keyof ProbeMetadata): SQL => sql`${probes[k]} IS NOT ${next[k]}`;
  const tokenSent = next.pushToken !== undefined;
  const tokenState = tokenSent ? (next.pushToken ? "valid" : "none") : null;

  const diffs = sent.map(([k]) => differs(k));
  if (tokenState) diffs.push(sql`${probes.pushTokenState} IS NOT ${tokenState}`);
  const anyChange = diffs.length ? or(...diffs)! : sql`0`;
  const target = and(eq(probes.id, clientId), anonymous ? isNull(probes.passwordHash) : undefined, stands)!;

  const changedJson = sent.length
    ? sql`'[' || rtrim(${sql.join(
        sent.map(([k, wire]) => sql`CASE WHEN ${differs(k)} THEN ${`"${wire}",`} ELSE '' END`),
        sql` || `,
      )}, ',') || ']'`
    : sql`'[]'`;
  const snapshot = sql`json_object(${sql.join(
    WIRE.filter(([k]) => k !== "pushToken").map(([k, wire]) => (k === "supportedTests" ? sql`${wire}, json(${value(k)})` : sql`${wire}, ${value(k)}`)),
    sql`, `,
  )}, 'has_push_token', json(CASE WHEN ${value("pushToken")} IS NULL THEN 'false' ELSE 'true' END))`;

  // INSERT … SELECT through drizzle (batchable); the select lists every column in table order, NULL for the autoincrement id.
  const history = db.insert(probeUpdates).select(sql`
    SELECT NULL, ${probes.id}, ${at}, 'update', ${snapshot}, ${changedJson} FROM ${probes} WHERE ${target} AND (${anyChange})`);
  const event = eventInsertSelect(
    db,
    {
      at,
      type: "probe.updated",
      actor: `probe:${clientId}`,
      subject: { kind: "probe", id: sql`${probes.id}` },
      probeId: sql`${probes.id}`,
      data: sql`json_object('changed', json(${changedJson}), 'token_state', ${tokenState ?? sql`${probes.pushTokenState}`})`,
    },
    sql`FROM ${probes} WHERE ${target} AND (${anyChange})`,
  );
  const update = db
    .update(probes)
    .set({
      ...next,
      lastSeenAt: at,
      updatedAt: sql`CASE WHEN ${anyChange} THEN ${at} ELSE ${probes.updatedAt} END`,
      // A probe that sends a push token asserts it is current: it is valid again even if it had expired (as Orchestra did).
      ...(tokenState ? { pushTokenState: tokenState, pushTokenUpdatedAt: at } : {}),
    })
    .where(target)
    .returning({ id: probes.id });
  return [history, event, update] as const;
}
