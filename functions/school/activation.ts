import type { Services } from "../lib/hono";
import { log } from "../lib/log";
import { activationText, signMachineLease } from "./keyring";
import { delegationQuery } from "./queries";
import type { Keyring, SchoolSettings } from "./settings";
import { saveLeaseBatch, touchMachine } from "./store";

export type Activation = { kind: "stolen" } | { kind: "unknown" } | { kind: "lease"; lease: string; legacy: string | null; expiresAt: string };

/**
 * What a machine gets when it asks (POST /activation, GET /client/lease): STOLEN first, then its unexpired
 * lease, else a lease the keyring signs now if the machine is known; otherwise UNKNOWN. Every ask records the
 * machine and its last-seen time. One D1 round trip when a lease is stored, two when one is signed.
 */
export async function activate(services: Services, settings: SchoolSettings, keyring: Keyring, serial: string): Promise<Activation> {
  const { db, clock } = services;
  const now = clock.now();
  const at = now.toISOString();
  const [touched, delegations] = await db.batch([touchMachine(db, serial, at), delegationQuery(db, serial, keyring.server.kid, at)]);
  const m = touched[0];
  if (!m) return { kind: "unknown" };
  if (m.stolen) return { kind: "stolen" };
  if (m.lease && m.leaseExpiresAt && Date.parse(m.leaseExpiresAt) > now.getTime()) {
    return { kind: "lease", lease: m.lease, legacy: m.legacyLease, expiresAt: m.leaseExpiresAt };
  }
  if (!m.known || !m.uuid) return { kind: "unknown" };
  const d = delegations[0] ?? null;
  const issued = await signMachineLease(keyring, settings, { serial, uuid: m.uuid }, d, now, services.settings.publicBaseUrl);
  if (!issued) return { kind: "unknown" };
  const [saved] = await db.batch(saveLeaseBatch(db, serial, m.uuid, issued, false));
  if (saved.length === 0) {
    // Marked stolen (or re-imported with another UUID) between the read and the write: ask again for the truth.
    log.warn("school.activation", "lease not stored: machine changed while signing", { serial });
    return { kind: "unknown" };
  }
  return { kind: "lease", lease: issued.lease, legacy: issued.legacy, expiresAt: issued.expiresAt };
}

/** The activation service's text answer (what the TCP relay writes back to the firmware). */
export function activationBody(a: Activation): string {
  if (a.kind === "stolen") return "STOLEN\n";
  if (a.kind === "unknown") return "UNKNOWN\n";
  return activationText(a.lease, a.legacy);
}
