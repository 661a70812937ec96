import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toPem } from "../../functions/mesh/ca/bytes";
import { importCaKey } from "../../functions/mesh/ca/key";
import { x509 } from "../../functions/mesh/ca/x509";
import { createGroup, enrol, notifyGroup, notifyGroupRevoked } from "../../functions/mesh/ca-store";
import type { MeshMemberRecord } from "../../functions/mesh/member-record";
import { meshSettings } from "../../functions/mesh/settings";
import { dbFrom } from "../../functions/lib/db";
import { ApiError } from "../../functions/lib/errors";
import { cert, groupName, makeCsr, memberIdOf } from "./ca-helpers";

const db = dbFrom(env.DB);
const NOW = new Date("2026-05-01T10:00:00Z");

async function otherCaKey() {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return importCaKey(toPem(new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer), "PRIVATE KEY"));
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return "ok";
}

describe("enrol", () => {
  it("gives the group object a record of the member: hex id, DER in base64, key, curve, addresses, expiry, trust", async () => {
    const caKey = await meshSettings(env).caKey();
    const name = groupName("rec");
    await createGroup(db, caKey, { name, numRings: 4, bootNodes: 1, closed: false, by: "test", now: NOW });
    const m = await makeCsr(["10.3.0.1:7000", "10.3.0.1:7001", "10.3.0.1:7002"], { curve: "P-384" });
    const { record, answer, renewed } = await enrol(db, { group: name, body: m.der, token: null, caKey, ttlS: 3600, now: NOW });
    expect(renewed).toBe(false);
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", m.keys.publicKey)) as ArrayBuffer);
    expect(record).toEqual<MeshMemberRecord>({
      id: memberIdOf(answer.OwnCert),
      certDer: answer.OwnCert,
      spkiDer: btoa(String.fromCharCode(...spki)),
      namedCurve: "P-384",
      rpcAddr: "10.3.0.1:7000",
      pingAddr: "10.3.0.1:7001",
      httpAddr: "10.3.0.1:7002",
      notAfter: "2026-05-01T11:00:00Z",
      serial: cert(answer.OwnCert).serialNumber,
      trusted: true,
    });
  });

  it("refuses to renew an expired certificate (the member must enrol a new key) and renews one a second before expiry", async () => {
    const caKey = await meshSettings(env).caKey();
    const name = groupName("exp");
    await createGroup(db, caKey, { name, numRings: 10, bootNodes: 10, closed: false, by: "test", now: NOW });
    const m = await makeCsr();
    await enrol(db, { group: name, body: m.der, token: null, caKey, ttlS: 600, now: NOW });
    const justBefore = new Date(NOW.getTime() + 599_000);
    expect((await enrol(db, { group: name, body: m.der, token: null, caKey, ttlS: 600, now: justBefore })).renewed).toBe(true);
    const after = new Date(justBefore.getTime() + 600_000);
    expect(await code(enrol(db, { group: name, body: m.der, token: null, caKey, ttlS: 600, now: after }))).toBe("conflict");
  });

  it("re-issues the group's CA certificate when MESH_CA_KEY changes, and signs with the new key", async () => {
    const caKey = await meshSettings(env).caKey();
    const name = groupName("rot");
    const g = await createGroup(db, caKey, { name, numRings: 10, bootNodes: 10, closed: false, by: "test", now: NOW });
    const next = await otherCaKey();
    const { answer } = await enrol(db, { group: name, body: (await makeCsr()).der, token: null, caKey: next, ttlS: 600, now: NOW });
    expect(answer.CaCert).not.toBe(g.caCertDer);
    expect(await cert(answer.OwnCert).verify({ publicKey: cert(answer.CaCert).publicKey, date: NOW })).toBe(true);
    expect(new Uint8Array(cert(answer.CaCert).publicKey.rawData)).toEqual(next.spkiDer);
    const row = await env.DB.prepare("SELECT ca_cert_der FROM mesh_groups WHERE name = ?").bind(name).first<{ ca_cert_der: string }>();
    expect(row!.ca_cert_der).toBe(answer.CaCert);
    expect(cert(answer.CaCert).getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
  });
});

describe("notifyGroup", () => {
  it("is a no-op without the MESH_GROUP binding", async () => {
    const bare = { ...env, MESH_GROUP: undefined } as unknown as Env;
    await expect(notifyGroup(bare, "g", {} as MeshMemberRecord)).resolves.toBeUndefined();
    await expect(notifyGroupRevoked(bare, "g", "x")).resolves.toBeUndefined();
  });

  it("calls admit and revoke on the group's object, addressed by the group name", async () => {
    const calls: unknown[] = [];
    const ns = {
      idFromName: (n: string) => ({ name: n }),
      get: (id: { name: string }) => ({
        admit: async (m: MeshMemberRecord) => calls.push(["admit", id.name, m.id]),
        revoke: async (i: string) => calls.push(["revoke", id.name, i]),
      }),
    };
    const fake = { ...env, MESH_GROUP: ns } as unknown as Env;
    await notifyGroup(fake, "alpha", { id: "aa" } as MeshMemberRecord);
    await notifyGroupRevoked(fake, "alpha", "aa");
    expect(calls).toEqual([
      ["admit", "alpha", "aa"],
      ["revoke", "alpha", "aa"],
    ]);
  });
});

describe("meshSettings", () => {
  it("defaults to a 24 h certificate, 10 boot nodes and 10 rings", () => {
    const s = meshSettings({ ...env, MESH_CERT_TTL_S: "", BOOT_NODES: "", NUM_RINGS: "" } as Env);
    expect([s.certTtlS, s.bootNodes, s.numRings]).toEqual([86_400, 10, 10]);
  });

  it("throws misconfigured for a value out of range or not a number, and for a missing or bad CA key", async () => {
    for (const over of [{ MESH_CERT_TTL_S: "10" }, { BOOT_NODES: "0" }, { NUM_RINGS: "ten" }]) {
      expect(() => meshSettings({ ...env, ...over } as Env), JSON.stringify(over)).toThrow(/must be an integer/);
    }
    expect(await code(meshSettings({ ...env, MESH_CA_KEY: undefined } as Env).caKey())).toBe("misconfigured");
    expect(await code(meshSettings({ ...env, MESH_CA_KEY: "x".repeat(64) } as Env).caKey())).toBe("misconfigured");
  });
});

describe("when the group object fails", () => {
  it("answers 503 unavailable, and the same request afterwards renews and admits the member", async () => {
    const { createApp } = await import("../../functions/app");
    const app = createApp();
    const caKey = await meshSettings(env).caKey();
    const name = groupName("down");
    await createGroup(db, caKey, { name, numRings: 10, bootNodes: 10, closed: false, by: "test", now: new Date() });
    let up = false;
    const admitted: string[] = [];
    const ns = {
      idFromName: (n: string) => n,
      get: () => ({
        admit: async (m: MeshMemberRecord) => {
          if (!up) throw new Error("object overloaded");
          admitted.push(m.id);
        },
        revoke: async () => {},
      }),
    };
    const withGroup = { ...env, MESH_GROUP: ns } as unknown as Env;
    const m = await makeCsr();
    const post = () => app.request(`/mesh/${name}/certificateRequest`, { method: "POST", body: m.der, headers: { "content-type": "text" } }, withGroup);
    const down = await post();
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: "unavailable" });
    up = true;
    const again = await post();
    expect(again.status).toBe(200);
    const body = (await again.json()) as { OwnCert: string };
    expect(admitted).toEqual([memberIdOf(body.OwnCert)]);
  });
});
