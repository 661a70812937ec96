import type { CronJob } from "../lib/surface";
import { buildServices } from "../lib/hono";
import { signMachineLease } from "./keyring";
import { log } from "../lib/log";
import { delegationQuery, machinesDueForLease } from "./queries";
import { schoolKeyring, schoolSettings } from "./settings";
import { purgeExpiredBatch, saveLeaseBatch } from "./store";

/**
 * Renew leases before they expire: each known, not-stolen machine whose lease ends within LEASE_RENEW_BEFORE_S
 * gets a fresh one (under its delegation when it has one), at most LEASE_RENEW_BATCH per run so a run stays
 * within one invocation's limits; the next minute takes the rest. The save is guarded on "not stolen", so a
 * machine reported stolen while its lease was being signed keeps none. Expired admissions and delegations go.
 */
export async function renewLeases(env: Env, at: Date): Promise<{ renewed: number; skipped: number }> {
  const services = buildServices(env);
  const { db } = services;
  const s = schoolSettings(env);
  const keyring = await schoolKeyring(env);
  const iso = at.toISOString();
  await db.batch(purgeExpiredBatch(db, iso));
  const before = new Date(at.getTime() + s.leaseRenewBeforeS * 1000).toISOString();
  const due = await machinesDueForLease(db, before, s.leaseRenewBatch);
  let renewed = 0;
  let skipped = 0;
  for (const m of due) {
    const [d] = await delegationQuery(db, m.serial, keyring.server.kid, iso);
    const issued = await signMachineLease(keyring, s, { serial: m.serial, uuid: m.uuid as string }, d ?? null, at, services.settings.publicBaseUrl);
    if (!issued) {
      skipped++;
      continue;
    }
    const [saved] = await db.batch(saveLeaseBatch(db, m.serial, m.uuid as string, issued, true));
    if (saved.length) renewed++;
    else skipped++;
  }
  if (due.length) log.info("school.cron", "leases renewed", { renewed, skipped, due: due.length });
  return { renewed, skipped };
}

export const renewSchoolLeases: CronJob = { name: "school.renew-leases", run: (env, _ctx, at) => renewLeases(env, at) };
