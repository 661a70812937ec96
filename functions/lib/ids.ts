/** The one id generator: random UUID v4 (122 random bits, unguessable). */
export function newId(): string {
  return crypto.randomUUID();
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/**
 * A probe's client_id as this service knows it: a UUID it issued (register), or an id adopted at login from OONI's own
 * backend (a ~132-character token; functions/ooni/adoption.ts): 65–1,024 characters of token alphabet. Never an
 * operator username (3–64 characters, never a UUID), so one shape check serves login, update and the admin routes.
 */
export const MAX_CLIENT_ID_LENGTH = 1024;
const TOKEN_ID = /^[A-Za-z0-9._~+/=-]{65,1024}$/;

export function isClientId(s: string): boolean {
  return isUuid(s) || TOKEN_ID.test(s);
}

/** The stored form of a client id: UUIDs in lower case (as register issues them), tokens exactly as sent. */
export function clientIdKey(s: string): string {
  return isUuid(s) ? s.toLowerCase() : s;
}
