import { env } from "cloudflare:workers";
import { decodeProtectedHeader, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { LeaseInvalid, type PublishedKey, publishedKey, serverKeyFrom, signDelegation, signLease, verifyLease } from "../../functions/school/lease";
import { legacyLease, olpcTime, parseLegacyLease, rsaLeaseKeyFrom, verifyLegacyLease } from "../../functions/school/legacy-lease";
import { schoolKeyring } from "../../functions/school/settings";
import { DEV_MASTER, ROGUE_MASTER, ROGUE_SERVER } from "./helpers";
import rsaPem from "./fixtures/dev-rsa-private.pem?raw";

const NOW = new Date("2026-03-01T12:00:00Z");
const t = (d: Date) => Math.floor(d.getTime() / 1000);
const DAY = 86_400;
const SN = "SHC005007B7";
const UUID = "6e1f8d2a-1c7e-41ee-9f7b-0800200c9a66";

async function ring() {
  const k = await schoolKeyring(env);
  return { server: k.server, jwks: k.jwks as PublishedKey[] };
}

const claims = (over: Partial<{ sn: string; uuid: string; iat: number; exp: number }> = {}) => ({
  sn: SN,
  uuid: UUID,
  disp: "K",
  iat: t(NOW),
  exp: t(NOW) + 21 * DAY,
  ...over,
});

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LeaseInvalid) return e.reason;
    throw e;
  }
  throw new Error("verified");
}

/** Replace one claim in the payload, keeping the original signature (a tampered lease). */
function tamper(token: string, change: Record<string, unknown>): string {
  const [h, p, s] = token.split(".");
  const payload = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
  const np = btoa(JSON.stringify({ ...payload, ...change }))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return `${h}.${np}.${s}`;
}

describe("plain leases", () => {
  it("verify with the published server key and carry serial, uuid, disposition and expiry", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims());
    const v = await verifyLease(lease, jwks, { now: NOW, serial: SN, uuid: UUID });
    expect(v).toMatchObject({ sn: SN, uuid: UUID, disp: "K", exp: t(NOW) + 21 * DAY, delegated: false, kid: server.kid });
    expect(decodeProtectedHeader(lease)).toMatchObject({ alg: "ES256", typ: "olpc-lease+jwt", kid: server.kid });
  });

  it("fail when the serial, the uuid or the expiry was tampered with", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims());
    for (const change of [{ sn: "SHC00000000" }, { uuid: crypto.randomUUID() }, { exp: t(NOW) + 999 * DAY }]) {
      expect(await reason(verifyLease(tamper(lease, change), jwks, { now: NOW }))).toMatch(/bad signature/);
    }
  });

  it("fail once expired", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims({ exp: t(NOW) + 60 }));
    expect(await reason(verifyLease(lease, jwks, { now: new Date(NOW.getTime() + 61_000) }))).toMatch(/expired/);
  });

  it("fail for another device's serial or uuid, and for a key the JWKS does not publish", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims());
    expect(await reason(verifyLease(lease, jwks, { now: NOW, serial: "SHC11111111" }))).toMatch(/another serial/);
    expect(await reason(verifyLease(lease, jwks, { now: NOW, uuid: crypto.randomUUID() }))).toMatch(/another machine uuid/);
    const rogue = await signLease(await serverKeyFrom(ROGUE_SERVER), claims());
    expect(await reason(verifyLease(rogue, jwks, { now: NOW }))).toMatch(/no server key/);
  });

  it("are refused where a delegation is required", async () => {
    const { server, jwks } = await ring();
    expect(await reason(verifyLease(await signLease(server, claims()), jwks, { now: NOW, requireDelegation: true }))).toMatch(/no delegation/);
  });
});

describe("delegated leases", () => {
  const delegate = async (master: JWK, serverPub: JWK, sn = SN, days = 30) =>
    signDelegation(master, serverPub, sn, NOW, new Date(NOW.getTime() + days * DAY * 1000));

  it("verify through an unexpired master delegation for the same serial, even where delegation is required", async () => {
    const { server, jwks } = await ring();
    const del = await delegate(DEV_MASTER, server.publicJwk);
    const lease = await signLease(server, claims(), del);
    const v = await verifyLease(lease, jwks, { now: NOW, serial: SN, uuid: UUID, requireDelegation: true });
    expect(v.delegated).toBe(true);
    expect(v.delegationExp).toBe(t(NOW) + 30 * DAY);
  });

  it("fail once the delegation has expired, though the lease has not", async () => {
    const { server, jwks } = await ring();
    const del = await delegate(DEV_MASTER, server.publicJwk, SN, 1);
    const lease = await signLease(server, claims({ exp: t(NOW) + DAY }), del);
    expect(await reason(verifyLease(lease, jwks, { now: new Date(NOW.getTime() + (DAY + 1) * 1000) }))).toMatch(/delegation expired|lease expired/);
    // And a lease that outlives its delegation never verifies.
    const long = await signLease(server, claims({ exp: t(NOW) + 40 * DAY }), await delegate(DEV_MASTER, server.publicJwk));
    expect(await reason(verifyLease(long, jwks, { now: NOW }))).toMatch(/outlives/);
  });

  it("fail when the delegation is for another serial", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims(), await delegate(DEV_MASTER, server.publicJwk, "SHC99999999"));
    expect(await reason(verifyLease(lease, jwks, { now: NOW }))).toMatch(/another serial/);
  });

  it("fail when the delegation names another server key, or was signed by a key that is not the master", async () => {
    const { server, jwks } = await ring();
    const rogueServer = await serverKeyFrom(ROGUE_SERVER);
    const toOther = await signLease(server, claims(), await delegate(DEV_MASTER, rogueServer.publicJwk));
    expect(await reason(verifyLease(toOther, jwks, { now: NOW }))).toMatch(/bad signature/);
    const fake = await signLease(server, claims(), await delegate(ROGUE_MASTER, server.publicJwk));
    expect(await reason(verifyLease(fake, jwks, { now: NOW }))).toMatch(/no master key/);
    // A rogue server key delegated by a rogue master: nothing in the JWKS vouches for it.
    const chain = await signLease(rogueServer, claims(), await delegate(ROGUE_MASTER, rogueServer.publicJwk));
    expect(await reason(verifyLease(chain, jwks, { now: NOW }))).toMatch(/no master key/);
  });

  it("cannot have the chain stripped: the delegation is inside the signed header", async () => {
    const { server, jwks } = await ring();
    const lease = await signLease(server, claims(), await delegate(DEV_MASTER, server.publicJwk));
    const [, p, s] = lease.split(".");
    const bare = btoa(JSON.stringify({ alg: "ES256", kid: server.kid, typ: "olpc-lease+jwt" }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    expect(await reason(verifyLease(`${bare}.${p}.${s}`, jwks, { now: NOW }))).toMatch(/bad signature/);
  });
});

describe("keys", () => {
  it("publish the public half only, with RFC 7638 thumbprints as kids and a role each", async () => {
    const k = await schoolKeyring(env);
    expect(k.jwks.map((j) => j.role).sort()).toEqual(["master", "server"]);
    for (const j of k.jwks) {
      expect(j).not.toHaveProperty("d");
      expect(j.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect((await publishedKey(DEV_MASTER, "master")).kid).toBe(k.master.kid);
  });
});

describe("OLPC act01 lease lines", () => {
  it("parse as act01: SN K EXPIRY sig01: sha256 KEYID HEXSIG and verify with RSA-PSS over SN:UUID:K:EXPIRY", async () => {
    const key = (await schoolKeyring(env)).rsa;
    if (!key) throw new Error("test env has no RSA key");
    const line = await legacyLease(key, SN, UUID, new Date("2026-03-22T12:00:00Z"));
    expect(line).toMatch(/^act01: SHC005007B7 K 20260322T120000Z sig01: sha256 [0-9a-f]{64} [0-9a-f]{512}\n$/);
    const p = parseLegacyLease(line);
    expect(p?.keyId).toBe(key.key01Hex.slice(-64));
    expect(await verifyLegacyLease(line, key, UUID)).toBe(true);
    expect(await verifyLegacyLease(line, key, crypto.randomUUID())).toBe(false);
    expect(await verifyLegacyLease(line.replace("20260322", "20270322"), key, UUID)).toBe(false);
  });

  it("take the same key from PKCS#8 PEM as from its JWK, and key01 is the DER RSAPublicKey", async () => {
    const pem = await rsaLeaseKeyFrom(rsaPem);
    const jwk = (await schoolKeyring(env)).rsa;
    expect(pem.keyId).toBe(jwk?.keyId);
    expect(pem.key01Hex).toMatch(/^3082010a02820101/);
    expect(pem.key01Hex.endsWith("0203010001")).toBe(true);
  });

  it("write expiry as YYYYMMDDTHHMMSSZ in UTC", () => {
    expect(olpcTime(new Date("2026-01-02T03:04:05.678Z"))).toBe("20260102T030405Z");
  });
});
