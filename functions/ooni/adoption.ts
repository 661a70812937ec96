import { eq } from "drizzle-orm";
import { probes, probeUpdates } from "../../schema/probes";
import { hashProbeSecret } from "../auth/passwords";
import { eventInsert } from "../events/store";
import type { Db } from "../lib/db";
import { clientIdKey, isClientId, isUuid, MAX_CLIENT_ID_LENGTH } from "../lib/ids";

/**
 * Fleet adoption: a probe registered with OONI's own backend (client_id: a ~132-character token; orchestra-era
 * probes: a UUID) logs in here without ever registering, and never re-registers after a failed login. OONI's
 * backend accepts such ids, so this service adopts them: the first login creates the probe with that id and secret.
 *
 * Collisions with operators are impossible by shape: operator usernames are 3–64 characters and never UUIDs
 * (schema/auth-api.ts), an adoptable id is a UUID or 65–1,024 characters of token alphabet.
 */
export { clientIdKey, MAX_CLIENT_ID_LENGTH };

/** The shape check lives in lib/ids.ts: update and the admin probe routes accept exactly the ids login adopts. */
export const isAdoptableClientId = isClientId;

/**
 * Create the probe for an unknown id, or do nothing if a concurrent login created it first (the caller re-reads
 * and verifies the password against whatever row won).
 */
export async function adoptProbe(db: Db, id: string, password: string, at: string): Promise<void> {
  const passwordHash = await hashProbeSecret(password);
  const meta = { probeCc: "ZZ", probeAsn: "AS0", platform: "unknown", softwareName: "unknown", softwareVersion: "unknown", supportedTests: "[]" };
  const [ins] = await db.batch([
    db
      .insert(probes)
      .values({ id, ...meta, createdAt: at, updatedAt: at, lastSeenAt: at, pushTokenState: "none", passwordHash })
      .onConflictDoNothing()
      .returning({ id: probes.id }),
  ]);
  if (ins.length === 0) return;
  await db.batch([
    db.insert(probeUpdates).values({
      probeId: id,
      at,
      updateType: "register",
      snapshot: JSON.stringify({ probe_cc: "ZZ", probe_asn: "AS0", platform: "unknown", adopted: true }),
      changed: "[]",
    }),
    eventInsert(db, {
      at,
      type: "probe.adopted",
      actor: `probe:${id}`,
      subject: { kind: "probe", id },
      probeId: id,
      data: { id_length: id.length, id_kind: isUuid(id) ? "uuid" : "token" },
    }),
  ]);
}

export async function probeLoginRow(db: Db, id: string) {
  return db.select({ id: probes.id, hash: probes.passwordHash, lastSeenAt: probes.lastSeenAt }).from(probes).where(eq(probes.id, id)).get();
}
