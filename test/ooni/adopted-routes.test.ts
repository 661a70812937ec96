import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { consoleLogin, get } from "../console/helpers";
import { adminToken, call, probeSecret, registerProbe } from "../helpers";

/** A ~132-character id as OONI's backend issues (three base64 parts); `std` uses the "+/=" alphabet, so "/" is in it. */
function ooniId(std = false): string {
  const alphabet = std
    ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const part = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % 64]).join("");
  return `eyJ${part(33)}.${std ? `/${part(59)}` : part(60)}.${part(34)}`;
}

async function adopt(id: string) {
  const password = probeSecret();
  const r = await call("POST", "/api/v1/login", { json: { username: id, password } });
  expect(r.status).toBe(200);
  return r.body.token as string;
}

const path = (id: string) => encodeURIComponent(id);

describe("adopted probes (non-UUID client_ids) on the update and admin probe routes", () => {
  let admin: string;
  let id: string;
  let token: string;
  beforeAll(async () => {
    admin = await adminToken();
    id = ooniId();
    expect(id).toHaveLength(132);
    token = await adopt(id);
  });

  it("an adopted probe updates its own metadata at PUT /api/v1/update/:id with its token", async () => {
    const r = await call("PUT", `/api/v1/update/${path(id)}`, { json: { probe_cc: "BR", probe_asn: "AS28573", platform: "android" }, token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok" });
    const row = await env.DB.prepare("SELECT probe_cc, probe_asn, platform FROM probes WHERE id = ?").bind(id).first<any>();
    expect(row).toEqual({ probe_cc: "BR", probe_asn: "AS28573", platform: "android" });
  });

  it("an adopted id is case-sensitive: another case is another (unknown) probe, and its token does not update it", async () => {
    const flipped = id.replace(/[a-z]/, (ch) => ch.toUpperCase());
    expect(flipped).not.toBe(id);
    expect((await call("PUT", `/api/v1/update/${path(flipped)}`, { json: { probe_cc: "IT" }, token })).status).toBe(403);
    expect((await call("GET", `/api/v1/admin/clients/${path(flipped)}`, { token: admin })).status).toBe(404);
  });

  it("needs the probe's own token: none is a 401, another probe's is a 403, and nothing changes", async () => {
    const none = await call("PUT", `/api/v1/update/${path(id)}`, { json: { probe_cc: "IT" } });
    expect(none.status).toBe(401);
    const other = await registerProbe({ probe_cc: "DE" });
    expect((await call("PUT", `/api/v1/update/${path(id)}`, { json: { probe_cc: "IT" }, token: other.token })).status).toBe(403);
    const unknown = ooniId();
    expect((await call("PUT", `/api/v1/update/${path(unknown)}`, { json: { probe_cc: "IT" } })).status).toBe(404);
    const row = await env.DB.prepare("SELECT probe_cc FROM probes WHERE id = ?").bind(id).first<any>();
    expect(row.probe_cc).toBe("BR");
  });

  it("operators read an adopted probe at GET /api/v1/admin/clients/:id, history included", async () => {
    const r = await call("GET", `/api/v1/admin/clients/${path(id)}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ client_id: id, probe_cc: "BR", probe_asn: "AS28573" });
    expect(r.body.updates.map((u: any) => u.update_type)).toEqual(["update", "register"]);
    expect(r.body.updates[1].snapshot.adopted).toBe(true);
  });

  it("ids with '/' and '+' (standard base64) work when the path encodes them", async () => {
    const std = ooniId(true);
    expect(std).toContain("/");
    const t = await adopt(std);
    expect((await call("PUT", `/api/v1/update/${path(std)}`, { json: { probe_cc: "MX" }, token: t })).status).toBe(200);
    const r = await call("GET", `/api/v1/admin/clients/${path(std)}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.client_id).toBe(std);
  });

  it("an adopted probe has a console page, and the probes list links to it", async () => {
    const b = await consoleLogin();
    const page = await get(b, `/console/probes/${path(id)}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(id);
    expect(page.body).toContain("AS28573");
    const list = await get(b, "/console/probes?country=BR");
    expect(list.body).toContain(`href="/console/probes/${path(id)}"`);
  });

  it("UUIDs still work in any case; garbage is still a 400 (console: 404) and changes nothing", async () => {
    const p = await registerProbe({ probe_cc: "GR" });
    const upper = p.clientId.toUpperCase();
    const r = await call("GET", `/api/v1/admin/clients/${upper}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.client_id).toBe(p.clientId);
    expect((await call("PUT", `/api/v1/update/${upper}`, { json: { probe_cc: "CY" }, token: p.token })).status).toBe(200);
    for (const bad of ["not-a-client-id", "a".repeat(64), "a".repeat(1025), `${"a".repeat(100)}$`, `${"a".repeat(100)} b`, "1234"]) {
      const u = await call("PUT", `/api/v1/update/${path(bad)}`, { json: { probe_cc: "IT" }, token });
      expect(u.status, bad).toBe(400);
      expect(u.body.code).toBe("validation_failed");
      expect((await call("GET", `/api/v1/admin/clients/${path(bad)}`, { token: admin })).status, bad).toBe(400);
    }
    const b = await consoleLogin();
    expect((await get(b, `/console/probes/${path("not-a-client-id")}`)).status).toBe(404);
    const row = await env.DB.prepare("SELECT probe_cc FROM probes WHERE id = ?").bind(id).first<any>();
    expect(row.probe_cc).toBe("BR");
  });

  it("the event filter takes an adopted id too", async () => {
    const r = await call("GET", `/api/v1/admin/events?probe_id=${path(id)}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.events.map((e: any) => e.type)).toContain("probe.adopted");
  });
});
