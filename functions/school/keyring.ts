import { rfc3339 } from "../lib/clock";
import { epochSeconds, signLease } from "./lease";
import { legacyLease } from "./legacy-lease";
import type { Keyring, SchoolSettings } from "./settings";
import type { IssuedLease } from "./store";

/**
 * The keyring's one decision (sugar-server's keyring service): sign a lease for a known machine. Under an
 * unexpired delegation for its serial the lease carries the chain and ends no later than the delegation;
 * without one it is a plain server-signed lease, unless the deployment requires delegations (then none).
 * With an RSA key configured the OLPC act01 line is signed too, with the same expiry.
 */
export async function signMachineLease(
  keyring: Keyring,
  settings: Pick<SchoolSettings, "leaseLifetimeS" | "leaseRequireDelegation">,
  machine: { serial: string; uuid: string },
  delegation: { token: string; expiresAt: string } | null,
  now: Date,
  issuer: string,
): Promise<IssuedLease | null> {
  if (!delegation && settings.leaseRequireDelegation) return null;
  const iat = epochSeconds(now);
  let exp = iat + settings.leaseLifetimeS;
  if (delegation) exp = Math.min(exp, epochSeconds(new Date(delegation.expiresAt)));
  if (exp <= iat) return null;
  const lease = await signLease(keyring.server, { sn: machine.serial, uuid: machine.uuid, disp: "K", iat, exp, iss: issuer }, delegation?.token);
  const expiry = new Date(exp * 1000);
  const legacy = keyring.rsa ? await legacyLease(keyring.rsa, machine.serial, machine.uuid, expiry) : null;
  return { lease, legacy, issuedAt: rfc3339(now), expiresAt: rfc3339(expiry), delegated: delegation !== null };
}

/** The activation answer's text: the act01 line first when there is one (what XO firmware reads), then the JWS. */
export function activationText(lease: string, legacy: string | null): string {
  return `${legacy ?? ""}${lease}\n`;
}
