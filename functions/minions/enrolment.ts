import type { MinionsSettings } from "./settings";

/** Constant-time comparison of two strings through their SHA-256 digests (lengths do not leak either). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i] ^ v[i];
  return diff === 0;
}

/**
 * What a register request gets under the enrolment mode: `active` (open; token with the right secret), `pending`
 * (approval: an admin approves it), or `refused` (token mode without the right secret).
 */
export async function enrolmentVerdict(
  s: Pick<MinionsSettings, "enrolment" | "enrolmentSecret">,
  presented: string | undefined,
): Promise<"active" | "pending" | "refused"> {
  if (s.enrolment === "open") return "active";
  if (s.enrolment === "approval") return "pending";
  if (!s.enrolmentSecret || presented === undefined) return "refused";
  return (await sameSecret(presented, s.enrolmentSecret)) ? "active" : "refused";
}

/** Which token kinds may open an agent's WebSocket: agent tokens always; mobile-probe tokens only in open mode. */
export function connectKindAllowed(kind: string, mode: MinionsSettings["enrolment"]): boolean {
  return kind === "agent" || (kind === "probe" && mode === "open");
}
