// The audit log end to end against `wrangler dev`: operator actions and logins land in the chain, the export and
// the verify route agree with `npm run audit:verify` reading the same local D1 file, and a row edited behind the
// service's back (triggers dropped, through `wrangler d1 execute --local`) makes the script exit non-zero naming it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { client, ROOT, SECRETS, startWorker } from "./harness.mjs";

const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

let worker;
let call;
let persist;

/** Run a command without blocking the event loop (a blocked loop lets the worker drop our kept-alive sockets). */
function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: ENV, encoding: "utf8" }, (error, stdout, stderr) =>
      resolve({ status: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const verifyScript = () => run(process.execPath, [path.join(ROOT, "scripts", "audit-verify.mjs"), "--persist-to", persist]);

async function d1(sqlText) {
  const r = await run(WRANGLER, ["d1", "execute", "DB", "--local", "--persist-to", persist, "--command", sqlText]);
  assert.equal(r.status, 0, r.stderr || r.stdout);
}

before(async () => {
  worker = await startWorker({
    beforeStart: (dir) => {
      persist = dir;
    },
  });
  call = client(worker.url);
});
after(() => worker?.stop());

describe("audit log against wrangler dev", () => {
  let admin;

  it("operator actions and logins are chained, exported and verified by the route", async () => {
    const login = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    assert.equal(login.status, 200);
    admin = login.body.token;
    assert.equal((await call("POST", "/api/v1/login", { json: { username: "admin", password: "a wrong guess here" } })).status, 401);
    const op = await call("POST", "/api/v1/admin/operators", { token: admin, json: { username: "carol", password: "a long enough password", role: "viewer" } });
    assert.equal(op.status, 201);
    const job = await call("POST", "/api/v1/admin/job", {
      token: admin,
      json: { schedule: "R1//P", delay: 0, comment: "audit e2e", task: { test_name: "web_connectivity", arguments: {} }, target: {} },
    });
    assert.equal(job.status, 200);
    assert.equal((await call("POST", `/api/v1/admin/job/${job.body.id}/pause`, { token: admin })).status, 200);
    assert.equal((await call("DELETE", "/api/v1/admin/operators/carol", { token: admin })).status, 200);

    const page = await call("GET", "/api/v1/admin/audit?limit=100", { token: admin });
    assert.equal(page.status, 200);
    assert.deepEqual(
      page.body.entries.map((e) => e.action),
      ["login.succeeded", "login.failed", "operator.created", "job.created", "job.paused", "operator.disabled"],
    );
    assert.ok(page.body.entries.every((e) => /^[0-9a-f]{64}$/.test(e.hash)));
    const v = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    assert.deepEqual({ ok: v.body.ok, seq: v.body.verified_seq, hash: v.body.verified_hash }, { ok: true, seq: 6, hash: page.body.entries[5].hash });
  });

  it("npm run audit:verify reads the local database and agrees with the route", async () => {
    const r = await verifyScript();
    assert.equal(r.status, 0, r.stderr);
    const v = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    assert.match(r.stdout, new RegExp(`intact up to seq ${v.body.verified_seq}, head hash ${v.body.verified_hash}`));
  });

  it("a row edited behind the service's back makes the script exit non-zero naming its seq, and the route says the same", async () => {
    await d1("DROP TRIGGER audit_log_seal_only; UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = 3;");
    const r = await verifyScript();
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /BROKEN .* at seq 3: hash does not match/);
    const v = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    assert.deepEqual(v.body.problem, { seq: 3, reason: "hash does not match the row's content" });
    assert.equal(v.body.ok, false);
  });

  it("a deleted row is named as missing", async () => {
    await d1("UPDATE audit_log SET actor = 'operator:admin' WHERE seq = 3; DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;");
    const r = await verifyScript();
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /at seq 2: seq 2 is missing/);
  });
});
