import { DurableObject } from "cloudflare:workers";
import { type Clock, systemClock } from "../functions/lib/clock";
import { migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { apnsProviderToken } from "../functions/push/apns";
import { pushConfigFrom } from "../functions/push/config";
import { type ApnsCached, apnsShouldMint, fcmTokenFresh } from "../functions/push/credentials";
import { type AccessToken, exchangeAssertion, fcmAssertion } from "../functions/push/fcm";

/** The object's storage schema (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: no tables. The cached tokens ("fcm", "apns") are key-value records; a missing one is minted.
  () => {},
];

/**
 * One instance ("global") mints and caches provider credentials for every Worker isolate: the FCM OAuth2
 * access token (~1 h) and the APNs provider token (reused ~50 min, as Apple requires). Tokens are kept in
 * storage so an evicted object does not mint again; concurrent callers share one in-flight mint.
 */
export class PushCredentials extends DurableObject<Env> {
  private inflight = new Map<string, Promise<string>>();
  clock: Clock = systemClock;
  /** Replaced in tests, which must not patch the global fetch that other objects in the isolate share. */
  fetcher: typeof fetch = (input, init) => fetch(input, init);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(ctx.storage.sql, SCHEMA);
    });
  }

  private once(key: string, make: () => Promise<string>): Promise<string> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = make().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  async fcmAccessToken(forceRefresh = false): Promise<string> {
    const cached = await this.ctx.storage.get<AccessToken>("fcm");
    if (!forceRefresh && fcmTokenFresh(cached, this.clock.now().getTime())) return cached.token;
    return this.once("fcm", async () => {
      const config = pushConfigFrom(this.env);
      if (!config.fcm) throw new Error("FCM is not configured");
      const assertion = await fcmAssertion(config.fcm.account, this.clock);
      const fresh = await exchangeAssertion(config.fcm.account, assertion, this.clock, config.timeoutMs, this.fetcher);
      await this.ctx.storage.put("fcm", fresh);
      return fresh.token;
    });
  }

  async apnsProviderToken(forceRefresh = false): Promise<string> {
    const cached = await this.ctx.storage.get<ApnsCached>("apns");
    const nowS = Math.floor(this.clock.now().getTime() / 1000);
    if (cached && !apnsShouldMint(cached, nowS, forceRefresh)) return cached.token;
    return this.once("apns", async () => {
      const config = pushConfigFrom(this.env);
      if (!config.apns) throw new Error("APNs is not configured");
      const token = await apnsProviderToken(config.apns, nowS);
      await this.ctx.storage.put("apns", { token, iat: nowS } satisfies ApnsCached);
      return token;
    });
  }

  /** For operators and tests: what is cached (never the token itself). */
  async status(): Promise<{ fcmExpiresAt: number | null; apnsIssuedAt: number | null }> {
    const fcm = await this.ctx.storage.get<AccessToken>("fcm");
    const apns = await this.ctx.storage.get<ApnsCached>("apns");
    return { fcmExpiresAt: fcm?.expiresAt ?? null, apnsIssuedAt: apns?.iat ?? null };
  }
}
