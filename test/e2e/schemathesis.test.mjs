// schemathesis (an independent fuzzer, from PyPI) against GET /openapi.json of a real `wrangler dev`: every
// operation is called with generated inputs, and every answer is checked for a 5xx and against its documented
// schema. Bounded: a few examples per operation and a wall-clock limit. CI installs it (.ci/run); locally the test
// skips when it is not installed and CI is not set, and fails with a clear message when CI is set.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, SECRETS, startWorker } from "./harness.mjs";

const TIME_LIMIT_MS = Number(process.env.SCHEMATHESIS_TIME_LIMIT_MS ?? 150_000);

/** The CLI: $SCHEMATHESIS, the venv .ci/run installs, or `schemathesis` on PATH. */
function findCli() {
  const candidates = [process.env.SCHEMATHESIS, path.join(ROOT, ".ci", ".venv", "bin", "schemathesis"), "schemathesis"].filter(Boolean);
  for (const c of candidates) {
    if (c.includes("/") && !existsSync(c)) continue;
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  return null;
}

const cli = findCli();
const skip = cli === null && !process.env.CI ? "schemathesis is not installed (pip install schemathesis, or run .ci/run); CI is not set" : false;

describe("schemathesis against the OpenAPI document", { skip }, () => {
  let w;
  let token;
  before(async () => {
    assert.ok(cli, "schemathesis CLI not found: .ci/run installs it into .ci/.venv (pip install schemathesis==4.32.5); set SCHEMATHESIS to its path");
    // The development keys of .dev.vars.example, so school leases and the mesh CA are configured as in a deployment.
    const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
    const keys = Object.fromEntries([...text.matchAll(/^((?:LEASE_|MESH_CA_)[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));
    w = await startWorker({ vars: keys });
    const r = await fetch(`${w.url}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: SECRETS.ADMIN_PASSWORD }),
    });
    assert.equal(r.status, 200);
    token = (await r.json()).token;
  });
  after(async () => {
    await w?.stop();
  });

  it("finds no server error and no answer that departs from the documented schema", { timeout: TIME_LIMIT_MS + 30_000 }, async () => {
    const args = [
      "run",
      `${w.url}/openapi.json`,
      "--url",
      w.url,
      "--checks",
      "not_a_server_error,response_schema_conformance",
      "--max-examples",
      process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "5",
      "--phases",
      "examples,fuzzing",
      "--header",
      `Authorization: Bearer ${token}`,
      "--request-timeout",
      "10",
      "--seed",
      "20261202",
      // WebSocket upgrades are fuzzed in test/harden/fuzz.test.ts; /proxy relays to a live agent's own answers.
      "--exclude-path-regex",
      "(/connect$|^/proxy/)",
      "--no-color",
      "--suppress-health-check",
      "all",
    ];
    const out = await new Promise((resolve) => {
      const child = spawn(cli, args, { cwd: ROOT, env: { ...process.env, SCHEMATHESIS_HOOKS: "" }, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (d) => (text += d));
      child.stderr.on("data", (d) => (text += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), TIME_LIMIT_MS);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, text });
      });
    });
    assert.notEqual(out.signal, "SIGKILL", `schemathesis did not finish within ${TIME_LIMIT_MS} ms:\n${out.text.slice(-4000)}`);
    assert.equal(out.code, 0, `schemathesis found failures:\n${out.text.slice(-12000)}`);
    const summary = out.text.split("\n").filter((l) => /Tested:|generated|passed|in [0-9.]+s/.test(l));
    console.log(summary.join("\n"));
    // A run that tested nothing (a schema it could not load) must not pass.
    assert.match(out.text, /Tested: [1-9][0-9]/, "schemathesis tested fewer than 10 operations");
  });
});
