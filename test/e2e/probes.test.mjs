// The first slice end to end over real HTTP against `wrangler dev`: register, log in, update, list.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client, probeBody, SECRETS, startWorker } from "./harness.mjs";

describe("probe registration and updates over real HTTP (wrangler dev)", () => {
  let w;
  let call;
  before(async () => {
    w = await startWorker();
    call = client(w.url);
  });
  after(async () => {
    await w?.stop();
  });

  it("serves /health and its own OpenAPI document", async () => {
    assert.equal((await call("GET", "/health")).status, 200);
    const doc = await call("GET", "/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.1.0");
    assert.ok(doc.body.paths["/api/v1/register"].post);
  });

  it("a probe registers, logs in, updates itself; an operator sees the update history", async () => {
    const password = "q".repeat(20) + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
    const reg = await call("POST", "/api/v1/register", { json: probeBody({ password }) });
    assert.equal(reg.status, 200);
    const id = reg.body.client_id;
    const login = await call("POST", "/api/v1/login", { json: { username: id, password } });
    assert.equal(login.status, 200);
    assert.match(login.body.expire, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal((await call("PUT", `/api/v1/update/${id}`, { json: { network_type: "mobile" } })).status, 401);
    const upd = await call("PUT", `/api/v1/update/${id}`, { json: { network_type: "mobile" }, token: login.body.token });
    assert.deepEqual([upd.status, upd.body], [200, { status: "ok" }]);

    const admin = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    assert.equal(admin.status, 200);
    const detail = await call("GET", `/api/v1/admin/clients/${id}`, { token: admin.body.token });
    assert.equal(detail.status, 200);
    assert.equal(detail.body.network_type, "mobile");
    assert.deepEqual(
      detail.body.updates.map((u) => u.update_type),
      ["update", "register"],
    );
    const list = await call("GET", "/api/v1/admin/clients?country=IT", { token: admin.body.token });
    assert.equal(list.body.metadata.total_client_count, 1);
  });

  it("bad input over the wire gets the envelope, never a 500", async () => {
    const r = await call("POST", "/api/v1/register", { raw: "{nope", headers: { "content-type": "application/json" } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "invalid_json");
    const nf = await call("GET", "/no/such/route");
    assert.deepEqual([nf.status, nf.body.code], [404, "not_found"]);
  });
});
