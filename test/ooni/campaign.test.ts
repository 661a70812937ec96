import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createJob, fireAndDispatch, tasksOf } from "../campaigns/helpers";
import { consoleLogin, get } from "../console/helpers";
import { adminToken, call, registerProbe } from "../helpers";
import { checkInBody } from "./helpers";

/** The fake upstream as OONI's backend answers (tools/fake-ooni-backend.mjs checks bodies the same way end to end). */
const upstreamCalls: { url: string; method: string; headers: Headers; body: any }[] = [];
function installUpstream() {
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (!req.url.startsWith("https://upstream.ooni.test/")) return original(input as RequestInfo, init);
    const text = await req.text();
    const body = text ? JSON.parse(text) : null;
    upstreamCalls.push({ url: req.url, method: req.method, headers: req.headers, body });
    const path = new URL(req.url).pathname;
    if (path === "/report")
      return Response.json({
        backend_version: "1.3.5",
        report_id: `20261201T000000Z_webconnectivity_${body.probe_cc}_1234_n1_AAAAAAAAAAAAAAAA`,
        supported_formats: ["yaml", "json"],
      });
    if (path.startsWith("/report/"))
      return Response.json({ measurement_uid: `20261201000000.000001_IT_webconnectivity_${upstreamCalls.length.toString(16).padStart(16, "0")}` });
    if (path === "/api/v1/submit_measurement") {
      const m = JSON.parse(body.content);
      if (!m.probe_cc) return Response.json({ detail: { error: "bad" } }, { status: 400 });
      return Response.json({
        measurement_uid: `20261201000000.000002_IT_webconnectivity_${upstreamCalls.length.toString(16).padStart(16, "0")}`,
        report_id: "x",
      });
    }
    if (path === "/api/v1/manifest")
      return Response.json({ manifest: { submission_policy: [] }, meta: { version: "1" } }, { headers: { "set-cookie": "leak=1" } });
    return Response.json({ detail: "not found" }, { status: 404 });
  });
}

const measurement = (over: Record<string, unknown> = {}) => ({
  probe_cc: "IT",
  probe_asn: "AS1234",
  test_name: "web_connectivity",
  software_name: "ooniprobe-android",
  software_version: "3.8.0",
  input: "https://campaign-a.example/",
  test_keys: {},
  ...over,
});

describe("campaigns through check-in, and the measurement hand-off", () => {
  let admin: string;
  let probe: { clientId: string; token?: string };
  let jobId: string;
  let reportId: string;
  beforeAll(async () => {
    installUpstream();
    admin = await adminToken();
    probe = await registerProbe({ probe_cc: "IT", probe_asn: "AS1234", token: "", supported_tests: ["web_connectivity"] });
    jobId = await createJob(admin, {
      task: { test_name: "web_connectivity", arguments: { urls: ["https://campaign-a.example/", "https://campaign-b.example/"] } },
      target: { countries: ["IT"] },
      features: { torsf_enabled: true },
    });
    await fireAndDispatch(jobId);
  });

  it("gives a matching probe the campaign's URLs first and its features, and moves its task to notified", async () => {
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["ready"]);
    const r = await call("POST", "/api/v1/check-in", { json: checkInBody(), token: probe.token });
    expect(r.status).toBe(200);
    const urls = r.body.tests.web_connectivity.urls.map((u: any) => u.url);
    expect(urls.slice(0, 2)).toEqual(["https://campaign-a.example/", "https://campaign-b.example/"]);
    expect(urls.length).toBe(20);
    expect(r.body.conf.features.torsf_enabled).toBe(true);
    reportId = r.body.tests.web_connectivity.report_id;
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["notified"]);
    const row = await env.DB.prepare("SELECT * FROM campaign_reports WHERE report_id = ?").bind(reportId).first<any>();
    expect(row).toMatchObject({ job_id: jobId, source: "checkin", probe_id: probe.clientId });
  });

  it("reaches anonymous probe-cli check-ins in the target too, and leaves others alone", async () => {
    const it_ = await call("POST", "/api/v1/check-in", { json: checkInBody({ software_name: "miniooni", software_version: "3.30.0" }) });
    expect(it_.body.tests.web_connectivity.urls[0].url).toBe("https://campaign-a.example/");
    const de = await call("POST", "/api/v1/check-in", { json: checkInBody({ probe_cc: "DE", probe_asn: "AS3320" }) });
    expect(de.body.tests.web_connectivity.urls.map((u: any) => u.url)).not.toContain("https://campaign-a.example/");
    expect(de.body.conf.features.torsf_enabled).toBe(false);
  });

  it("relays submit_measurement and records the measurement_uid on the campaign's run", async () => {
    const body = {
      format: "json",
      content: JSON.stringify(measurement({ report_id: reportId })),
      nym: null,
      zkp_request: null,
      manifest_version: null,
      protocol_version: null,
    };
    const r = await call("POST", "/api/v1/submit_measurement", { json: body, headers: { cookie: "session=secret", "x-forwarded-for": "10.0.0.1" } });
    expect(r.status).toBe(200);
    expect(r.body.measurement_uid).toMatch(/_IT_webconnectivity_/);
    const sent = upstreamCalls.at(-1)!;
    expect(sent.body).toEqual(body);
    expect(sent.headers.get("cookie")).toBeNull();
    expect(sent.headers.get("x-forwarded-for")).toBeNull();
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(job.body.runs[0].checkins).toBe(2);
    expect(job.body.runs[0].measurements).toEqual([
      expect.objectContaining({ measurement_uid: r.body.measurement_uid, report_id: reportId, input: "https://campaign-a.example/" }),
    ]);
    expect(job.body.features).toEqual({ torsf_enabled: true });
  });

  it("ties a report opened through the relay by a probe that just checked in, and records only the campaign's URLs", async () => {
    const open = await call("POST", "/report", {
      json: {
        data_format_version: "0.2.0",
        format: "json",
        probe_asn: "AS1234",
        probe_cc: "IT",
        software_name: "miniooni",
        software_version: "3.30.0",
        test_name: "web_connectivity",
        test_start_time: "2026-12-01 00:00:00",
        test_version: "0.5.28",
      },
    });
    expect(open.status).toBe(200);
    const rid = open.body.report_id;
    const mine = await call("POST", `/report/${rid}`, {
      json: { format: "json", content: measurement({ report_id: rid, input: "https://campaign-b.example/", software_name: "miniooni" }) },
    });
    expect(mine.status).toBe(200);
    const other = await call("POST", `/report/${rid}`, {
      json: { format: "json", content: measurement({ report_id: rid, input: "https://elsewhere.example/" }) },
    });
    expect(other.status).toBe(200);
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(job.body.runs[0].measurements.map((m: any) => m.measurement_uid)).toContain(mine.body.measurement_uid);
    expect(job.body.runs[0].measurements.map((m: any) => m.measurement_uid)).not.toContain(other.body.measurement_uid);
  });

  it("the campaign's console page lists each run's recorded measurement_uids, linked to OONI Explorer, and its check-ins", async () => {
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    const recorded = job.body.runs[0].measurements as { measurement_uid: string; input: string | null }[];
    expect(recorded.length).toBe(2);
    const b = await consoleLogin();
    const page = await get(b, `/console/campaigns/${jobId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h2 id="measurements-h">OONI measurements</h2>');
    expect(page.body).toContain("2 check-ins joined these runs; 2 measurements recorded.");
    const table = page.body.slice(
      page.body.indexOf('<table id="measurements">'),
      page.body.indexOf("</table>", page.body.indexOf('<table id="measurements">')),
    );
    for (const m of recorded) {
      expect(table).toContain(`<a href="https://explorer.ooni.org/m/${encodeURIComponent(m.measurement_uid)}">${m.measurement_uid}</a>`);
      expect(table).toContain(`<td>${m.input}</td>`);
    }
    expect(table.match(/<th scope="row">#1<\/th>/g)).toHaveLength(2);
    expect(table).toContain("<td>IT AS1234</td>");
    // The submission outside the campaign's URLs was relayed but not recorded, so it is not on the page.
    expect(table).not.toContain("elsewhere.example");
    // A campaign no probe has measured for says so instead of showing an empty table.
    const quiet = await createJob(admin, {
      task: { test_name: "web_connectivity", arguments: { urls: ["https://quiet.example/"] } },
      target: { countries: ["MX"] },
    });
    const none = await get(b, `/console/campaigns/${quiet}`);
    expect(none.body).toContain("0 check-ins joined these runs; 0 measurements recorded.");
    expect(none.body).toContain("No measurements yet");
  });

  it("relays manifest without leaking upstream headers, and checks bodies before relaying", async () => {
    const m = await call("GET", "/api/v1/manifest");
    expect(m.status).toBe(200);
    expect(m.headers.get("set-cookie")).toBeNull();
    const before = upstreamCalls.length;
    expect((await call("POST", "/api/v1/submit_measurement", { json: { format: "json", content: "not json" } })).status).toBe(400);
    expect((await call("POST", "/api/v1/submit_measurement", { json: { format: "yaml", content: "{}" } })).status).toBe(400);
    expect((await call("POST", "/report/not-a-report-id", { json: { format: "json", content: {} } })).status).toBe(400);
    expect((await call("GET", "/api/v1/measurement_meta")).status).toBe(400);
    expect(upstreamCalls.length).toBe(before);
  });

  it("refuses at creation a campaign test outside CAMPAIGN_TESTS or bad web_connectivity arguments", async () => {
    const bad = async (task: unknown) => (await call("POST", "/api/v1/admin/job", { json: { schedule: "R1//P", comment: "x", task }, token: admin })).status;
    expect(await bad({ test_name: "hirl_evil", arguments: {} })).toBe(400);
    expect(await bad({ test_name: "web_connectivity", arguments: { urls: ["ftp://x.example/"] } })).toBe(400);
    expect(await bad({ test_name: "web_connectivity", arguments: { urls: [`https://x.example/${"a".repeat(2048)}`] } })).toBe(400);
    expect(await bad({ test_name: "web_connectivity", arguments: { urls: Array.from({ length: 501 }, (_, i) => `https://x${i}.example/`) } })).toBe(400);
    expect(await bad({ test_name: "web_connectivity", arguments: { urls: ["https://x.example/"], other: 1 } })).toBe(400);
    expect(await bad({ test_name: "ndt", arguments: {} })).toBe(200);
  });
});
