// The school server end to end against `wrangler dev`: a laptop registers over JSON and over XML-RPC with
// Python's xmlrpc.client (as Sugar does), sees its status and stamp, is admitted to back up, receives its lease
// through the TCP activation relay, verifies it with the published JWKS, and after being marked stolen the relay
// answers STOLEN. The act01 line is checked with OpenSSL (RSA-PSS, SHA-256, salt length 8).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { client, freePort, ROOT, SECRETS, startWorker } from "./harness.mjs";

/** The development lease keys, from the committed .dev.vars.example. */
function leaseKeys() {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  return Object.fromEntries([...text.matchAll(/^(LEASE_[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));
}

function sshDssBlob() {
  const name = Buffer.from("ssh-dss");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 37) % 256))]).toString("base64");
}

/** What the XO firmware does: connect, send the serial, read until the server closes. */
function tcpAsk(port, payload) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    sock.setEncoding("latin1");
    sock.on("connect", () => sock.write(payload));
    sock.on("data", (d) => {
      out += d;
    });
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
    sock.setTimeout(15_000, () => reject(new Error("relay did not answer")));
  });
}

describe("school server over real HTTP and TCP (wrangler dev)", () => {
  let w;
  let call;
  let relay;
  let relayPort;
  let tmp;
  const serial = "SHC005007B7";
  const uuid = "6e1f8d2a-1c7e-11ee-9f7b-0800200c9a66";
  const pubkey = sshDssBlob();

  before(async () => {
    w = await startWorker({ vars: leaseKeys() });
    call = client(w.url);
    relayPort = await freePort();
    relay = spawn(process.execPath, [path.join(ROOT, "tools", "activation-relay.mjs"), "--port", String(relayPort), "--host", "127.0.0.1", "--url", w.url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise((resolve, reject) => {
      relay.stdout.on("data", (d) => String(d).includes("listening") && resolve());
      relay.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), "eo-school-"));
  });
  after(async () => {
    relay?.kill("SIGTERM");
    await w?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("a laptop registers with Python's xmlrpc.client at / (as Sugar does); faults reach it as Fault, not ProtocolError", () => {
    const r = spawnSync("python3", [path.join(ROOT, "test", "school", "clients", "sugar_register.py"), w.url, serial, "Niño <&>", uuid, pubkey], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout);
    assert.equal(out.reply.success, "OK");
    assert.equal(out.reply.jabberserver, "schoolserver");
    assert.equal(out.reply.backupurl, `backup@schoolserver:${uuid}/`);
    assert.equal(typeof out.reply.stamp, "string");
    assert.equal(out.fault.faultCode, -32602);
  });

  it("registers over JSON, sees its status and stamp, and is admitted to back up", async () => {
    const reg = await call("POST", "/client/register", { json: { uuid, nickname: "ana", serial, pubkey: `ssh-dss ${pubkey}` } });
    assert.equal(reg.status, 200);
    assert.equal(reg.body.success, "OK");
    const st = await call("GET", `/client/status?uuid=${uuid}`);
    assert.deepEqual(st.body, { success: "OK", registered: true, stamp: reg.body.stamp, "jabber-url": "schoolserver", "backup-url": reg.body.backupurl });
    const admin = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    const bump = await call("POST", "/api/v1/admin/school/stamp", { token: admin.body.token });
    assert.notEqual(bump.body.stamp, reg.body.stamp);
    assert.equal((await call("GET", `/client/status?uuid=${uuid}`)).body.stamp, bump.body.stamp);
    const b = await call("GET", `/client/backup?uuid=${uuid}`);
    assert.deepEqual(b.body, { success: "OK", accepted: true });
    assert.equal((await call("GET", `/backup/uuid/available/${uuid}`)).status, 200);
  });

  it("receives its lease through the TCP relay and verifies it with the published JWKS; OpenSSL verifies the act01 line", async () => {
    const text = await tcpAsk(relayPort, `${serial}\n`);
    const lines = text.trimEnd().split("\n");
    const jws = lines.at(-1);
    const { keys } = (await call("GET", "/.well-known/jwks.json")).body;
    const header = decodeProtectedHeader(jws);
    const key = keys.find((k) => k.kid === header.kid && k.role === "server");
    assert.ok(key, "lease kid is published");
    const { payload } = await jwtVerify(jws, await importJWK(key, "ES256"), { algorithms: ["ES256"], typ: "olpc-lease+jwt" });
    assert.equal(payload.sn, serial);
    assert.equal(payload.uuid, uuid);

    const m = /^act01: (\S{11}) K (\d{8}T\d{6}Z) sig01: sha256 ([0-9a-f]{64}) ([0-9a-f]+)$/.exec(lines[0]);
    assert.ok(m, `act01 line: ${lines[0]}`);
    const rsa = JSON.parse(leaseKeys().LEASE_RSA_PRIVATE_KEY);
    const { createPublicKey } = await import("node:crypto");
    const pub = createPublicKey({ key: { kty: "RSA", n: rsa.n, e: rsa.e }, format: "jwk" });
    writeFileSync(path.join(tmp, "pub.pem"), pub.export({ type: "spki", format: "pem" }));
    writeFileSync(path.join(tmp, "data"), `${m[1]}:${uuid}:K:${m[2]}`);
    writeFileSync(path.join(tmp, "sig"), Buffer.from(m[4], "hex"));
    const verify = (saltlen, dataFile = "data") =>
      spawnSync(
        "openssl",
        [
          "dgst",
          "-sha256",
          "-sigopt",
          "rsa_padding_mode:pss",
          "-sigopt",
          `rsa_pss_saltlen:${saltlen}`,
          "-verify",
          path.join(tmp, "pub.pem"),
          "-signature",
          path.join(tmp, "sig"),
          path.join(tmp, dataFile),
        ],
        { encoding: "utf8" },
      );
    const ok = verify(8);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Verified OK/);
    // The salt length is part of the format: bios-crypto's verifier checks exactly 8.
    assert.notEqual(verify(32).status, 0);
    writeFileSync(path.join(tmp, "other"), `${m[1]}:00000000-0000-0000-0000-000000000001:K:${m[2]}`);
    assert.notEqual(verify(8, "other").status, 0);
    // The same check through `openssl pkeyutl` on the digest, as the decision record states it.
    writeFileSync(
      path.join(tmp, "digest"),
      (await import("node:crypto"))
        .createHash("sha256")
        .update(readFileSync(path.join(tmp, "data")))
        .digest(),
    );
    const pk = spawnSync(
      "openssl",
      [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        path.join(tmp, "pub.pem"),
        "-in",
        path.join(tmp, "digest"),
        "-sigfile",
        path.join(tmp, "sig"),
        "-pkeyopt",
        "digest:sha256",
        "-pkeyopt",
        "rsa_padding_mode:pss",
        "-pkeyopt",
        "rsa_pss_saltlen:8",
      ],
      { encoding: "utf8" },
    );
    assert.equal(pk.status, 0, pk.stdout + pk.stderr);
  });

  it("an unknown serial gets UNKNOWN through the relay; after the laptop is marked stolen the relay answers STOLEN", async () => {
    assert.equal(await tcpAsk(relayPort, "SHC99999999\n"), "UNKNOWN\n");
    assert.equal(await tcpAsk(relayPort, "SHC99999999"), "UNKNOWN\n"); // bare serial, no newline
    const admin = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    assert.equal((await call("POST", "/api/v1/admin/school/stolen", { json: { serial }, token: admin.body.token })).status, 200);
    assert.equal(await tcpAsk(relayPort, `${serial}\n`), "STOLEN\n");
    const list = await call("GET", "/api/v1/admin/school/machines", { token: admin.body.token });
    const row = list.body.results.find((r) => r.serial === serial);
    assert.equal(row.stolen, true);
    assert.ok(row.last_seen_at);
  });

  it("hostile XML over the wire never gets a 5xx", async () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>`;
    for (const body of [bomb, "", "<methodCall><methodName>register", `<methodCall>${"<value>".repeat(10_000)}`]) {
      const r = await call("POST", "/RPC2", { raw: body, headers: { "content-type": "text/xml" } });
      assert.ok(r.status < 500, `status ${r.status}`);
    }
  });
});
