import { ApiError } from "../lib/errors";
import { CaKeyError, type CaKey, importCaKey } from "./ca/key";

/**
 * The mesh CA's settings. Until functions/lib/config.ts lands on main, the readers below have its exact
 * shape and policy: a malformed or out-of-range value, or a missing secret, is a 503 `misconfigured` on the first
 * request that needs it, never a silent fallback.
 */
export type MeshSettings = {
  /** Lifetime of member certificates (MESH_CERT_TTL_S, default 24 h). */
  certTtlS: number;
  /** Default boot-node count of a new group (BOOT_NODES, Ifrit's default 10). */
  bootNodes: number;
  /** Default ring count of a new group (NUM_RINGS, Ifrit's default 10). */
  numRings: number;
  /** Lifetime of an enrolment token unless the operator says otherwise (MESH_ENROLMENT_TOKEN_TTL_S, default 7 days). */
  enrolmentTokenTtlS: number;
  /** The CA's P-256 signing key (MESH_CA_KEY secret), imported on first use. */
  caKey(): Promise<CaKey>;
};

function readInt(env: Env, name: string, { fallback, min, max }: { fallback: number; min: number; max: number }): number {
  const raw = (env as unknown as Record<string, string | undefined>)[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ApiError("misconfigured", `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function readSecret(env: Env, name: string, { minLength, required }: { minLength: number; required: true }): string {
  const raw = (env as unknown as Record<string, string | undefined>)[name] ?? "";
  if (required && raw.length < minLength) throw new ApiError("misconfigured", `${name} must be set (at least ${minLength} characters)`);
  return raw;
}

const cache = new WeakMap<object, MeshSettings>();

export function meshSettings(env: Env): MeshSettings {
  const hit = cache.get(env);
  if (hit) return hit;
  let key: Promise<CaKey> | null = null;
  const s: MeshSettings = {
    certTtlS: readInt(env, "MESH_CERT_TTL_S", { fallback: 86_400, min: 300, max: 30 * 86_400 }),
    bootNodes: readInt(env, "BOOT_NODES", { fallback: 10, min: 1, max: 100 }),
    numRings: readInt(env, "NUM_RINGS", { fallback: 10, min: 1, max: 64 }),
    enrolmentTokenTtlS: readInt(env, "MESH_ENROLMENT_TOKEN_TTL_S", { fallback: 7 * 86_400, min: 60, max: 365 * 86_400 }),
    caKey() {
      key ??= Promise.resolve()
        .then(() => importCaKey(readSecret(env, "MESH_CA_KEY", { minLength: 32, required: true })))
        .catch((e) => {
          key = null;
          if (e instanceof CaKeyError) throw new ApiError("misconfigured", `MESH_CA_KEY must be an ECDSA P-256 private key: ${e.message}`);
          throw e;
        });
      return key;
    },
  };
  cache.set(env, s);
  return s;
}
