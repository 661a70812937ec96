// What can carry an iOS push out of a Worker, measured inside workerd (`wrangler dev`) against the fake APNs, which like
// Apple speaks HTTP/2 only (TLS, ALPN h2). A probe Worker written to a temporary directory tries every way the runtime
// offers; the Worker trusts the fake's self-signed certificate through NODE_EXTRA_CA_CERTS, and the same request to a
// server that also allows HTTP/1.1 succeeds, so a failure below is about HTTP/2 and nothing else. The findings decide
// the routing in functions/push/config.ts (docs/push.md "Which path carries iOS"): if one of them starts to work,
// this test fails and the decision should be revisited.
// Then the service itself: APNs credentials without a gorush gateway are refused at start-up (cron logs misconfigured).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { makeApnsKey, startFakeApns } from "../../tools/fake-apns.mjs";
import { makeTlsCert } from "../../tools/fake-common.mjs";
import { eventually, freePort, ROOT, startWorker } from "./harness.mjs";

const PROBE_WORKER = `
import { connect } from "cloudflare:sockets";
export default {
  async fetch(req) {
    const u = new URL(req.url);
    const target = u.searchParams.get("target");
    if (!target) return Response.json({ up: true });
    const { hostname, port } = new URL(target);
    const out = {};
    try {
      switch (u.searchParams.get("way")) {
        case "fetch": {
          const r = await fetch(target + "/3/device/" + "ab".repeat(32), { method: "POST", body: "{}", signal: AbortSignal.timeout(3000) });
          out.status = r.status;
          break;
        }
        case "sockets": {
          // No ALPN option exists (SocketOptions: secureTransport, allowHalfOpen, highWaterMark): send the h2 preface anyway.
          const s = connect({ hostname, port: Number(port) }, { secureTransport: "on" });
          await s.opened;
          const w = s.writable.getWriter();
          await w.write(new TextEncoder().encode("PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n"));
          await w.write(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]));
          const r = s.readable.getReader();
          const got = await Promise.race([r.read(), new Promise((res) => setTimeout(() => res({ timeout: true }), 3000))]);
          out.read = got.timeout ? "nothing" : got.done ? "closed" : "frames";
          break;
        }
        case "node-tls": {
          const tls = await import("node:tls");
          tls.connect({ host: hostname, port: Number(port), ALPNProtocols: ["h2"] });
          out.connected = true;
          break;
        }
        case "node-http2": {
          const h2 = await import("node:http2");
          h2.connect(target);
          out.connected = true;
          break;
        }
      }
    } catch (e) {
      out.error = String(e && e.message);
    }
    return Response.json(out);
  },
};
`;

describe("inside workerd: what reaches an HTTP/2-only APNs", () => {
  let apns;
  let both;
  let dir;
  let child;
  let base;
  let logs = "";

  before(async () => {
    apns = await startFakeApns();
    const tls = makeTlsCert();
    // The control: the same kind of TLS server, but one that also speaks HTTP/1.1.
    both = http2.createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true }, (_req, res) => res.writeHead(200).end("{}"));
    await new Promise((r) => both.listen(0, "127.0.0.1", r));
    dir = mkdtempSync(path.join(os.tmpdir(), "eo-ios-paths-"));
    writeFileSync(path.join(dir, "worker.js"), PROBE_WORKER);
    writeFileSync(path.join(dir, "ca.pem"), `${apns.ca}\n${tls.cert}\n`);
    const port = await freePort();
    const inspector = await freePort();
    const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
    const args = ["dev", "worker.js", "--name", "ios-paths", "--compatibility-date", "2026-04-26", "--compatibility-flags", "nodejs_compat"];
    args.push("--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", path.join(dir, "state"));
    child = spawn(wrangler, args, {
      cwd: dir,
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem"),
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_LOG_PATH: path.join(dir, "wrangler.log"),
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout.on("data", (d) => (logs += d));
    child.stderr.on("data", (d) => (logs += d));
    base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${logs}`);
        return (await fetch(base).catch(() => null))?.ok;
      },
      "the probe Worker is up",
      60_000,
    );
  });
  after(async () => {
    if (child?.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await apns?.stop();
    await new Promise((r) => (both ? both.close(r) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const attempt = async (way, target = apns.url) => (await fetch(`${base}/?way=${way}&target=${encodeURIComponent(target)}`)).json();

  it("fetch() reaches a TLS server that allows HTTP/1.1 (so the certificate is trusted) but only hangs on the HTTP/2-only one", async () => {
    assert.deepEqual(await attempt("fetch", `https://127.0.0.1:${both.address().port}`), { status: 200 });
    const refusedBefore = apns.refusedHttp1;
    const r = await attempt("fetch");
    assert.match(r.error, /timed? ?out|aborted/i, JSON.stringify(r));
    assert.ok(apns.refusedHttp1 > refusedBefore, "the fake saw a client that did not negotiate h2");
    assert.equal(apns.received.length, 0);
  });

  it("cloudflare:sockets opens TLS without ALPN: the HTTP/2 preface gets no answer", async () => {
    assert.deepEqual(await attempt("sockets"), { read: "nothing" });
  });

  it("node:tls refuses ALPNProtocols and node:http2.connect is not implemented", async () => {
    assert.match((await attempt("node-tls")).error, /ALPNProtocols.*not implemented/);
    assert.match((await attempt("node-http2")).error, /connect.*not implemented/);
  });
});

describe("the service refuses direct APNs at start-up", () => {
  let w;
  after(() => w?.stop());

  it("APNS_* without GORUSH_URL: the cron logs misconfigured with the way out, and no campaign fires", async () => {
    const k = makeApnsKey();
    w = await startWorker({ vars: { APNS_KEY: k.key, APNS_KEY_ID: k.keyId, APNS_TEAM_ID: k.teamId, APNS_TOPIC: "org.openobservatory.ooniprobe" } });
    await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
    await eventually(
      () => /a Worker cannot deliver to APNs[^\n]*"cron":"settings"|"cron":"settings"[^\n]*a Worker cannot deliver to APNs/.test(w.logs),
      "the refusal in the cron's log",
      15_000,
    );
    assert.match(w.logs, /GORUSH_URL.*FCM_IOS=on/);
  });
});
