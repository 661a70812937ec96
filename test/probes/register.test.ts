import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, seedProbe } from "../helpers";

const countProbes = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM probes").first<{ n: number }>())!.n;

describe("POST /api/v1/register", () => {
  it("says in Server-Timing how many requests its write shared a D1 round trip with (alone here: GROUP_COMMIT is off in this pool)", async () => {
    const r = await call("POST", "/api/v1/register", { json: seedProbe() });
    expect(r.status).toBe(200);
    expect(r.headers.get("server-timing")).toContain('commit;desc="shared by 1"');
  });

  it("accepts the seed's body exactly and returns a random client_id", async () => {
    const r = await call("POST", "/api/v1/register", { json: seedProbe() });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(["client_id"]);
    expect(r.body.client_id).toMatch(/^[0-9a-f-]{36}$/);
    const r2 = await call("POST", "/api/v1/register", { json: seedProbe() });
    expect(r2.body.client_id).not.toBe(r.body.client_id);
  });

  it("accepts probe-cli's fields: device_token, language, probe_family, probe_id, password", async () => {
    const body = {
      platform: "ios",
      probe_asn: "AS0",
      probe_cc: "ZZ",
      software_name: "miniooni",
      software_version: "0.1.0-dev",
      supported_tests: ["web_connectivity"],
      device_token: "apns-hex-token",
      language: "it",
      probe_family: "ooniprobe",
      probe_id: "abc",
      probe_timezone: "Europe/Rome",
      password: "x".repeat(64),
    };
    const r = await call("POST", "/api/v1/register", { json: body });
    expect(r.status).toBe(200);
    const row = await env.DB.prepare("SELECT * FROM probes WHERE id = ?").bind(r.body.client_id).first<any>();
    expect(row.push_token).toBe("apns-hex-token");
    expect(row.push_token_state).toBe("valid");
    expect(row.language).toBe("it");
    expect(row.probe_family).toBe("ooniprobe");
    expect(row.password_hash).not.toContain("x".repeat(10));
  });

  it("ignores unknown extra fields instead of failing", async () => {
    const r = await call("POST", "/api/v1/register", { json: seedProbe({ favourite_colour: "blue", nested: { a: 1 } }) });
    expect(r.status).toBe(200);
  });

  it("records the registration in the probe's history and the event log", async () => {
    const r = await call("POST", "/api/v1/register", { json: seedProbe() });
    const hist = await env.DB.prepare("SELECT * FROM probe_updates WHERE probe_id = ?").bind(r.body.client_id).all<any>();
    expect(hist.results.map((h) => h.update_type)).toEqual(["register"]);
    const ev = await env.DB.prepare("SELECT type FROM events WHERE probe_id = ?").bind(r.body.client_id).all<any>();
    expect(ev.results.map((e) => e.type)).toEqual(["probe.registered"]);
  });

  it("an empty push token registers a probe without one (token state none)", async () => {
    const r = await call("POST", "/api/v1/register", { json: seedProbe({ token: "" }) });
    expect(r.status).toBe(200);
    const row = await env.DB.prepare("SELECT push_token, push_token_state FROM probes WHERE id = ?").bind(r.body.client_id).first<any>();
    expect(row).toEqual({ push_token: null, push_token_state: "none" });
  });

  const bad: [string, Record<string, unknown>][] = [
    ["a missing probe_cc", seedProbe({ probe_cc: undefined })],
    ["a missing supported_tests", seedProbe({ supported_tests: undefined })],
    ["a three-letter country code", seedProbe({ probe_cc: "ITA" })],
    ["an ASN without the AS prefix", seedProbe({ probe_asn: "1234" })],
    ["a number where a string belongs", seedProbe({ software_name: 42 })],
    ["a string where a list belongs", seedProbe({ supported_tests: "web_connectivity" })],
    ["an empty supported_tests list", seedProbe({ supported_tests: [] })],
    ["an oversized software_name", seedProbe({ software_name: "a".repeat(101) })],
    ["a test name with spaces", seedProbe({ supported_tests: ["web connectivity"] })],
    ["an over-long list", seedProbe({ supported_tests: Array.from({ length: 101 }, (_, i) => `t${i}`) })],
  ];
  for (const [what, body] of bad) {
    it(`rejects ${what} with 400 and stores nothing`, async () => {
      const before = await countProbes();
      const r = await call("POST", "/api/v1/register", { json: body });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("validation_failed");
      expect(typeof r.body.error).toBe("string");
      expect(await countProbes()).toBe(before);
    });
  }

  it("rejects malformed JSON with 400 invalid_json and stores nothing", async () => {
    const before = await countProbes();
    const r = await call("POST", "/api/v1/register", { raw: '{"probe_cc": "IT",', headers: { "content-type": "application/json" } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: "request body is not valid JSON", code: "invalid_json" });
    expect(await countProbes()).toBe(before);
  });

  it("rejects a form-encoded body with 415 and says JSON is expected", async () => {
    const before = await countProbes();
    const r = await call("POST", "/api/v1/register", { raw: "probe_cc=IT", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(415);
    expect(r.body.code).toBe("unsupported_media_type");
    expect(r.body.error).toMatch(/json/i);
    expect(await countProbes()).toBe(before);
  });

  it("rejects a JSON array or null body with 400", async () => {
    expect((await call("POST", "/api/v1/register", { json: [seedProbe()] })).status).toBe(400);
    expect((await call("POST", "/api/v1/register", { json: null })).status).toBe(400);
  });

  it("refuses an oversized body with 413 and stores nothing", async () => {
    const before = await countProbes();
    const r = await call("POST", "/api/v1/register", { json: seedProbe({ padding: "x".repeat(70_000) }) });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("payload_too_large");
    expect(await countProbes()).toBe(before);
  });
});
