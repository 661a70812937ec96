// The mesh end to end against `wrangler dev`: the CA and the group object together, with members that enrolled by
// three routes: a request made by OpenSSL (P-256, key from `openssl ecparam`, SEC1 PEM), one made and posted by Go's
// crypto/x509 exactly as Ifrit does (P-521, test/mesh/clients/csr.go writes its key with -key-out), and the member
// client's own (tools/mesh-member.mjs). All of them then run the member client over real WebSockets: they connect
// with a signed challenge, see each other, exchange messages and a stream, gossip reaches ring neighbours only, and
// a member that hangs (stops answering pings and accusations) is removed after removal_timeout.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { enrol, enrolRequest, MeshMember } from "../../tools/mesh-member.mjs";
import { client, eventually, ROOT, SECRETS, startWorker } from "./harness.mjs";

const GO_CLIENT = path.join(ROOT, "test", "mesh", "clients", "csr.go");
// The development key of .dev.vars.example.
const MESH_CA_KEY =
  '{"kty":"EC","crv":"P-256","x":"tfPk2u2NVIpX8B2MXI0yqGdBGlSP6KRhZy7gzCvAnVo","y":"iAg_0IiUaPfyG_EL9HdGJjdcXlLJHk5iqyezoFp4Y-0","d":"mxYyJp3OpooaM7wQnXes0TVuWw5234Mpylxkk85bM3w"}';
const REMOVAL_TIMEOUT_S = 3;
const VARS = {
  MESH_CA_KEY,
  MESH_GOSSIP_INTERVAL_S: "1",
  MESH_MONITOR_INTERVAL_S: "1",
  MESH_VIEW_UPDATE_INTERVAL_S: "1",
  MESH_PING_LIMIT: "2",
  MESH_PINGS_PER_INTERVAL: "1",
  MESH_PING_TIMEOUT_S: "1",
  MESH_REMOVAL_TIMEOUT_S: String(REMOVAL_TIMEOUT_S),
  MESH_MESSAGE_TIMEOUT_S: "3",
};
const GROUP = "mesh-e2e";

const pem = (b64, label = "CERTIFICATE") => `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
const unpem = (text) => text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => (b ? Buffer.from(b).toString() : null);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Ring order on ring r: sort by SHA-256(id bytes ‖ decimal r) (docs/mesh.md, functions/mesh/ring.ts). */
function ringOrder(ids, ring) {
  const pos = (id) =>
    createHash("sha256")
      .update(Buffer.concat([Buffer.from(id, "hex"), Buffer.from(String(ring))]))
      .digest();
  return [...ids].sort((a, b) => Buffer.compare(pos(a), pos(b)));
}

describe("mesh end to end: OpenSSL, Go and member-client members in one group (wrangler dev)", () => {
  let w;
  let call;
  let token;
  let tmp;
  const members = {}; // name → MeshMember
  const heard = {}; // name → [{from, data}] gossip received
  const frames = {}; // name → frames received, with arrival time

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "eo-mesh-"));
    w = await startWorker({ vars: VARS });
    call = client(w.url);
    token = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
    // One ring, so that each member's ring neighbours are fixed (with four members, one of the others is not one).
    const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name: GROUP, num_rings: 1 }, token });
    assert.equal(g.status, 201, JSON.stringify(g.body));
  });
  after(async () => {
    for (const m of Object.values(members)) m.close();
    await w?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("enrols a member from an OpenSSL request, one from Go's (P-521, posted by Go as Ifrit does) and two from the member client", async () => {
    // OpenSSL: a P-256 key (SEC1 PEM) and a request with one RDN per L= value.
    const cnf = path.join(tmp, "req.cnf");
    writeFileSync(cnf, "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\n0.L = 127.0.0.1:7100\n1.L = 127.0.0.1:7101\nCN = openssl-member\n");
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path.join(tmp, "openssl.key")]);
    execFileSync("openssl", [
      "req",
      "-new",
      "-config",
      cnf,
      "-key",
      path.join(tmp, "openssl.key"),
      "-sha256",
      "-outform",
      "DER",
      "-out",
      path.join(tmp, "openssl.der"),
    ]);
    const osslId = await enrolRequest({
      baseUrl: w.url,
      group: GROUP,
      der: readFileSync(path.join(tmp, "openssl.der")),
      keyPem: readFileSync(path.join(tmp, "openssl.key"), "utf8"),
    });
    assert.equal(osslId.namedCurve, "P-256");

    // Go: Ifrit's request (P-521, Locality in one RDN) posted by Go itself; it writes its key for the member client.
    const goKey = path.join(tmp, "go.key");
    const r = spawnSync(
      "go",
      ["run", GO_CLIENT, "-ca", `127.0.0.1:${w.port}/mesh/${GROUP}`, "-curve", "P521", "-rpc", "127.0.0.1:7200", "-ping", "127.0.0.1:7201", "-key-out", goKey],
      {
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const goAttempt = JSON.parse(r.stdout).attempts[0];
    assert.equal(goAttempt.verified, true, goAttempt.verifyError);
    assert.match(readFileSync(goKey, "utf8"), /BEGIN EC PRIVATE KEY/);

    const clientA = await enrol({ baseUrl: w.url, group: GROUP, rpc: "127.0.0.1:7300", ping: "127.0.0.1:7301", curve: "P-256" });
    const clientB = await enrol({ baseUrl: w.url, group: GROUP, rpc: "127.0.0.1:7400", ping: "127.0.0.1:7401", http: "127.0.0.1:7402", curve: "P-521" });

    members.openssl = new MeshMember(osslId);
    members.go = await MeshMember.fromPem({ baseUrl: w.url, group: GROUP, cert: unpem(goAttempt.ownCertPem), keyPem: readFileSync(goKey, "utf8") });
    assert.equal(members.go.id, goAttempt.id);
    assert.equal(members.go.curve, "P-521");
    members.a = new MeshMember(clientA);
    members.b = new MeshMember(clientB);
    assert.equal(new Set(Object.values(members).map((m) => m.id)).size, 4);

    // Every certificate verifies against CaCert with `openssl verify` (client and server use) and Go's x509.Verify.
    writeFileSync(path.join(tmp, "ca.pem"), pem(clientB.caCert));
    for (const [name, m] of Object.entries(members)) {
      const file = path.join(tmp, `${name}.pem`);
      writeFileSync(file, pem(m.identity.cert));
      for (const purpose of ["sslclient", "sslserver"]) {
        const v = spawnSync("openssl", ["verify", "-CAfile", path.join(tmp, "ca.pem"), "-purpose", purpose, file], { encoding: "utf8" });
        assert.equal(v.status, 0, `${name}: ${v.stdout}${v.stderr}`);
      }
      const g = spawnSync("go", ["run", GO_CLIENT, "-verify", file, "-cafile", path.join(tmp, "ca.pem")], { encoding: "utf8", timeout: 120_000 });
      assert.equal(g.status, 0, `${name}: ${g.stdout}${g.stderr}`);
      const out = JSON.parse(g.stdout);
      assert.equal(out.verified, true);
      assert.equal(out.idBytes, 32);
      assert.equal(out.numRings, 1);
    }
  });

  it("connects all four with signed challenges; each sees the others in GET /mesh/:group/members and in its own view", async () => {
    for (const [name, m] of Object.entries(members)) {
      heard[name] = [];
      frames[name] = [];
      m.events.addEventListener("frame", (e) => frames[name].push({ at: Date.now(), ...e.frame }));
      m.onMessage((bytes, from) => enc(`${name} got "${dec(bytes)}" from ${from}`));
      m.onGossip((bytes, from) => {
        heard[name].push({ from, data: dec(bytes) });
        return enc(`${name} heard ${dec(bytes)}`);
      });
      m.onStream((s) => s.addEventListener("data", (e) => s.send(enc(`${name}: ${dec(e.data)}`))));
      const welcome = await m.connect();
      assert.equal(welcome.numRings, 1);
      assert.equal(welcome.config.removal_timeout, REMOVAL_TIMEOUT_S);
    }
    const ids = Object.values(members)
      .map((m) => m.id)
      .sort();
    const live = await eventually(async () => {
      const r = await call("GET", `/mesh/${GROUP}/members`, { token });
      return r.status === 200 && r.body.members.length === 4 && r.body;
    }, "four live members");
    assert.deepEqual(
      live.members.map((m) => m.id),
      ids,
    );
    assert.equal(live.members.find((m) => m.id === members.b.id).httpAddr, "127.0.0.1:7402");
    // A member's signed request reads the same view.
    const signed = await members.go.liveView();
    assert.equal(signed.status, 200);
    assert.deepEqual(
      signed.body.members.map((m) => m.id),
      ids,
    );
    // And every member's own view (state frames) has the other three live.
    await eventually(() => Object.values(members).every((m) => m.members().length === 3), "every member's view holds the other three");
  });

  it("relays a message and its reply (SendToId, SendTo by address, and POST .../messages)", async () => {
    const r = await members.go.sendToId(members.openssl.id, enc("hello"));
    assert.equal(dec(r.data), `openssl got "hello" from ${members.go.id}`);
    assert.equal(r.error, null);
    const byAddr = await members.openssl.sendTo("127.0.0.1:7200", enc("by address"));
    assert.equal(dec(byAddr.data), `go got "by address" from ${members.openssl.id}`);
    const http = await members.a.request("POST", `/mesh/${GROUP}/members/${members.b.id}/messages`, { data: Buffer.from("over http").toString("base64") });
    assert.equal(http.status, 200, JSON.stringify(http.body));
    assert.equal(Buffer.from(http.body.data, "base64").toString(), `b got "over http" from ${members.a.id}`);
    await assert.rejects(members.a.sendToId("00".repeat(32), enc("x")), /no member/);
  });

  it("carries a bidirectional stream between two members over their WebSockets", async () => {
    const s = members.a.openStream(members.go.id);
    const got = [];
    s.addEventListener("data", (e) => got.push(dec(e.data)));
    s.send(enc("one"));
    s.send(enc("two"));
    await eventually(() => got.length === 2, "two echoes");
    assert.deepEqual(got, ["go: one", "go: two"]);
    s.close();
  });

  it("delivers gossip set by a member to its ring neighbours only, and their replies come back", async () => {
    const ids = Object.fromEntries(Object.entries(members).map(([n, m]) => [m.id, n]));
    const order = ringOrder(Object.keys(ids), 1);
    const me = members.a.id;
    const i = order.indexOf(me);
    const neighbours = new Set([order[(i + 1) % 4], order[(i + 3) % 4]].map((id) => ids[id]));
    const stranger = Object.keys(members).find((n) => n !== "a" && !neighbours.has(n));
    assert.equal(neighbours.size, 2);
    const responses = [];
    members.a.onResponse((bytes, from, error) => responses.push({ from: ids[from], data: dec(bytes), error }));
    members.a.setGossipContent(enc("rumour"));
    await eventually(
      () => [...neighbours].every((n) => heard[n].some((h) => h.from === me && h.data === "rumour")) && responses.length >= 2,
      "both neighbours heard the rumour and answered",
    );
    await sleep(2500); // two more gossip rounds
    assert.deepEqual(
      heard[stranger].filter((h) => h.from === me),
      [],
      `${stranger} is not a ring neighbour of a`,
    );
    assert.deepEqual(new Set(responses.map((r) => r.from)), neighbours);
    for (const r of responses) assert.equal(r.data, `${r.from} heard rumour`);
    members.a.setGossipContent(null);
  });

  it("removes a member that stops answering pings after removal_timeout; its certificate stays in the full view", async () => {
    const quiet = members.b;
    quiet.responsive = false; // hangs: no pongs, no rebuttal
    const accused = await eventually(() => frames.b.find((f) => f.type === "accused"), "an accusation against b", 20_000);
    const monitor = Object.entries(frames).find(([, fs]) => fs.some((f) => f.type === "suspect" && f.accused === quiet.id));
    assert.ok(monitor, "some member was asked to accuse b");
    assert.equal(accused.accusation.accuser, members[monitor[0]].id);
    const removedAt = await eventually(
      async () => {
        const r = await call("GET", `/mesh/${GROUP}/members`, { token });
        return r.body.members.length === 3 && !r.body.members.some((m) => m.id === quiet.id) && Date.now();
      },
      "b removed from the live view",
      20_000,
    );
    assert.ok(removedAt - accused.at >= REMOVAL_TIMEOUT_S * 1000 - 250, `removed ${removedAt - accused.at} ms after the accusation`);
    // Another member learns it: b is no longer live, but its certificate is still known.
    await eventually(() => members.go.view.get(quiet.id)?.live === false, "go's view has b not live");
    assert.ok(members.go.view.get(quiet.id).spkiDer);
    assert.ok(!members.go.members().includes("127.0.0.1:7400"));
  });
});
