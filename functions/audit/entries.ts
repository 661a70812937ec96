import type { Principal } from "../auth/tokens";
import { isAdoptableClientId } from "../ooni/adoption";
import type { AuditEntry } from "./store";

/** A login attempt: whose account it was for (probe or operator), whether it succeeded, from which address. */
export function loginAudit(at: string, username: string, who: Principal | null, ip: string | undefined): AuditEntry {
  const kind = who ? (who.kind === "operator" ? "operator" : "probe") : isAdoptableClientId(username) ? "probe" : "operator";
  return {
    at,
    action: who ? "login.succeeded" : "login.failed",
    actor: who ? `${who.kind}:${who.sub}` : "anonymous",
    // A failed login names the username tried (cut short: it is attacker-chosen), never the password.
    subject: { kind, id: who ? who.sub : username.slice(0, 128) },
    data: { ip: ip ?? null },
  };
}
