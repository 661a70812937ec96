import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { createApp } from "../../functions/app";

/**
 * The route table the hardening suites are generated from: every route the app mounts (Hono's own list, so a
 * route left out of the OpenAPI document is still here), as "METHOD /path/:param". Wildcard middleware
 * entries (`ALL /*`, the console's `ALL|POST /console/*` guards) are not routes.
 */
export function routeTable(): string[] {
  const seen = new Set<string>();
  for (const r of createApp().routes) {
    if (r.path.endsWith("/*") && r.path !== "/proxy/*") continue;
    seen.add(`${r.method} ${r.path}`);
  }
  return [...seen].sort();
}

/** OpenAPI path ("/a/{b}") as a Hono path ("/a/:b"). */
export const honoPath = (p: string) => p.replace(/\{([^}]+)\}/g, ":$1");

/** Fills `:params` of a Hono path from `values` (a default for the rest). */
export function fillPath(path: string, values: Record<string, string>, fallback = "x"): string {
  return path.replace(/\/\*$/, "/x@1/status").replace(/:([A-Za-z_]+)/g, (_, name: string) => encodeURIComponent(values[name] ?? fallback));
}

const secret = () => new TextEncoder().encode((env as unknown as { JWT_SECRET: string }).JWT_SECRET);

/** A token as the service would sign it, with any claims (for expired and wrong-kind principals). */
export async function signToken(
  claims: { sub: string; kind: string; role: string; grp?: string },
  opts: { expSecondsFromNow?: number; key?: Uint8Array; audience?: string } = {},
): Promise<string> {
  const nowS = Math.floor(Date.now() / 1000);
  const exp = nowS + (opts.expSecondsFromNow ?? 3600);
  return new SignJWT({ kind: claims.kind, role: claims.role, ...(claims.grp ? { grp: claims.grp } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer("edge-orchestra")
    .setAudience(opts.audience ?? `edge-orchestra:${claims.kind}`)
    .setIssuedAt(Math.min(nowS, exp - 60))
    .setExpirationTime(exp)
    .sign(opts.key ?? secret());
}

/** The same claims with the signature's last characters changed: a forged token. */
export function forge(token: string): string {
  const [h, p, s] = token.split(".");
  const flipped = (s.slice(0, -4) + (s.endsWith("AAAA") ? "BBBB" : "AAAA")).replace(/[^A-Za-z0-9_-]/g, "A");
  return `${h}.${p}.${flipped}`;
}

/** An unsigned token (`alg: none`) with admin claims. */
export function unsigned(sub = "admin"): string {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const nowS = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, kind: "operator", role: "admin", aud: "edge-orchestra:operator", iss: "edge-orchestra", exp: nowS + 3600 })}.`;
}

/** Row counts and a checksum of every D1 table (but `except`), to show a rejected request changed nothing. */
export async function snapshot(except: readonly string[] = []): Promise<string> {
  const db = (env as unknown as { DB: D1Database }).DB;
  const tables = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
    )
    .all<{ name: string }>();
  const parts: string[] = [];
  for (const { name } of tables.results) {
    if (except.includes(name)) continue;
    const rows = await db.prepare(`SELECT * FROM "${name}"`).all();
    parts.push(`${name}:${rows.results.length}:${await digest(JSON.stringify(rows.results))}`);
  }
  return parts.join("\n");
}

async function digest(s: string): Promise<string> {
  const h = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(h).slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}
