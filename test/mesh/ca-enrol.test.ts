import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../../functions/mesh/ca/bytes";
import { RING_OID } from "../../functions/mesh/ca/ring";
import { x509 } from "../../functions/mesh/ca/x509";
import { call } from "../helpers";
import { cert, createGroup, eventsOfType, makeCsr, memberIdOf, postCsr } from "./ca-helpers";
import * as csrs from "./fixtures/csrs";

const memberCount = async (group: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM mesh_members WHERE group_name = ?").bind(group).first<{ n: number }>())!.n;

describe("POST /mesh/:group/certificateRequest", () => {
  it("enrols Ifrit's Go P-521 request sent as Content-Type text, answering exactly OwnCert, KnownCerts, CaCert, Trusted", async () => {
    const { name } = await createGroup({ num_rings: 7 });
    const r = await postCsr(name, fromBase64(csrs.goP521));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/application\/json/);
    expect(Object.keys(r.body)).toEqual(["OwnCert", "KnownCerts", "CaCert", "Trusted"]);
    expect(r.body.Trusted).toBe(true);
    expect(r.body.KnownCerts).toEqual([r.body.OwnCert]);
    // Standard base64 with padding, as Go's encoding/json writes []byte.
    expect(r.body.CaCert).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(toBase64(fromBase64(r.body.OwnCert))).toBe(r.body.OwnCert);

    const own = cert(r.body.OwnCert);
    const ca = cert(r.body.CaCert);
    expect(await own.verify({ publicKey: ca.publicKey })).toBe(true);
    expect(own.issuer).toBe(ca.subject);
    expect([...new Uint8Array(own.getExtension(RING_OID)!.value)]).toEqual([7, 0, 0, 0]);
    expect([...new Uint8Array(ca.getExtension(RING_OID)!.value)]).toEqual([7, 0, 0, 0]);
    expect(memberIdOf(r.body.OwnCert)).toMatch(/^[0-9a-f]{64}$/);
    expect((own.publicKey.algorithm as { namedCurve?: string }).namedCurve).toBe("P-521");
    expect(own.notAfter.getTime() - Date.now()).toBeGreaterThan(86_400_000 - 120_000);
    expect(own.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  it("accepts OpenSSL's requests as DER with application/pkcs10 and as PEM", async () => {
    const { name } = await createGroup();
    const der = await postCsr(name, fromBase64(csrs.opensslP521), { "content-type": "application/pkcs10" });
    expect(der.status).toBe(200);
    expect(
      cert(der.body.OwnCert)
        .subjectName.toJSON()
        .flatMap((rdn) => rdn.L ?? []),
    ).toEqual(["127.0.0.1:7100", "127.0.0.1:7101", "127.0.0.1:7102"]);
    const pem = await postCsr(name, csrs.opensslP256Pem, { "content-type": "application/x-pem-file" });
    expect(pem.status).toBe(200);
    expect(memberIdOf(pem.body.OwnCert)).not.toBe(memberIdOf(der.body.OwnCert));
  });

  it("makes the first boot_nodes members trusted and hands their certificates to everyone, stable afterwards", async () => {
    const { name } = await createGroup({ boot_nodes: 2 });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await postCsr(name, (await makeCsr([`10.1.0.${i + 1}:7000`, `10.1.0.${i + 1}:7001`])).der)).body);
    expect(answers.map((a) => a.Trusted)).toEqual([true, true, false, false]);
    expect(answers.map((a) => a.KnownCerts.length)).toEqual([1, 2, 2, 2]);
    const bootIds = [memberIdOf(answers[0].OwnCert), memberIdOf(answers[1].OwnCert)];
    for (const a of answers.slice(1)) expect(a.KnownCerts.map(memberIdOf)).toEqual(bootIds);
    expect(new Set(answers.map((a) => memberIdOf(a.OwnCert))).size).toBe(4);
    expect(new Set(answers.map((a) => a.CaCert)).size).toBe(1);
  });

  it("answers KnownCerts as an empty array, never null, when no boot node has a current certificate", async () => {
    const { name, token } = await createGroup({ boot_nodes: 1 });
    const first = await postCsr(name, (await makeCsr()).der);
    await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${memberIdOf(first.body.OwnCert)}/revoke`, { token });
    const second = await postCsr(name, (await makeCsr(["127.0.0.2:7000", "127.0.0.2:7001"])).der);
    expect(second.status).toBe(200);
    expect(second.body.KnownCerts).toEqual([]);
    expect(second.body.Trusted).toBe(false);
  });

  it("renews a member that re-submits a request for the same key: same id, new certificate, same trust", async () => {
    const { name } = await createGroup({ boot_nodes: 1 });
    const member = await makeCsr(["10.2.0.1:7000", "10.2.0.1:7001"]);
    const first = await postCsr(name, member.der);
    // A new request (moved addresses) signed by the same key.
    const again = await makeCsr(["10.2.0.9:7000", "10.2.0.9:7001", "10.2.0.9:7002"], { keys: member.keys });
    const renewed = await postCsr(name, again.der);
    expect(renewed.status).toBe(200);
    expect(memberIdOf(renewed.body.OwnCert)).toBe(memberIdOf(first.body.OwnCert));
    expect(cert(renewed.body.OwnCert).serialNumber).not.toBe(cert(first.body.OwnCert).serialNumber);
    expect(renewed.body.Trusted).toBe(true);
    // KnownCerts carries the boot node's newest certificate.
    expect(renewed.body.KnownCerts).toEqual([renewed.body.OwnCert]);
    expect(await memberCount(name)).toBe(1);
    const m = await env.DB.prepare("SELECT rpc_addr, http_addr FROM mesh_members WHERE group_name = ?").bind(name).first();
    expect(m).toEqual({ rpc_addr: "10.2.0.9:7000", http_addr: "10.2.0.9:7002" });
    const events = (await eventsOfType("mesh.certificate.renewed")).filter((e) => e.data.group === name);
    expect(events).toHaveLength(1);
    expect(events[0].subject).toEqual({ kind: "mesh_member", id: memberIdOf(first.body.OwnCert) });
    expect(events[0].actor).toBe(`member:${memberIdOf(first.body.OwnCert)}`);
  });

  it("records an issued event per new member", async () => {
    const { name } = await createGroup();
    const r = await postCsr(name, (await makeCsr()).der);
    const events = (await eventsOfType("mesh.certificate.issued")).filter((e) => e.data.group === name);
    expect(events).toHaveLength(1);
    expect(events[0].subject).toEqual({ kind: "mesh_member", id: memberIdOf(r.body.OwnCert) });
    expect(events[0].data).toMatchObject({ group: name, serial: cert(r.body.OwnCert).serialNumber });
  });

  it("admits one member when the same new key is sent twice at once; the other request renews or is told to retry", async () => {
    const { name } = await createGroup();
    const m = await makeCsr();
    const replies = await Promise.all([postCsr(name, m.der), postCsr(name, m.der), postCsr(name, m.der)]);
    for (const r of replies) expect([200, 409]).toContain(r.status);
    const ok = replies.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((r) => memberIdOf(r.body.OwnCert))).size).toBe(1);
    expect(await memberCount(name)).toBe(1);
  });

  it("answers 404 for a group that does not exist", async () => {
    const r = await postCsr("no-such-group", fromBase64(csrs.goP256));
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("not_found");
  });

  describe("bad requests get a 400 envelope and change nothing", () => {
    const cases: [string, () => Promise<Uint8Array | string>, RegExp][] = [
      ["an empty body", async () => new Uint8Array(), /empty body/],
      ["text that is not a request", async () => "hello ifrit", /neither/],
      ["DER that is not a request", async () => new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), /not a PKCS#10/],
      [
        "a broken signature",
        async () => {
          const b = fromBase64(csrs.goP256);
          b[b.length - 3] ^= 1;
          return b;
        },
        /signature/,
      ],
      ["one Locality only", async () => fromBase64(csrs.opensslOneLocality), /at least two Locality/],
      ["no Locality at all", async () => (await makeCsr([])).der, /at least two Locality/],
      ["a host name as rpc host", async () => fromBase64(csrs.opensslRpcHostname), /must be an IP/],
      ["a port out of range", async () => fromBase64(csrs.opensslBadPort), /port/],
      ["a bad ping address", async () => (await makeCsr(["127.0.0.1:7000", "no port here"])).der, /host:port/],
      ["an RSA key", async () => fromBase64(csrs.opensslRsa), /ECDSA/],
    ];
    for (const [what, body, message] of cases) {
      it(`refuses ${what}`, async () => {
        const { name } = await createGroup();
        const r = await postCsr(name, await body());
        expect(r.status).toBe(400);
        expect(r.body).toMatchObject({ code: "bad_request" });
        expect(r.body.error).toMatch(message);
        expect(r.body.details[0].path).toBe("(body)");
        expect(r.body.details[0].message).toMatch(/^(not_der|not_a_csr|bad_signature|unsupported_key|missing_localities|bad_address)$/);
        expect(await memberCount(name)).toBe(0);
      });
    }

    it("refuses a JSON body with 415", async () => {
      const { name } = await createGroup();
      const r = await call("POST", `/mesh/${name}/certificateRequest`, { json: { csr: "x" } });
      expect(r.status).toBe(415);
      expect(r.body.code).toBe("unsupported_media_type");
    });

    it("refuses a group name that cannot exist with 400", async () => {
      const r = await postCsr("Bad_Name", fromBase64(csrs.goP256));
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("validation_failed");
    });
  });
});

describe("closed groups", () => {
  it("admit a new key only with an enrolment token, by header or in the path, up to its uses; renewals need none", async () => {
    const { name, token } = await createGroup({ closed: true });
    const m1 = await makeCsr();
    const none = await postCsr(name, m1.der);
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("unauthorized");

    const t = await call("POST", `/api/v1/admin/mesh/groups/${name}/enrolment-tokens`, { json: { uses: 2 }, token });
    expect(t.status).toBe(201);
    expect(t.body.ca_addr).toBe(`probes.example.org/mesh/${name}/enrol/${t.body.token}`);

    expect((await postCsr(name, m1.der, { "content-type": "text", "mesh-enrolment-token": "x".repeat(43) })).status).toBe(401);
    expect((await postCsr(name, m1.der, { "content-type": "text", "mesh-enrolment-token": t.body.token })).status).toBe(200);
    const byPath = await call("POST", `/mesh/${name}/enrol/${t.body.token}/certificateRequest`, {
      raw: (await makeCsr()).der,
      headers: { "content-type": "text" },
    });
    expect(byPath.status).toBe(200);
    const usedUp = await postCsr(name, (await makeCsr()).der, { "content-type": "text", "mesh-enrolment-token": t.body.token });
    expect(usedUp.status).toBe(401);
    // The first member renews without a token.
    expect((await postCsr(name, m1.der)).status).toBe(200);
    expect(await memberCount(name)).toBe(2);
  });

  it("do not take another group's token", async () => {
    const a = await createGroup({ closed: true });
    const b = await createGroup({ closed: true });
    const t = await call("POST", `/api/v1/admin/mesh/groups/${a.name}/enrolment-tokens`, { json: {}, token: a.token });
    const r = await postCsr(b.name, (await makeCsr()).der, { "content-type": "text", "mesh-enrolment-token": t.body.token });
    expect(r.status).toBe(401);
  });
});

describe("revocation", () => {
  it("refuses renewal to a revoked member and drops it from KnownCerts", async () => {
    const { name, token } = await createGroup({ boot_nodes: 3 });
    const m1 = await makeCsr();
    const first = await postCsr(name, m1.der);
    const id = memberIdOf(first.body.OwnCert);
    const rv = await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/revoke`, { token });
    expect(rv.status).toBe(200);
    expect(rv.body).toEqual({ id, group: name, status: "revoked" });
    const again = await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/revoke`, { token });
    expect(again.body.status).toBe("already_revoked");

    const renew = await postCsr(name, m1.der);
    expect(renew.status).toBe(403);
    expect(renew.body.code).toBe("forbidden");
    const other = await postCsr(name, (await makeCsr()).der);
    expect(other.body.KnownCerts.map(memberIdOf)).not.toContain(id);
    const rows = await env.DB.prepare("SELECT revoked FROM mesh_certificates WHERE member_id = ?").bind(id).all();
    expect(rows.results).toEqual([{ revoked: 1 }]);
    const revoked = (await eventsOfType("mesh.certificate.revoked")).filter((e) => e.subject.id === id);
    expect(revoked).toHaveLength(1);
    expect(revoked[0].subject.kind).toBe("mesh_member");
    expect(revoked[0].actor).toBe("operator:admin");
  });

  it("answers 404 for an unknown member", async () => {
    const { name, token } = await createGroup();
    const r = await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${"ab".repeat(32)}/revoke`, { token });
    expect(r.status).toBe(404);
  });
});

describe("the CA certificate", () => {
  it("is a P-256 CA per group, distinct names per group, and each group's members chain only to their own", async () => {
    const a = await createGroup();
    const b = await createGroup();
    const ra = await postCsr(a.name, (await makeCsr()).der);
    const rb = await postCsr(b.name, (await makeCsr()).der);
    const caA = cert(ra.body.CaCert);
    const caB = cert(rb.body.CaCert);
    expect((caA.publicKey.algorithm as { namedCurve?: string }).namedCurve).toBe("P-256");
    expect(caA.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(caA.subject).not.toBe(caB.subject);
    const chainB = new x509.X509ChainBuilder({ certificates: [caA] });
    expect(await chainB.build(cert(rb.body.OwnCert))).toHaveLength(1);
    expect(await new x509.X509ChainBuilder({ certificates: [caA] }).build(cert(ra.body.OwnCert))).toHaveLength(2);
  });
});
