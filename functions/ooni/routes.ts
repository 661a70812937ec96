import { createRoute } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { CheckInBody, CheckInResponse, TestListUrlsQuery, TestListUrlsResponse } from "../../schema/ooni-api";
import { bearerOf, resolvePrincipal } from "../auth/middleware";
import { rfc3339 } from "../lib/clock";
import { newRouter } from "../lib/hono";
import { rateLimit } from "../lib/rate-limit";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { type CheckInProbe, checkInWrites, notifyWrites, openRuns, readyTasksOf, runsReaching, statements } from "./campaign-reach";
import { type CheckInAnswer, locate, testsAnswer } from "./checkin";
import { featuresFor } from "./features";
import { knownCategories, urlCandidates } from "./queries";
import { asnNumber, newReportId } from "./report-id";
import { ooniSettings } from "./settings";
import { categoryCodes, mergeCampaignUrls, selectUrls, urlLimit } from "./url-selection";

export const ooniRoutes = newRouter();

type EdgeCf = { country?: string; asn?: number; asOrganization?: string };

ooniRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/check-in",
    tags: ["ooni"],
    summary: "OONI check-in: the URLs to test, feature flags and test helpers (what probe-cli asks before each run)",
    description:
      "No authentication, as OONI's backend. A probe that sends its own token is also matched against its registry record, and its ready campaign tasks move to notified.",
    middleware: [rateLimit("checkin")] as const,
    request: { body: jsonBody(CheckInBody) },
    responses: { 200: jsonContent(CheckInResponse, "The check-in answer, in OONI's shape"), ...errorResponses(400, 413, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { db, settings, clock, commit } = c.var.services;
    const ooni = ooniSettings(c.env);
    const now = clock.now();
    const at = now.toISOString();
    const where = locate({ probeCc: body.probe_cc, probeAsn: body.probe_asn }, ((c.req.raw as { cf?: EdgeCf }).cf ?? {}) as EdgeCf);
    const probe: CheckInProbe = {
      probeId: null,
      probeCc: where.probeCc,
      probeAsn: where.probeAsn,
      platform: body.platform,
      softwareName: body.software_name,
      softwareVersion: body.software_version,
      networkType: body.on_wifi ? "wifi" : "mobile",
      supportedTests: ["web_connectivity"],
    };
    // Stock probe-cli checks in anonymously. A token, when sent and valid, names the probe; a bad one is
    // ignored rather than failing the probe's run (check-in needs no credentials).
    const who = await Promise.resolve()
      .then(() => resolvePrincipal(c, bearerOf(c)))
      .catch(() => null);
    if (who?.role === "probe") {
      const row = await db.select({ networkType: probes.networkType, supportedTests: probes.supportedTests }).from(probes).where(eq(probes.id, who.sub)).get();
      if (row) {
        probe.probeId = who.sub;
        probe.networkType = row.networkType ?? probe.networkType;
        probe.supportedTests = [...new Set([...(JSON.parse(row.supportedTests) as string[]), "web_connectivity"])];
      }
    }

    const limit = urlLimit(body.run_type, body.charging);
    const categories = categoryCodes(body.web_connectivity?.category_codes ?? undefined);
    const [candidates, runs] = await Promise.all([urlCandidates(db, probe.probeCc, categories, limit), openRuns(db, now)]);
    const joined = runsReaching(runs, probe);
    let urls = selectUrls(candidates, probe.probeCc, categories, limit, Math.random);
    const campaignUrls = joined.filter((r) => r.testName === "web_connectivity").flatMap((r) => r.urls);
    if (campaignUrls.length) urls = mergeCampaignUrls(campaignUrls, urls, probe.probeCc, limit, await knownCategories(db, probe.probeCc, campaignUrls));

    const reportId = newReportId("web_connectivity", probe.probeCc, asnNumber(probe.probeAsn), ooni.collectorId, now);
    if (joined.length) {
      const taskIds = probe.probeId
        ? await readyTasksOf(
            db,
            probe.probeId,
            joined.map((r) => r.runId),
          )
        : [];
      await commit(statements([...checkInWrites(db, joined, probe, reportId, at), ...(probe.probeId ? notifyWrites(db, taskIds, probe.probeId, at) : [])]));
    }
    const answer: CheckInAnswer = {
      v: 1,
      probe_cc: probe.probeCc,
      probe_asn: probe.probeAsn,
      probe_network_name: where.networkName,
      utc_time: rfc3339(now),
      conf: {
        features: featuresFor(
          ooni.checkinFeatures,
          joined.flatMap((r) => (r.features ? [r.features] : [])),
        ),
        test_helpers: settings.testHelpers,
      },
      tests: testsAnswer(probe.probeCc, probe.probeAsn, ooni.collectorId, now, urls, reportId),
    };
    c.header("Cache-Control", "no-cache");
    return c.json(answer as never, 200);
  },
);

ooniRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/test-list/urls",
    tags: ["ooni"],
    summary: "OONI's test-list URLs for a country (plus global), filtered by category",
    request: { query: TestListUrlsQuery },
    responses: { 200: jsonContent(TestListUrlsResponse, "URLs in OONI's shape"), ...errorResponses(400) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const cc = q.probe_cc ?? q.country_code ?? "XX";
    const categories = categoryCodes(q.category_codes);
    const limit = q.limit === -1 || q.limit === 0 ? 9999 : q.limit;
    const urls = selectUrls(await urlCandidates(c.var.services.db, cc, categories, limit), cc, categories, limit, Math.random);
    c.header("Cache-Control", "max-age=1");
    return c.json({ metadata: { count: urls.length, current_page: -1, limit: -1, next_url: "", pages: 1 }, results: urls }, 200);
  },
);
