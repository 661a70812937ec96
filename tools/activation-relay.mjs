#!/usr/bin/env node
// Activation relay: XO boot firmware speaks raw TCP to port 191 (OLPC xs-activation). A Worker cannot listen on
// TCP, so this small server, run on the school network, reads the serial a laptop sends, forwards it to the
// service's POST /activation and writes the answer (STOLEN, the lease, or UNKNOWN) back before closing.
//   node tools/activation-relay.mjs --port 191 --url https://school.example.org
// Port 191 needs root or CAP_NET_BIND_SERVICE. See docs/school.md.
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "191" },
    host: { type: "string", default: "0.0.0.0" },
    url: { type: "string" },
    "timeout-ms": { type: "string", default: "10000" },
  },
});
if (!values.url) {
  console.error("usage: node tools/activation-relay.mjs --port <tcp port> --url <service base URL> [--host 0.0.0.0] [--timeout-ms 10000]");
  process.exit(2);
}
const target = new URL("/activation", values.url);
const timeoutMs = Number(values["timeout-ms"]);
// A serial line is 11 characters; anything this long without a newline is not a laptop.
const MAX_REQUEST = 256;

const log = (message, fields = {}) => console.log(JSON.stringify({ at: new Date().toISOString(), message, ...fields }));

async function answer(line) {
  try {
    const res = await fetch(target, { method: "POST", body: line, headers: { "content-type": "text/plain" }, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    // 400 from the service carries UNKNOWN too; anything else (5xx, a proxy page) is not for the firmware.
    return res.status === 200 || res.status === 400 ? text : "UNKNOWN\n";
  } catch (e) {
    log("service unreachable", { error: String(e) });
    return "UNKNOWN\n";
  }
}

const server = net.createServer((sock) => {
  let buf = "";
  let done = false;
  sock.setTimeout(timeoutMs);
  const finish = async () => {
    if (done) return;
    done = true;
    const line = buf.split(/\r?\n/, 1)[0];
    const reply = await answer(line);
    log("activation", { peer: sock.remoteAddress, serial: line.slice(0, 11), reply: reply.slice(0, 7).trim() });
    sock.end(reply);
  };
  sock.setEncoding("latin1");
  let settle = null;
  sock.on("data", (d) => {
    buf += d;
    if (buf.includes("\n") || buf.length > MAX_REQUEST) void finish();
    // Eleven characters and a pause: firmware that sends the bare serial and waits for the answer.
    else if (buf.length >= 11 && !settle) settle = setTimeout(() => void finish(), 250);
  });
  // Firmware that sends exactly the 11 characters and half-closes, or waits: answer what we have.
  sock.on("end", () => void finish());
  sock.on("timeout", () => (buf ? void finish() : sock.destroy()));
  sock.on("error", () => sock.destroy());
});

server.listen(Number(values.port), values.host, () => {
  const a = server.address();
  log("activation relay listening", { port: a.port, host: a.address, target: target.toString() });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
