import type { JWK } from "jose";
import { cachedSettings, readBool, readInt, readSecret, readString } from "../lib/config";
import { ApiError } from "../lib/errors";
import { KeyError, type PublishedKey, publishedKey, type ServerKey, serverKeyFrom } from "./lease";
import { type RsaLeaseKey, rsaLeaseKeyFrom } from "./legacy-lease";

/**
 * The school surface's settings, in the settings dialect of the surface contract: each value through a reader
 * that throws ApiError("misconfigured") (503) on the first request that needs a malformed value, never a silent
 * fallback (functions/lib/config.ts).
 */
export type SchoolSettings = {
  /** Handed to clients as `jabberserver` and `config["jabber-url"]`. */
  jabberServer: string;
  /** Backup rsync URL and path templates; `{uid}` is replaced by the user's uid. */
  backupUrlTemplate: string;
  backupPathTemplate: string;
  maxConcurrentBackups: number;
  backupAdmissionTtlS: number;
  leaseLifetimeS: number;
  leaseRenewBeforeS: number;
  /** Sign leases only under a delegation (as an XO's firmware requires); otherwise a plain server-signed lease. */
  leaseRequireDelegation: boolean;
  /** How many leases one cron run renews at most. */
  leaseRenewBatch: number;
};

export const schoolSettings = cachedSettings((env: Env): SchoolSettings => {
  const leaseLifetimeS = readInt(env, "LEASE_LIFETIME_S", { fallback: 21 * 86_400, min: 3_600, max: 5 * 365 * 86_400 });
  const leaseRenewBeforeS = readInt(env, "LEASE_RENEW_BEFORE_S", { fallback: 7 * 86_400, min: 60, max: 5 * 365 * 86_400 });
  if (leaseRenewBeforeS >= leaseLifetimeS) throw new ApiError("misconfigured", "LEASE_RENEW_BEFORE_S must be shorter than LEASE_LIFETIME_S");
  const s: SchoolSettings = {
    jabberServer: readString(env, "SCHOOL_JABBER_SERVER", "schoolserver"),
    backupUrlTemplate: readString(env, "SCHOOL_BACKUP_URL", "backup@schoolserver:{uid}/"),
    backupPathTemplate: readString(env, "SCHOOL_BACKUP_PATH", "/library/users/{uid}"),
    maxConcurrentBackups: readInt(env, "MAX_CONCURRENT_BACKUPS", { fallback: 5, min: 1, max: 10_000 }),
    backupAdmissionTtlS: readInt(env, "BACKUP_ADMISSION_TTL_S", { fallback: 3_600, min: 10, max: 86_400 }),
    leaseLifetimeS,
    leaseRenewBeforeS,
    leaseRequireDelegation: readBool(env, "LEASE_REQUIRE_DELEGATION", false),
    leaseRenewBatch: readInt(env, "LEASE_RENEW_BATCH", { fallback: 100, min: 1, max: 1_000 }),
  };
  return s;
});

/** The keyring: the server key that signs leases, the master key(s) that sign delegations, an optional RSA key. */
export type Keyring = {
  server: ServerKey;
  master: PublishedKey;
  /** Public keys still published after a rotation, so leases signed before it keep verifying. */
  retired: PublishedKey[];
  rsa: RsaLeaseKey | null;
  /** What GET /.well-known/jwks.json publishes. */
  jwks: PublishedKey[];
};

function parseJwk(name: string, raw: string): JWK {
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as JWK;
  } catch {
    // fall through
  }
  throw new ApiError("misconfigured", `${name} must be a JWK (JSON object)`);
}

async function buildKeyring(env: Env): Promise<Keyring> {
  const signing = readSecret(env, "LEASE_SIGNING_KEY", { minLength: 64, required: true });
  const master = readSecret(env, "LEASE_MASTER_PUBLIC_KEY", { minLength: 64, required: true });
  const rsaRaw = readSecret(env, "LEASE_RSA_PRIVATE_KEY", { minLength: 256, required: false });
  const retiredRaw = readSecret(env, "LEASE_RETIRED_PUBLIC_KEYS", { minLength: 2, required: false });
  const wrap = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError("misconfigured", `${name} ${e instanceof KeyError ? e.message : `is not usable: ${(e as Error).message}`}`);
    }
  };
  const server = await wrap("LEASE_SIGNING_KEY", () => serverKeyFrom(parseJwk("LEASE_SIGNING_KEY", signing)));
  const masterKey = await wrap("LEASE_MASTER_PUBLIC_KEY", () => publishedKey(parseJwk("LEASE_MASTER_PUBLIC_KEY", master), "master"));
  let retired: PublishedKey[] = [];
  if (retiredRaw) {
    retired = await wrap("LEASE_RETIRED_PUBLIC_KEYS", async () => {
      const list = JSON.parse(retiredRaw) as unknown;
      if (!Array.isArray(list)) throw new KeyError("must be a JSON array of public JWKs");
      return Promise.all(list.map((k) => publishedKey(k as JWK, "server")));
    });
  }
  const rsa = rsaRaw ? await wrap("LEASE_RSA_PRIVATE_KEY", () => rsaLeaseKeyFrom(rsaRaw)) : null;
  const jwks = [server.publicJwk, ...retired.filter((k) => k.kid !== server.kid), masterKey];
  return { server, master: masterKey, retired, rsa, jwks };
}

const keyringCache = new WeakMap<object, Promise<Keyring>>();

/** The keyring, imported once per env object. A missing or malformed key is 503 `misconfigured`, every time. */
export function schoolKeyring(env: Env): Promise<Keyring> {
  let hit = keyringCache.get(env);
  if (!hit) {
    hit = buildKeyring(env);
    keyringCache.set(env, hit);
  }
  return hit;
}
