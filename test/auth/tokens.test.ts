import { env } from "cloudflare:workers";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { devicePrincipal, issueToken, operatorPrincipal, principalFromClaims, verifyToken } from "../../functions/auth/tokens";
import { systemClock } from "../../functions/lib/clock";
import { settingsFrom } from "../../functions/lib/settings";

const settings = settingsFrom(env);

describe("principal kinds in tokens", () => {
  it("every kind round-trips through a token that names its kind and its own audience", async () => {
    for (const p of [
      operatorPrincipal("alice", "viewer"),
      devicePrincipal("probe", "p1"),
      devicePrincipal("agent", "a1"),
      devicePrincipal("school", "s1"),
      devicePrincipal("member", "m1", "g1"),
    ]) {
      const { token } = await issueToken(p, settings, systemClock);
      expect(decodeJwt(token)).toMatchObject({ kind: p.kind, aud: `edge-orchestra:${p.kind}`, role: p.role });
      expect(await verifyToken(token, settings, systemClock)).toEqual(p);
    }
  });

  it("tokens issued before kinds existed (one audience, a role) still verify as probe or operator tokens", async () => {
    const legacy = async (sub: string, role: string) =>
      new SignJWT({ role })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(sub)
        .setIssuer("edge-orchestra")
        .setAudience("edge-orchestra")
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(settings.jwtSecret);
    expect(await verifyToken(await legacy("p1", "probe"), settings, systemClock)).toEqual(devicePrincipal("probe", "p1"));
    expect(await verifyToken(await legacy("admin", "admin"), settings, systemClock)).toEqual(operatorPrincipal("admin", "admin"));
    await expect(verifyToken(await legacy("x", "member"), settings, systemClock)).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("a kind that disagrees with its audience or role, or a member without a group, is not a valid principal", () => {
    expect(principalFromClaims({ sub: "x", aud: "edge-orchestra:probe", kind: "operator", role: "admin" })).toBeNull();
    expect(principalFromClaims({ sub: "x", aud: "edge-orchestra:agent", kind: "agent", role: "probe" })).toBeNull();
    expect(principalFromClaims({ sub: "x", aud: "edge-orchestra:member", kind: "member", role: "member" })).toBeNull();
    expect(principalFromClaims({ sub: "x", aud: "edge-orchestra:operator", kind: "operator", role: "root" })).toBeNull();
    expect(principalFromClaims({ sub: "", aud: "edge-orchestra:probe", kind: "probe", role: "probe" })).toBeNull();
  });
});
