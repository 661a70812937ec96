/**
 * Password hashing through WebCrypto.
 *
 * - Operators (human-chosen passwords): PBKDF2-SHA256 with a random 16-byte salt at MAX_PBKDF2_ITERATIONS.
 *   Production Workers refuse PBKDF2 above 100,000 iterations while local workerd does not, so the cap is
 *   enforced here: no code path can ask for more, and a stored hash claiming more is refused.
 * - Probe secrets: real OONI clients send 64 random letters (~365 bits). Key stretching adds nothing to a
 *   secret that is already out of brute-force reach, so such secrets get one salted SHA-256 (cheap login);
 *   anything that does not look like a long random secret gets the full PBKDF2 treatment.
 *   See docs/decisions/0002-probe-secret-storage.md.
 *
 * Stored formats (the scheme and its parameters travel with every hash):
 *   pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>
 *   sha256$<salt b64>$<hash b64>
 */
export const MAX_PBKDF2_ITERATIONS = 100_000;
const HASH_BYTES = 32;
const SALT_BYTES = 16;

/** Long random secrets: at least 32 characters with at least 16 distinct ones (probe-cli's 64 letters pass). */
export function isHighEntropySecret(secret: string): boolean {
  return secret.length >= 32 && new Set(secret).size >= 16;
}

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export function assertIterationsAllowed(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be between 1 and ${MAX_PBKDF2_ITERATIONS} (Workers' limit), got ${iterations}`);
  }
}

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  assertIterationsAllowed(iterations);
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

async function sha256(salt: Uint8Array, secret: string): Promise<Uint8Array> {
  const data = new Uint8Array(salt.length + enc.encode(secret).length);
  data.set(salt);
  data.set(enc.encode(secret), salt.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

function randomSalt(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SALT_BYTES));
}

/** Hash a human-chosen password (operators). */
export async function hashPassword(password: string, iterations = MAX_PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomSalt();
  const hash = await pbkdf2(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`;
}

/** Hash a probe's secret: one SHA-256 for long random secrets, PBKDF2 otherwise. */
export async function hashProbeSecret(secret: string): Promise<string> {
  if (!isHighEntropySecret(secret)) return hashPassword(secret);
  const salt = randomSalt();
  return `sha256$${b64(salt)}$${b64(await sha256(salt, secret))}`;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Verify against any stored format. Unknown or over-cap formats never verify. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  try {
    if (parts[0] === "pbkdf2-sha256" && parts.length === 4) {
      const iterations = Number(parts[1]);
      if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return false;
      return constantTimeEqual(await pbkdf2(password, unb64(parts[2]), iterations), unb64(parts[3]));
    }
    if (parts[0] === "sha256" && parts.length === 3) {
      // A short password can never have been stored this way; refusing it keeps the cheap path for long secrets only.
      if (!isHighEntropySecret(password)) return false;
      return constantTimeEqual(await sha256(unb64(parts[1]), password), unb64(parts[2]));
    }
  } catch {
    return false;
  }
  return false;
}

/** Compare two strings in constant time with respect to their content (used for the bootstrap admin password). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  return constantTimeEqual(new Uint8Array(da), new Uint8Array(db));
}
