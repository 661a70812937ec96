import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError } from "./errors";
import type { AppEnv } from "./hono";
import type { AbuseSettings } from "./settings";

/**
 * Per-address rate limits on the platform's Rate Limiting binding (`[[ratelimits]]` in wrangler.toml; miniflare
 * runs the same binding under `wrangler dev` and in the vitest pool). Each limited operation has its own binding,
 * so its limit and period are that block's `simple = { limit, period }`: the deployment's setting, changed in
 * wrangler.toml (the platform takes limits from the binding, not from a variable). The binding's counters are per
 * Cloudflare location and eventually consistent: a bound on abuse, not an exact quota (docs/security.md).
 */
export const RATE_LIMITS = {
  login: { binding: "LOGIN_RATE_LIMITER", periodS: 60 },
  register: { binding: "REGISTER_RATE_LIMITER", periodS: 60 },
  update: { binding: "UPDATE_RATE_LIMITER", periodS: 60 },
  checkin: { binding: "CHECKIN_RATE_LIMITER", periodS: 60 },
  activation: { binding: "ACTIVATION_RATE_LIMITER", periodS: 60 },
  certificate: { binding: "CERTIFICATE_RATE_LIMITER", periodS: 60 },
  agent_connect: { binding: "AGENT_CONNECT_RATE_LIMITER", periodS: 60 },
} as const satisfies Record<string, { binding: keyof Env; periodS: 10 | 60 }>;

export type RateLimitName = keyof typeof RATE_LIMITS;

/** The address a request comes from when it carries none (only off Cloudflare: the vitest pool's SELF.fetch). */
export const UNKNOWN_ADDRESS = "unknown";

const ADDRESS_RE = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * The client's address: CF-Connecting-IP, which Cloudflare sets and a client cannot override. Only when that is
 * one of our own fronts (TRUSTED_FRONTS) is X-Forwarded-For read, right to left, skipping our fronts: the first
 * address not ours is the client (entries to its left are the client's own claims and are ignored).
 */
export function clientAddress(headers: { get(name: string): string | null | undefined }, abuse: AbuseSettings): string {
  const cf = headers.get("cf-connecting-ip")?.trim().toLowerCase();
  if (!cf || !ADDRESS_RE.test(cf)) return UNKNOWN_ADDRESS;
  if (!abuse.trustedFronts.includes(cf)) return cf;
  const hops = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!ADDRESS_RE.test(hops[i])) return cf; // a malformed hop: believe nothing left of it
    if (!abuse.trustedFronts.includes(hops[i])) return hops[i];
  }
  return cf;
}

export function addressOf(c: Context<AppEnv>): string {
  return clientAddress(c.req.raw.headers, c.var.services.settings.abuse);
}

/** Whether `key` may go on in the `name` limit: one call to the binding (which also counts this request). */
export async function withinLimit(env: Env, name: RateLimitName, key: string): Promise<boolean> {
  const binding = (env as unknown as Record<string, RateLimit | undefined>)[RATE_LIMITS[name].binding];
  // Fail closed on a deployment without the binding: it is in wrangler.toml, so a missing one is a broken deploy.
  if (!binding) throw new ApiError("misconfigured", `rate limit binding ${RATE_LIMITS[name].binding} is not bound`);
  const { success } = await binding.limit({ key: `${name}:${key}` });
  return success;
}

/** The 429 every surface renders in its own envelope (its onError), with Retry-After = the binding's period. */
export function rateLimitedError(name: RateLimitName, retryAfterS: number = RATE_LIMITS[name].periodS): ApiError {
  return new ApiError("rate_limited", "too many requests from this address; retry later", undefined, {
    "Retry-After": String(Math.max(1, Math.ceil(retryAfterS))),
  });
}

export type RateLimitOptions = {
  /** The key to count by; the client's address unless given. `null` = do not limit this request. */
  key?: (c: Context<AppEnv>) => string | null | Promise<string | null>;
  /** A surface whose contract forbids a 429 (XML-RPC: always 200 with a fault) renders its own answer. */
  render?: (c: Context<AppEnv>, err: ApiError) => Response | Promise<Response>;
};

/**
 * The one rate-limit middleware: count the request under `name` by its key, and refuse it with 429 `rate_limited`
 * and Retry-After (thrown, so the surface's onError renders its envelope) once the key is over the binding's limit.
 * Addresses in RATE_LIMIT_EXEMPT are not counted by address.
 */
export function rateLimit(name: RateLimitName, o: RateLimitOptions = {}): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    let key: string | null;
    if (o.key) key = await o.key(c);
    else {
      const address = addressOf(c);
      key = c.var.services.settings.abuse.rateLimitExempt.includes(address) ? null : address;
    }
    if (key !== null && !(await withinLimit(c.env, name, key))) {
      const err = rateLimitedError(name);
      if (o.render) return o.render(c, err);
      throw err;
    }
    await next();
  });
}

const hashKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

/**
 * An address as events record it: "address:" + 16 hex of HMAC-SHA256(JWT_SECRET, address). Linkable across events
 * of one deployment (the same address gives the same hash), not reversible by enumerating the IPv4 space.
 */
export async function addressActor(jwtSecret: Uint8Array, address: string): Promise<string> {
  let k = hashKeys.get(jwtSecret);
  if (!k) {
    k = crypto.subtle.importKey("raw", jwtSecret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hashKeys.set(jwtSecret, k);
  }
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await k, new TextEncoder().encode(`eo-address\u0000${address}`)));
  return `address:${[...mac.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
