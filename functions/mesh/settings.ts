import { cachedSettings, readInt, readSecret } from "../lib/config";
import { ApiError } from "../lib/errors";
import { type CaKey, CaKeyError, importCaKey } from "./ca/key";

/** The mesh certificate authority's settings, in the one dialect (lib/config.ts); wrangler.toml [vars] documents each. */
export type MeshSettings = {
  /** Lifetime of member certificates (MESH_CERT_TTL_S, default 24 h). */
  certTtlS: number;
  /** Default boot-node count of a new group (BOOT_NODES, Ifrit's default 10). */
  bootNodes: number;
  /** Default ring count of a new group (NUM_RINGS, Ifrit's default 10). */
  numRings: number;
  /** Lifetime of an enrolment token unless the operator says otherwise (MESH_ENROLMENT_TOKEN_TTL_S, default 7 days). */
  enrolmentTokenTtlS: number;
  /** The CA's P-256 signing key (the MESH_CA_KEY secret), imported on first use; `misconfigured` when missing or bad. */
  caKey(): Promise<CaKey>;
};

export const meshSettings = cachedSettings((env: Env): MeshSettings => {
  let key: Promise<CaKey> | null = null;
  return {
    certTtlS: readInt(env, "MESH_CERT_TTL_S", { fallback: 86_400, min: 300, max: 30 * 86_400 }),
    bootNodes: readInt(env, "BOOT_NODES", { fallback: 10, min: 1, max: 100 }),
    numRings: readInt(env, "NUM_RINGS", { fallback: 10, min: 1, max: 32 }),
    enrolmentTokenTtlS: readInt(env, "MESH_ENROLMENT_TOKEN_TTL_S", { fallback: 7 * 86_400, min: 60, max: 365 * 86_400 }),
    caKey() {
      key ??= Promise.resolve()
        .then(() => importCaKey(readSecret(env, "MESH_CA_KEY", { minLength: 32, required: true })))
        .catch((e) => {
          // Not cached: a corrected secret (next deployment) or a transient failure is retried on the next request.
          key = null;
          if (e instanceof CaKeyError) throw new ApiError("misconfigured", `setting MESH_CA_KEY must be an ECDSA P-256 private key: ${e.message}`);
          throw e;
        });
      return key;
    },
  };
});
