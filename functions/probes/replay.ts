import type { RegisterBody } from "../../schema/probes-api";
import { ApiError } from "../lib/errors";

/**
 * Recognising a retried registration (docs/decisions/0012-write-outcomes.md).
 *
 * A client whose register answer was lost (a timeout, a dropped connection, a 503 `outcome_unknown`) may send it
 * again; if the first one committed, a second probe would be created. A registration is recognised as a retry by
 * its key: the `Idempotency-Key` header when sent, else the canonical body itself when it carries a password (the
 * secret the client logs in with afterwards: random, so only that one client sends that body). A body without one
 * (the original passwordless flow) is never merged without a header: every device with the same metadata sends
 * it, and a push token alone is not treated as an identity (a token can move between installs, and two devices
 * wrongly sharing a passwordless client_id could update each other). The same key with a different body is
 * refused (422), not replayed.
 *
 * probe-cli (internal/probeservices/register.go) draws a fresh 64-letter password on every MaybeRegister call, so
 * its own retry after an error is a new body and a new probe: merging it with the first would hand it a client_id
 * whose stored password is not the one it will log in with. Only an exact replay of one body (a transport or proxy
 * re-sending it, a client that keeps its request) is the same registration.
 *
 * Keys and fingerprints are HMAC-SHA256 under JWT_SECRET: the body holds the password, and a bare hash of it would
 * be an unsalted, fast hash of a secret at rest.
 */
export type ReplayKey = { key: string; fingerprint: string };

/** At most this long, printable ASCII (the IETF draft's keys are UUIDs or similar; Stripe allows 255). */
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** JSON with object keys sorted at every level: one text for one body, whatever order its fields came in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Whether a body, without a header, identifies one client: it carries a password. */
export function bodyIdentifiesDevice(b: RegisterBody): boolean {
  return b.password !== undefined && b.password !== "";
}

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

async function hmacHex(secret: Uint8Array, text: string): Promise<string> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, k);
  }
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await k, new TextEncoder().encode(text)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The registration's replay key, or null when it cannot be recognised (no header, and a body that identifies no
 * device). A malformed header is a 400: a client that sends one means it.
 */
export async function replayKeyOf(secret: Uint8Array, body: RegisterBody, header: string | undefined): Promise<ReplayKey | null> {
  if (header !== undefined && !IDEMPOTENCY_KEY_RE.test(header)) {
    throw new ApiError("validation_failed", "Idempotency-Key must be 1-255 printable ASCII characters", [{ path: "Idempotency-Key", message: "malformed" }]);
  }
  if (header === undefined && !bodyIdentifiesDevice(body)) return null;
  const fingerprint = await hmacHex(secret, `register-body\0${canonicalJson(body)}`);
  return { key: header === undefined ? fingerprint : await hmacHex(secret, `register-key\0${header}`), fingerprint };
}

export type PriorRegistration = { id: string; fingerprint: string | null; createdAt: string };

/** What a registration whose key is already stored gets: the first one's client_id, or a refusal. */
export function replayVerdict(prior: PriorRegistration, k: ReplayKey, now: Date, windowS: number): { replay: string } | "stale" {
  if (now.getTime() - Date.parse(prior.createdAt) > windowS * 1000) return "stale";
  if (prior.fingerprint !== k.fingerprint) {
    throw new ApiError("idempotency_key_reused", "this Idempotency-Key was used for a different registration body; use a new key for a new registration");
  }
  return { replay: prior.id };
}
