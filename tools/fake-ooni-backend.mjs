// A fake OONI probe-services upstream for the measurement hand-off (functions/ooni/relay.ts). It checks bodies as
// OONI's backend does (ooni/backend ooniprobe routers: reports.py, probe_services.py) and answers in its shapes, so a
// relay that mangled a body or a report_id would fail here as it would against api.ooni.org.
// Run alone: node tools/fake-ooni-backend.mjs [port]
import crypto from "node:crypto";
import http from "node:http";
import { readBody } from "./fake-common.mjs";

const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

const reportId = (testName, cc, asn) => {
  const ts = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  const rand = crypto.randomBytes(12).toString("base64").replace(/[+/]/g, "o");
  return `${ts}_${testName.replace(/_/g, "")}_${cc}_${asn}_n1_${rand}`;
};

const msmtUid = (cc, testName, data) => {
  const ts = new Date()
    .toISOString()
    .replace(/[-:TZ]/g, "")
    .replace(/\.(\d{3})$/, ".$1000");
  return `${ts}_${cc}_${testName.replace(/_/g, "")}_${crypto.createHash("sha512").update(data).digest("hex").slice(0, 16)}`;
};

/** check_measurement_meta: the backend refuses a measurement whose metadata is malformed. */
function metaProblem(m) {
  const cc = m?.probe_cc ?? "";
  const asn = m?.probe_asn ?? "";
  const tn = m?.test_name ?? "";
  if (!(cc.length === 2 && cc === cc.toUpperCase() && /^[A-Z0-9]+$/.test(cc))) return "bad probe_cc";
  if (!(tn.length > 1 && tn.length <= 30 && tn === tn.toLowerCase())) return "bad test_name";
  if (!(asn.startsWith("AS") && asn.length >= 3 && asn.length <= 12 && !(asn.length > 3 && asn.startsWith("AS0")))) return "bad probe_asn";
  return null;
}

const REPORT_FIELDS = ["data_format_version", "format", "software_name", "software_version", "test_start_time", "test_version"];

export async function startFakeOoniBackend({ port = 0 } = {}) {
  const received = [];
  const measurements = new Map();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    let raw;
    try {
      raw = await readBody(req, 8 << 20);
    } catch {
      return send(res, 413, { detail: "too large" });
    }
    let body = null;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        received.push({ method: req.method, path: url.pathname, headers: req.headers, body: raw.toString("utf8") });
        return send(res, 400, { detail: "invalid JSON" });
      }
    }
    received.push({ method: req.method, path: url.pathname, search: url.search, headers: req.headers, body });
    if (req.method === "POST" && url.pathname === "/report") {
      const missing = REPORT_FIELDS.filter((f) => typeof body?.[f] !== "string");
      if (missing.length) return send(res, 422, { detail: missing.map((f) => ({ loc: ["body", f], msg: "Field required", type: "missing" })) });
      const asn = /^AS\d+$/.test(String(body.probe_asn ?? "").toUpperCase()) ? Number(body.probe_asn.slice(2)) : 0;
      const cc = String(body.probe_cc ?? "ZZ").toUpperCase().length === 2 ? String(body.probe_cc).toUpperCase() : "ZZ";
      return send(
        res,
        200,
        { backend_version: "1.3.5", report_id: reportId(String(body.test_name ?? "").toLowerCase(), cc, asn), supported_formats: ["yaml", "json"] },
        { "cache-control": "no-cache" },
      );
    }
    const m = /^\/report\/([^/]+)$/.exec(url.pathname);
    if (req.method === "POST" && m) {
      const parts = decodeURIComponent(m[1]).split("_");
      if (parts.length !== 6) return send(res, 400, { detail: "Incorrect format" });
      const [, tn, cc, asn] = parts;
      if (!(cc.length === 2 && /^[a-z0-9]+$/i.test(tn) && tn.length > 1 && tn.length < 30) || !/^\d+$/.test(asn))
        return send(res, 400, { detail: "Incorrect format" });
      if (Number(asn) === 0 || cc.toUpperCase() === "ZZ") return send(res, 200, {});
      const content = body?.content;
      if (body?.format !== "json" || typeof content !== "object" || content === null) return send(res, 400, { detail: "Incorrect format" });
      // _compare_report_id_to_body_meta: the report_id must agree with the measurement it carries.
      if (content.probe_cc !== cc || content.probe_asn !== `AS${asn}` || String(content.test_name ?? "").replace(/_/g, "") !== tn)
        return send(res, 400, { detail: "Incorrect format: report_id does not match the measurement" });
      const bad = metaProblem(content);
      if (bad) return send(res, 400, { detail: bad });
      const uid = msmtUid(cc, content.test_name, raw);
      measurements.set(uid, { report_id: m[1], input: content.input ?? null, probe_cc: cc, probe_asn: Number(asn), test_name: content.test_name });
      return send(res, 200, { measurement_uid: uid }, { "cache-control": "no-cache" });
    }
    if (req.method === "POST" && url.pathname === "/api/v1/submit_measurement") {
      if (typeof body?.content !== "string" || body.format !== "json") return send(res, 422, { detail: [{ loc: ["body", "content"], msg: "Field required" }] });
      let content;
      try {
        content = JSON.parse(body.content);
      } catch (e) {
        return send(res, 400, { detail: { error: String(e) } });
      }
      if (typeof content !== "object" || content === null || Array.isArray(content))
        return send(res, 400, { detail: { error: "'content' should be a json encoded as a string" } });
      const bad = metaProblem(content);
      if (bad) return send(res, 400, { detail: bad });
      const asn = Number(content.probe_asn.slice(2));
      const rid = reportId(content.test_name, content.probe_cc, asn);
      const uid = msmtUid(content.probe_cc, content.test_name, raw);
      measurements.set(uid, { report_id: rid, input: content.input ?? null, probe_cc: content.probe_cc, probe_asn: asn, test_name: content.test_name });
      return send(
        res,
        200,
        { measurement_uid: uid, verification_status: "unverified", submit_response: null, protocol_version: "0.1.0", error: null, report_id: rid },
        { "cache-control": "no-cache" },
      );
    }
    if (req.method === "GET" && url.pathname === "/api/v1/manifest") {
      return send(
        res,
        200,
        {
          manifest: { nym_scope: "ooni.org/{probe_cc}/{probe_asn}", public_parameters: "AAAA", submission_policy: [] },
          meta: { version: "1", last_modification_date: "2026-01-01T00:00:00Z" },
        },
        { "set-cookie": "upstream=1" },
      );
    }
    if (req.method === "GET" && url.pathname === "/api/v1/measurement_meta") {
      const uid = url.searchParams.get("measurement_uid");
      const hit = uid ? measurements.get(uid) : [...measurements.values()].find((x) => x.report_id === url.searchParams.get("report_id"));
      if (!hit) return send(res, 200, {});
      return send(res, 200, {
        anomaly: false,
        category_code: "",
        confirmed: false,
        failure: false,
        input: hit.input,
        measurement_start_time: "2026-12-01T00:00:00Z",
        probe_asn: hit.probe_asn,
        probe_cc: hit.probe_cc,
        report_id: hit.report_id,
        scores: "{}",
        test_name: hit.test_name,
        test_start_time: "2026-12-01T00:00:00Z",
      });
    }
    return send(res, 404, { detail: "Not Found" });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, received, measurements, stop: () => new Promise((r) => server.close(r)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await startFakeOoniBackend({ port: Number(process.argv[2] ?? 0) });
  console.log(`fake OONI backend on ${f.url}`);
}
