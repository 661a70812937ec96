// A stock probe-cli's requests, replayed against a real wrangler dev by a Go client (test/ooni/clients/probecli.go)
// that parses every answer with probe-cli's rules (exactly 200, non-null JSON, Go time.Time, non-empty URL lists),
// with the measurement hand-off relayed to tools/fake-ooni-backend.mjs, which checks bodies as OONI's backend does.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startFakeOoniBackend } from "../../tools/fake-ooni-backend.mjs";
import { client, eventually, ROOT, SECRETS, startWorker } from "./harness.mjs";

const run = promisify(execFile);
const CLIENT = path.join(ROOT, "test", "ooni", "clients", "probecli.go");

async function probecli(base, args = []) {
  const { stdout } = await run("go", ["run", CLIENT, "-base", base, ...args], {
    cwd: path.dirname(CLIENT),
    timeout: 180_000,
    env: { ...process.env, GOFLAGS: "-mod=mod", GO111MODULE: "off" },
  });
  return JSON.parse(stdout);
}

/** An id shaped like the ~132-character tokens OONI's backend issues as client_id. */
const ooniClientId = () =>
  `eyJ${crypto.randomBytes(25).toString("base64url")}.${crypto.randomBytes(45).toString("base64url")}.${crypto.randomBytes(26).toString("base64url")}`.slice(
    0,
    132,
  );

describe("a stock probe-cli against this service (e2e)", () => {
  let w;
  let upstream;
  let call;
  let admin;
  before(async () => {
    upstream = await startFakeOoniBackend();
    w = await startWorker({ vars: { PROBE_SERVICES_UPSTREAM: upstream.url } });
    call = client(w.url);
    admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  });
  after(async () => {
    await w?.stop();
    await upstream?.stop();
  });

  it("registers with device_token, logs in, checks in (timed, charging, manual) and submits, all parsed as probe-cli parses", async () => {
    const id = ooniClientId();
    assert.equal(id.length, 132);
    const out = await probecli(w.url, ["-cc", "BR", "-asn", "AS28573", "-adopt", id]);
    assert.ok(out.test_helpers > 0);
    assert.ok(out.adopted_expire);
    // Only the seeded global list (26 URLs) exists: timed 20, charging and manual the whole list.
    assert.deepEqual(out.urls, { timed: 20, charging: 26, manual: 26 });
    assert.match(out.checkin_report_id, /^\d{8}T\d{6}Z_webconnectivity_BR_28573_n1_[A-Za-z0-9]{16}$/);
    assert.match(out.report_measurement_uid, /_BR_webconnectivity_[0-9a-f]{16}$/);
    assert.match(out.submit_measurement_uid, /_BR_webconnectivity_[0-9a-f]{16}$/);
    const sent = upstream.received.find((r) => r.path === "/api/v1/submit_measurement");
    assert.equal(sent.headers.authorization, undefined);
    assert.equal(sent.headers.cookie, undefined);
    const row = await call("GET", `/api/v1/admin/clients?country=ZZ`, { token: admin });
    assert.equal(row.status, 200);
  });

  it("a campaign's URLs reach probes through check-in, and the measurements they submit are recorded on its run", async () => {
    const urls = ["https://campaign-one.example/", "https://campaign-two.example/"];
    const job = await call("POST", "/api/v1/admin/job", {
      json: {
        schedule: "R1//P",
        comment: "e2e: OONI check-in",
        task: { test_name: "web_connectivity", arguments: { urls } },
        target: { countries: ["IT"] },
        features: { torsf_enabled: true },
      },
      token: admin,
    });
    assert.equal(job.status, 200, JSON.stringify(job.body));
    assert.equal((await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`)).status, 200);
    await eventually(async () => {
      const d = await call("GET", `/api/v1/admin/job/${job.body.id}`, { token: admin });
      return d.body.runs?.length && d.body.runs[0].state !== "dispatching";
    }, "the campaign's run to fire");

    const out = await probecli(w.url, ["-cc", "IT", "-asn", "AS1234"]);
    assert.deepEqual(
      out.first_urls.map((u) => u.url),
      urls,
    );
    assert.equal(out.features.torsf_enabled, true);
    const detail = await eventually(async () => {
      const d = await call("GET", `/api/v1/admin/job/${job.body.id}`, { token: admin });
      return d.body.runs[0].measurements?.length === 2 && d.body;
    }, "both measurements on the run");
    const run0 = detail.runs[0];
    assert.equal(run0.checkins, 3);
    assert.deepEqual(new Set(run0.measurements.map((m) => m.measurement_uid)), new Set([out.report_measurement_uid, out.submit_measurement_uid]));
    assert.deepEqual(new Set(run0.measurements.map((m) => m.input)), new Set(urls));
  });

  it("imports a Citizen Lab list and serves it first to that country", async () => {
    const csv = `url,category_code,category_description,date_added,source,notes\nhttps://news.example.de/,NEWS,News Media,2020-01-01,citizenlab,\n`;
    const r = await call("POST", "/api/v1/admin/test-lists?country=DE", { raw: csv, token: admin, headers: { "content-type": "text/csv" } });
    assert.equal(r.status, 200);
    const c = await call("POST", "/api/v1/check-in", {
      json: {
        charging: false,
        on_wifi: true,
        platform: "linux",
        probe_asn: "AS3320",
        probe_cc: "DE",
        run_type: "timed",
        software_name: "miniooni",
        software_version: "3.30.0",
        web_connectivity: { category_codes: ["NEWS"] },
      },
    });
    assert.equal(c.body.tests.web_connectivity.urls[0].url, "https://news.example.de/");
  });

  it("without PROBE_SERVICES_UPSTREAM the hand-off answers a clear OONI-style error", async () => {
    const w2 = await startWorker({});
    try {
      const r = await client(w2.url)("POST", "/report", {
        json: { data_format_version: "0.2.0", format: "json", software_name: "x", software_version: "1", test_start_time: "t", test_version: "1" },
      });
      assert.equal(r.status, 503);
      assert.match(r.body.error, /PROBE_SERVICES_UPSTREAM/);
    } finally {
      await w2.stop();
    }
  });
});
