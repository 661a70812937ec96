// Mesh certificate authority end to end against `wrangler dev`: requests made by Go's crypto/x509 exactly as Ifrit's
// node makes them (test/mesh/clients/csr.go, P-521 and P-256) and by OpenSSL (`openssl req -new`, one RDN per L=),
// and what is issued checked with Go's x509.Verify and `openssl verify`.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { client, ROOT, SECRETS, startWorker } from "./harness.mjs";

const GO_CLIENT = path.join(ROOT, "test", "mesh", "clients", "csr.go");
// The development key of .dev.vars.example.
const MESH_CA_KEY =
  '{"kty":"EC","crv":"P-256","x":"tfPk2u2NVIpX8B2MXI0yqGdBGlSP6KRhZy7gzCvAnVo","y":"iAg_0IiUaPfyG_EL9HdGJjdcXlLJHk5iqyezoFp4Y-0","d":"mxYyJp3OpooaM7wQnXes0TVuWw5234Mpylxkk85bM3w"}';

const pem = (b64, label = "CERTIFICATE") => `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;

function goClient(args) {
  const r = spawnSync("go", ["run", GO_CLIENT, ...args], { encoding: "utf8", timeout: 120_000 });
  let out = null;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    // reported below
  }
  return { status: r.status, out, stderr: r.stderr, stdout: r.stdout };
}

describe("mesh CA with Ifrit's Go client and OpenSSL (wrangler dev)", () => {
  let w;
  let call;
  let token;
  let tmp;
  const caAddr = (group) => `127.0.0.1:${w.port}/mesh/${group}`;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "eo-mesh-ca-"));
    w = await startWorker({ vars: { MESH_CA_KEY } });
    call = client(w.url);
    token = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
    const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name: "e2e", num_rings: 5, boot_nodes: 2 }, token });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    assert.equal(g.body.ca_addr, caAddr("e2e"));
  });
  after(async () => {
    await w?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  let goMember;
  it("enrols Go's P-521 request unchanged; x509.Verify passes for client and server auth; the same request renews", () => {
    const r = goClient(["-ca", caAddr("e2e"), "-curve", "P521", "-rpc", "127.0.0.1:7000", "-ping", "127.0.0.1:7001", "-http", "127.0.0.1:7002", "-times", "2"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [first, second] = r.out.attempts;
    for (const a of [first, second]) {
      assert.equal(a.status, 200);
      assert.equal(a.verified, true, a.verifyError);
      assert.equal(a.sameKey, true);
      assert.equal(a.issuerIsCa, true);
      assert.equal(a.caIsCA, true);
      assert.equal(a.numRings, 5);
      assert.equal(a.caNumRings, 5);
      assert.equal(a.knownCertsNull, false);
      assert.equal(a.trusted, true);
      assert.deepEqual(a.locality, ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]);
      assert.deepEqual(a.ipAddresses, ["127.0.0.1"]);
      assert.equal(a.id.length, 64);
    }
    assert.equal(second.id, first.id, "a renewal keeps the member id");
    assert.notEqual(second.serial, first.serial);
    assert.deepEqual(second.knownIds, [first.id]);
    goMember = first;
  });

  let opensslMember;
  it("enrols an OpenSSL request with one RDN per L= value; openssl verify -CAfile passes for client and server use", async () => {
    const cnf = path.join(tmp, "req.cnf");
    writeFileSync(
      cnf,
      "[req]\nprompt = no\ndistinguished_name = dn\nreq_extensions = ext\n[dn]\n0.L = 127.0.0.1:7100\n1.L = 127.0.0.1:7101\nCN = openssl-member\n[ext]\nsubjectAltName = DNS:member.example.org\n",
    );
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path.join(tmp, "m.key")]);
    execFileSync("openssl", ["req", "-new", "-config", cnf, "-key", path.join(tmp, "m.key"), "-sha256", "-outform", "DER", "-out", path.join(tmp, "m.der")]);
    const r = await call("POST", "/mesh/e2e/certificateRequest", { raw: readFileSync(path.join(tmp, "m.der")), headers: { "content-type": "text" } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ["OwnCert", "KnownCerts", "CaCert", "Trusted"]);
    assert.equal(r.body.Trusted, true);
    assert.equal(r.body.KnownCerts.length, 2);
    writeFileSync(path.join(tmp, "ca.pem"), pem(r.body.CaCert));
    writeFileSync(path.join(tmp, "openssl-member.pem"), pem(r.body.OwnCert));
    for (const purpose of ["sslclient", "sslserver"]) {
      const v = spawnSync("openssl", ["verify", "-CAfile", path.join(tmp, "ca.pem"), "-purpose", purpose, path.join(tmp, "openssl-member.pem")], {
        encoding: "utf8",
      });
      assert.equal(v.status, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /: OK/);
    }
    const text = execFileSync("openssl", ["x509", "-in", path.join(tmp, "openssl-member.pem"), "-noout", "-text"], { encoding: "utf8" });
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /DNS:member\.example\.org, IP Address:127\.0\.0\.1/);
    assert.match(text, /2\.5\.13\.37:\s*\n\s*\.\.\.\./, "the ring extension is 4 raw bytes");
    opensslMember = r.body;
  });

  it("Go's x509.Verify accepts the OpenSSL member's certificate, and openssl verify the Go member's", () => {
    const g = goClient(["-verify", path.join(tmp, "openssl-member.pem"), "-cafile", path.join(tmp, "ca.pem")]);
    assert.equal(g.status, 0, g.stdout + g.stderr);
    assert.equal(g.out.verified, true);
    assert.equal(g.out.idBytes, 32);
    assert.equal(g.out.numRings, 5);
    assert.deepEqual(g.out.locality, ["127.0.0.1:7100", "127.0.0.1:7101"]);
    writeFileSync(path.join(tmp, "go-member.pem"), goMember.ownCertPem);
    const v = spawnSync("openssl", ["verify", "-CAfile", path.join(tmp, "ca.pem"), "-purpose", "sslclient", path.join(tmp, "go-member.pem")], {
      encoding: "utf8",
    });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });

  it("a third member (P-256 from Go) is not trusted and gets the two boot nodes' certificates", () => {
    const r = goClient(["-ca", caAddr("e2e"), "-curve", "P256", "-rpc", "127.0.0.1:7200", "-ping", "127.0.0.1:7201"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [a] = r.out.attempts;
    assert.equal(a.trusted, false);
    assert.equal(a.verified, true);
    assert.equal(a.knownCerts, 2);
    assert.equal(a.knownIds[0], goMember.id);
    assert.ok(!a.knownIds.includes(a.id));
    assert.equal(opensslMember.Trusted, true);
  });

  it("answers a bad request with a 400 JSON envelope, not Ifrit's empty 200", async () => {
    const r = await call("POST", "/mesh/e2e/certificateRequest", { raw: "not a csr", headers: { "content-type": "text" } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "bad_request");
    assert.ok(r.body.error.length > 0);
  });

  it("admits Ifrit into a closed group with the token in ca_addr, and refuses it without", async () => {
    const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name: "closed", closed: true }, token });
    assert.equal(g.status, 201);
    const refused = goClient(["-ca", caAddr("closed")]);
    assert.equal(refused.status, 1);
    assert.equal(refused.out.attempts[0].status, 401);
    const t = await call("POST", "/api/v1/admin/mesh/groups/closed/enrolment-tokens", { json: { uses: 1 }, token });
    assert.equal(t.status, 201);
    const ok = goClient(["-ca", t.body.ca_addr]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.equal(ok.out.attempts[0].verified, true);
    assert.equal(ok.out.attempts[0].numRings, 10);
  });

  it("stops handing out a revoked boot node in KnownCerts", async () => {
    const rv = await call("POST", `/api/v1/admin/mesh/groups/e2e/members/${goMember.id}/revoke`, { token });
    assert.equal(rv.status, 200);
    const again = await call("POST", "/mesh/e2e/certificateRequest", { raw: readFileSync(path.join(tmp, "m.der")), headers: { "content-type": "text" } });
    assert.equal(again.status, 200, "another member still renews");
    assert.equal(again.body.KnownCerts.length, 1, "the revoked boot node is no longer handed out");
  });
});
