import type { SchoolSettings } from "./settings";

/**
 * Pure rules of registration and activation (reference/seed-systems.md §2.2–2.4): what a valid uid, serial and
 * public key are, what the server hands a registered client, and what the registration stamp is.
 */

/** Sugar sends a UUID (v1 from `uuid.uuid1()`, the XO's mfg UUID, or all zeros); sugar-server later used hashes. */
export const UID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** XO serials are 11 characters (e.g. SHC005007B7); Sugar's fallback is SHF00000000. Stored upper-case. */
export const SERIAL_INPUT_RE = /^[A-Za-z0-9]{11}$/;

export const normaliseSerial = (s: string) => s.toUpperCase();

const KEY_TYPES = new Set(["ssh-dss", "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]);

export type PubkeyResult = { ok: true; pubkey: string } | { ok: false; error: string };

/**
 * An SSH public key as `<type> <base64>`, the authorized_keys form the backup account needs. Accepted with or
 * without the type prefix (OLPC and Sugar send a DSA key's base64 without `ssh-dss `) and with or without a
 * trailing comment; the blob must decode and name its own type, which must agree with a given prefix.
 */
export function normalisePubkey(raw: string): PubkeyResult {
  const parts = raw.trim().split(/\s+/);
  if (parts.length === 0 || parts[0] === "") return { ok: false, error: "pubkey is empty" };
  let prefix: string | null = null;
  let blob = parts[0];
  if (KEY_TYPES.has(parts[0])) {
    prefix = parts[0];
    blob = parts[1] ?? "";
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) return { ok: false, error: "pubkey is not an SSH public key (base64 expected)" };
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  } catch {
    return { ok: false, error: "pubkey is not valid base64" };
  }
  const len = bytes.length >= 4 ? ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0 : 0;
  const type = len > 0 && len <= 32 && bytes.length > 4 + len ? new TextDecoder().decode(bytes.subarray(4, 4 + len)) : "";
  if (!KEY_TYPES.has(type)) return { ok: false, error: "pubkey does not hold a known SSH key type" };
  if (prefix && prefix !== type) return { ok: false, error: `pubkey prefix ${prefix} does not match its key type ${type}` };
  return { ok: true, pubkey: `${type} ${blob}` };
}

/** FNV-1a, 32 bits: a short, stable fingerprint of the settings clients depend on. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * The registration stamp: the operator-bumped epoch plus a fingerprint of what a client was told at registration
 * (jabber server, backup URL and path). It changes when an operator asks every client to re-register and when a
 * deployment changes those settings; a client whose stored stamp differs re-registers (sugar-client's rule).
 */
export function stampOf(epoch: number, s: Pick<SchoolSettings, "jabberServer" | "backupUrlTemplate" | "backupPathTemplate">): string {
  return `${epoch}-${fnv1a(`${s.jabberServer}\n${s.backupUrlTemplate}\n${s.backupPathTemplate}`)}`;
}

const fill = (template: string, uid: string) => template.replaceAll("{uid}", uid);

export type ClientServices = { jabberserver: string; backupurl: string; backuppath: string };

export function servicesFor(s: SchoolSettings, uid: string): ClientServices {
  return { jabberserver: s.jabberServer, backupurl: fill(s.backupUrlTemplate, uid), backuppath: fill(s.backupPathTemplate, uid) };
}

/** The `config` dict: options a sugar-client applies as they are (its keys match the status reply's). */
export function clientConfig(services: ClientServices, apiUrl: string): Record<string, string> {
  return { "api-url": apiUrl, "jabber-url": services.jabberserver, "backup-url": services.backupurl };
}

/**
 * The serial in an activation request: XO firmware sends its serial, maybe followed by more data; a line that
 * starts with the serial is enough (reference §2.4). Null when the body holds no serial.
 */
export function activationSerial(body: string): string | null {
  const line =
    body
      .replace(/^\uFEFF/, "")
      .trimStart()
      .split(/\r?\n/, 1)[0] ?? "";
  const m = /^([A-Za-z0-9]{11})(?![A-Za-z0-9])/.exec(line);
  return m ? normaliseSerial(m[1]) : null;
}

export type LeaseState = "none" | "valid" | "renewing" | "expired";

/** Where a stored lease stands: renewal starts `renewBeforeS` before expiry. */
export function leaseState(expiresAt: string | null, now: Date, renewBeforeS: number): LeaseState {
  if (!expiresAt) return "none";
  const t = Date.parse(expiresAt);
  if (t <= now.getTime()) return "expired";
  return t - now.getTime() <= renewBeforeS * 1000 ? "renewing" : "valid";
}
