import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import { MeasurementContent, MeasurementMetaQuery, OpenReportBody, ReportUpdateBody, SubmitMeasurementBody } from "../../schema/ooni-api";
import { ApiError } from "../lib/errors";
import { type AppEnv, newRouter, validationError } from "../lib/hono";
import { readCapped } from "./body";
import { campaignReports } from "../../schema/ooni";
import { measurementWrites, runsClaiming, runsForOpenedReport, runsOfReport, statements } from "./campaign-reach";
import { parseReportId } from "./report-id";
import { ooniSettings } from "./settings";

/**
 * Measurement hand-off: probe-cli submits to the base URL it checked in with, so these OONI routes are relayed
 * to PROBE_SERVICES_UPSTREAM (bounded body and time, only the headers the upstream needs, only content headers
 * back). A submission whose report_id belongs to a campaign run records the upstream's measurement_uid on it.
 */
export const ooniRelayRoutes = newRouter();

/** How long after a campaign check-in a report opened with the same probe metadata still counts as that run's. */
const OPENED_REPORT_WINDOW_MS = 6 * 3600_000;

type Relayed = { status: number; body: Uint8Array; contentType: string; json: unknown };

const FORWARDED_REQUEST_HEADERS = ["content-type", "content-encoding", "user-agent", "accept"] as const;

async function relay(c: Context<AppEnv>, path: string, body?: Uint8Array): Promise<Relayed> {
  const s = ooniSettings(c.env);
  if (!s.upstream)
    throw new ApiError(
      "unavailable",
      "measurement hand-off is off: this service has no PROBE_SERVICES_UPSTREAM configured, submit to OONI's probe services directly",
    );
  const headers = new Headers();
  for (const h of FORWARDED_REQUEST_HEADERS) {
    const v = c.req.header(h);
    if (v) headers.set(h, v);
  }
  let res: Response;
  try {
    res = await fetch(`${s.upstream}${path}`, {
      method: c.req.method,
      headers,
      body: body?.byteLength ? body : undefined,
      redirect: "manual",
      signal: AbortSignal.timeout(s.upstreamTimeoutMs),
    });
  } catch (e) {
    const timedOut = (e as Error)?.name === "TimeoutError";
    throw new ApiError(
      "bad_gateway",
      timedOut ? `upstream probe services did not answer within ${s.upstreamTimeoutMs} ms` : "upstream probe services unreachable",
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(new Request("http://upstream/", { method: "POST", body: res.body, headers: res.headers }), s.upstreamMaxBodyBytes);
  } catch {
    throw new ApiError("bad_gateway", `upstream answer exceeds ${s.upstreamMaxBodyBytes} bytes`);
  }
  const contentType = res.headers.get("content-type") ?? "application/json";
  let json: unknown = null;
  if (/json/i.test(contentType)) {
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      json = null;
    }
  }
  return { status: res.status, body: bytes, contentType, json };
}

function answer(r: Relayed): Response {
  return new Response(r.body as BodyInit, { status: r.status, headers: { "content-type": r.contentType, "cache-control": "no-cache" } });
}

/** The body as JSON checked by `schema`; a bad body is the one 400 envelope and nothing is relayed. */
async function checkedBody<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<{ bytes: Uint8Array; value: z.infer<T> | null }> {
  const bytes = await readCapped(c.req.raw, ooniSettings(c.env).upstreamMaxBodyBytes);
  const encoding = (c.req.header("content-encoding") ?? "identity").toLowerCase();
  // A compressed measurement (probe-cli can send zstd) is relayed as is: the upstream checks it, nothing is recorded here.
  if (encoding !== "identity") return { bytes, value: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ApiError("invalid_json", "request body is not valid JSON");
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw validationError(r.error);
  return { bytes, value: r.data };
}

const uidOf = (json: unknown): string | null => {
  const uid = (json as { measurement_uid?: unknown } | null)?.measurement_uid;
  return typeof uid === "string" && uid !== "" && uid.length <= 200 ? uid : null;
};

type Content = z.infer<typeof MeasurementContent>;

/** Record a relayed measurement on the campaign runs its report belongs to (or, without a tied report, that its probe just joined). */
async function recordMeasurement(c: Context<AppEnv>, reportId: string, content: Content, uid: string) {
  const { db, clock, commit } = c.var.services;
  const now = clock.now();
  const input = typeof content.input === "string" ? content.input : null;
  let runs = await runsOfReport(db, reportId);
  if (runs.length === 0 && content.test_name === "web_connectivity" && content.probe_cc && content.probe_asn) {
    const matches = await runsForOpenedReport(
      db,
      { probeCc: content.probe_cc, probeAsn: content.probe_asn, softwareName: content.software_name ?? "", softwareVersion: content.software_version ?? "" },
      new Date(now.getTime() - OPENED_REPORT_WINDOW_MS).toISOString(),
    );
    runs = matches;
  }
  const claiming = runsClaiming(runs, input);
  if (claiming.length === 0) return;
  await commit(
    statements(
      measurementWrites(
        db,
        claiming,
        { measurementUid: uid, reportId, input, probeCc: content.probe_cc ?? "ZZ", probeAsn: content.probe_asn ?? "AS0" },
        now.toISOString(),
      ),
    ),
  );
}

ooniRelayRoutes.post("/api/v1/submit_measurement", async (c) => {
  const { bytes, value } = await checkedBody(c, SubmitMeasurementBody);
  let content: Content | null = null;
  if (value) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.content);
    } catch {
      throw new ApiError("validation_failed", "invalid request: content: must be a measurement encoded as a JSON string", [
        { path: "content", message: "not JSON" },
      ]);
    }
    const r = MeasurementContent.safeParse(parsed);
    if (!r.success || typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new ApiError("validation_failed", "invalid request: content: must be a JSON object", [{ path: "content", message: "not a JSON object" }]);
    content = r.data;
  }
  const r = await relay(c, "/api/v1/submit_measurement", bytes);
  const uid = r.status === 200 ? uidOf(r.json) : null;
  if (uid && content) await recordMeasurement(c, content.report_id ?? "", content, uid);
  return answer(r);
});

ooniRelayRoutes.post("/report", async (c) => {
  const { bytes, value } = await checkedBody(c, OpenReportBody);
  const r = await relay(c, "/report", bytes);
  const rid = (r.json as { report_id?: unknown } | null)?.report_id;
  if (r.status === 200 && value && value.test_name === "web_connectivity" && typeof rid === "string" && parseReportId(rid)) {
    const { db, clock, commit } = c.var.services;
    const now = clock.now();
    const t = { probeCc: value.probe_cc, probeAsn: value.probe_asn, softwareName: value.software_name, softwareVersion: value.software_version };
    const runs = await runsForOpenedReport(db, t, new Date(now.getTime() - OPENED_REPORT_WINDOW_MS).toISOString());
    if (runs.length)
      await commit(
        statements(
          runs.map((run) =>
            db
              .insert(campaignReports)
              .values({ reportId: rid, jobId: run.jobId, runId: run.runId, source: "opened", probeId: null, ...t, createdAt: now.toISOString() })
              .onConflictDoNothing(),
          ),
        ),
      );
  }
  return answer(r);
});

for (const suffix of ["", "/close"] as const) {
  ooniRelayRoutes.post(`/report/:report_id${suffix}`, async (c) => {
    const reportId = c.req.param("report_id");
    if (!parseReportId(reportId)) throw new ApiError("bad_request", "Incorrect format: report_id is not an OONI report id");
    const { bytes, value } = suffix ? { bytes: await readCapped(c.req.raw, 64 * 1024), value: null } : await checkedBody(c, ReportUpdateBody);
    const r = await relay(c, `/report/${encodeURIComponent(reportId)}${suffix}`, bytes);
    const uid = r.status === 200 ? uidOf(r.json) : null;
    if (uid && value && typeof value.content === "object") await recordMeasurement(c, reportId, value.content, uid);
    return answer(r);
  });
}

ooniRelayRoutes.get("/api/v1/manifest", async (c) => answer(await relay(c, "/api/v1/manifest")));

ooniRelayRoutes.get("/api/v1/measurement_meta", async (c) => {
  const q = MeasurementMetaQuery.safeParse(c.req.query());
  if (!q.success) throw validationError(q.error);
  const search = new URL(c.req.url).search;
  return answer(await relay(c, `/api/v1/measurement_meta${search}`));
});
