/**
 * Occurrence = (campaign, run, probe). Its id is deterministic, so a retried alarm, a re-fired cron or a duplicate
 * hand-off names the same occurrence and finds it already there.
 */
export function runId(jobId: string, scheduledAtMs: number): string {
  return `${jobId}:${scheduledAtMs}`;
}

export function occurrenceId(jobId: string, scheduledAtMs: number, probeId: string): string {
  return `${jobId}:${scheduledAtMs}:${probeId}`;
}

/**
 * The task id of an occurrence: HMAC-SHA256(secret, occurrence id) shaped as a UUID v4. Deterministic (the same
 * occurrence always gets the same task) and unguessable (without the secret nobody can predict another's task id).
 */
export async function taskIdFor(secret: Uint8Array, occurrence: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`task:${occurrence}`)));
  const b = mac.slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A stable number in [0, 1) from a string (FNV-1a): spreads a campaign's `delay` without storing randomness. */
export function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}
