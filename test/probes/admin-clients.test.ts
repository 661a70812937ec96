import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, createOperator, registerProbe } from "../helpers";

describe("GET /api/v1/admin/clients", () => {
  let admin: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    admin = await adminToken();
    ids.it1 = (await registerProbe({ probe_cc: "IT", probe_asn: "AS1", platform: "android" })).clientId;
    ids.it2 = (await registerProbe({ probe_cc: "IT", probe_asn: "AS2", platform: "ios", network_type: "mobile" })).clientId;
    ids.gr = (await registerProbe({ probe_cc: "GR", probe_asn: "AS1", platform: "android", token: "" })).clientId;
    ids.de = (await registerProbe({ probe_cc: "DE", probe_asn: "AS3", platform: "linux", software_name: "miniooni" })).clientId;
    await env.DB.prepare("UPDATE probes SET push_token_state = 'expired' WHERE id = ?").bind(ids.it2).run();
    await env.DB.prepare("UPDATE probes SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE id = ?").bind(ids.de).run();
  });

  const list = async (q: string) => {
    const r = await call("GET", `/api/v1/admin/clients${q}`, { token: admin });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const idsOf = (b: any) => b.results.map((c: any) => c.client_id).sort();

  it("lists every probe oldest first, without push tokens or password hashes", async () => {
    const b = await list("");
    expect(b.results.map((c: any) => c.client_id)).toEqual([ids.it1, ids.it2, ids.gr, ids.de]);
    expect(b.metadata.total_client_count).toBe(4);
    const text = JSON.stringify(b);
    expect(text).not.toContain("fcm-token");
    expect(text).not.toContain("pbkdf2");
    expect(text).not.toContain("sha256$");
  });

  it("filters by country (also OONI's country_code), ASN, platform, network type, software, token state, last seen", async () => {
    expect(idsOf(await list("?country=IT"))).toEqual([ids.it1, ids.it2].sort());
    expect(idsOf(await list("?country_code=IT,GR"))).toEqual([ids.it1, ids.it2, ids.gr].sort());
    expect(idsOf(await list("?asn=AS1"))).toEqual([ids.it1, ids.gr].sort());
    expect(idsOf(await list("?platform=ios"))).toEqual([ids.it2]);
    expect(idsOf(await list("?network_type=mobile"))).toEqual([ids.it2]);
    expect(idsOf(await list("?software_name=miniooni"))).toEqual([ids.de]);
    expect(idsOf(await list("?token_state=expired"))).toEqual([ids.it2]);
    expect(idsOf(await list("?token_state=none"))).toEqual([ids.gr]);
    expect(idsOf(await list("?last_seen_before=2021-01-01T00:00:00Z"))).toEqual([ids.de]);
    expect(idsOf(await list("?last_seen_after=2021-01-01T00:00:00Z&country=DE"))).toEqual([]);
    expect(idsOf(await list("?country=it&platform=android"))).toEqual([ids.it1]);
  });

  it("counts probes per country under the same filter", async () => {
    const b = await list("?platform=android");
    expect(b.metadata.client_countries).toEqual([
      { probe_cc: "GR", count: 1 },
      { probe_cc: "IT", count: 1 },
    ]);
  });

  it("walks the fleet with a cursor: every probe exactly once", async () => {
    const seen: string[] = [];
    let q = "?limit=1";
    for (let i = 0; i < 10; i++) {
      const b = await list(q);
      seen.push(...b.results.map((c: any) => c.client_id));
      if (!b.metadata.next_cursor) break;
      expect(b.metadata.next_url).toMatch(/^https:\/\/probes\.example\.org\/api\/v1\/admin\/clients\?/);
      q = `?limit=1&cursor=${b.metadata.next_cursor}`;
    }
    expect(seen).toEqual([ids.it1, ids.it2, ids.gr, ids.de]);
  });

  it("rejects bad filters with 400", async () => {
    for (const q of ["?country=Italy", "?asn=1", "?token_state=dead", "?limit=0", "?limit=5000", "?last_seen_after=yesterday", "?cursor=%%%"]) {
      const r = await call("GET", `/api/v1/admin/clients${q}`, { token: admin });
      expect(r.status, q).toBe(400);
    }
  });

  it("requires an operator token: none → 401", async () => {
    const r = await call("GET", "/api/v1/admin/clients");
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("unauthorized");
  });

  it("a viewer may read the fleet", async () => {
    const v = await createOperator("viewer");
    expect((await call("GET", "/api/v1/admin/clients", { token: v.token })).status).toBe(200);
  });
});

describe("GET /api/v1/admin/clients/:client_id", () => {
  it("shows one probe with its metadata history, newest first", async () => {
    const p = await registerProbe();
    await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { software_version: "9.9.9" } });
    const r = await call("GET", `/api/v1/admin/clients/${p.clientId}`, { token: await adminToken() });
    expect(r.status).toBe(200);
    expect(r.body.software_version).toBe("9.9.9");
    expect(r.body.token_state).toBe("valid");
    expect(r.body.has_password).toBe(true);
    expect(r.body.updates.map((u: any) => [u.update_type, u.changed])).toEqual([
      ["update", ["software_version"]],
      ["register", []],
    ]);
    expect(r.body.updates[1].snapshot.software_version).toBe("2.0.0");
  });

  it("unknown → 404; malformed id → 400", async () => {
    const t = await adminToken();
    expect((await call("GET", `/api/v1/admin/clients/${crypto.randomUUID()}`, { token: t })).status).toBe(404);
    expect((await call("GET", "/api/v1/admin/clients/xyz", { token: t })).status).toBe(400);
  });
});
