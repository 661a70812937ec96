import { describe, expect, it } from "vitest";
import { locate, testsAnswer } from "../../functions/ooni/checkin";
import { featuresFor, OONI_DEFAULT_FEATURES } from "../../functions/ooni/features";
import { asnNumber, parseReportId, reportId } from "../../functions/ooni/report-id";
import { csvRecords, parseTestList } from "../../functions/ooni/test-list-csv";
import { categoryCodes, mergeCampaignUrls, selectUrls, urlLimit, type UrlInfo } from "../../functions/ooni/url-selection";
import { runsClaiming, runsReaching, type OpenRun } from "../../functions/ooni/campaign-reach";

const seq = () => {
  let i = 0;
  return () => (((i++ * 0.37) % 1) + 1) % 1;
};

describe("report_id", () => {
  it("follows OONI's format: timestamp, test without _, CC, ASN number, n<collector>, 16 chars of base64 with o altchars", () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const id = reportId("web_connectivity", "IT", 1234, "1", new Date("2026-12-01T10:20:30.456Z"), bytes);
    expect(id).toMatch(/^20261201T102030Z_webconnectivity_IT_1234_n1_[A-Za-z0-9]{16}$/);
    expect(id).not.toMatch(/[+/=]/);
    expect(id.split("_")).toHaveLength(6);
    expect(parseReportId(id)).toMatchObject({ testName: "webconnectivity", cc: "IT", asn: 1234, collector: "1" });
  });

  it("parses only OONI-shaped ids", () => {
    for (const bad of [
      "",
      "x",
      "20261201T102030Z_webconnectivity_IT_1234_n1",
      "2026_webconnectivity_IT_1234_n1_abc",
      "20261201T102030Z_web_connectivity_IT_1234_n1_abc",
    ])
      expect(parseReportId(bad), bad).toBeNull();
  });

  it("reads AS numbers as OONI does: AS1234 → 1234, anything else → 0", () => {
    expect(asnNumber("AS1234")).toBe(1234);
    expect(asnNumber("as7")).toBe(7);
    expect(asnNumber("1234")).toBe(0);
  });
});

describe("URL selection", () => {
  const list = (cc: string, n: number, cat = "NEWS"): UrlInfo[] =>
    Array.from({ length: n }, (_, i) => ({ url: `https://${cc}${i}.example/`, category_code: cat, country_code: cc }));

  it("gives manual runs up to 9999 URLs, charging timed runs 100, other timed runs 20", () => {
    expect(urlLimit("manual", false)).toBe(9999);
    expect(urlLimit("manual", true)).toBe(9999);
    expect(urlLimit("timed", true)).toBe(100);
    expect(urlLimit("timed", false)).toBe(20);
  });

  it("accepts category codes as a list or OONI's comma-separated string", () => {
    expect(categoryCodes(["news", " HUMR", ""])).toEqual(["NEWS", "HUMR"]);
    expect(categoryCodes("NEWS,HUMR,,news")).toEqual(["NEWS", "HUMR"]);
    expect(categoryCodes(undefined)).toEqual([]);
  });

  it("puts the probe's country first, then global, without repeats, cut to the limit", () => {
    const dup = { url: "https://IT0.example/", category_code: "NEWS", country_code: "XX" };
    const out = selectUrls([...list("XX", 30), ...list("IT", 5), dup], "IT", [], 20, seq());
    expect(out).toHaveLength(20);
    expect(out.slice(0, 5).every((u) => u.country_code === "IT")).toBe(true);
    expect(new Set(out.map((u) => u.url)).size).toBe(20);
  });

  it("filters by requested categories; none requested means all", () => {
    const c = [...list("XX", 3, "NEWS"), ...list("IT", 3, "HUMR")];
    expect(selectUrls(c, "IT", ["HUMR"], 20, seq()).map((u) => u.category_code)).toEqual(["HUMR", "HUMR", "HUMR"]);
    expect(selectUrls(c, "IT", [], 20, seq())).toHaveLength(6);
  });

  it("puts a campaign's URLs first, whatever the limit, and fills the rest from the list", () => {
    const known = new Map([["https://a.example/", "HUMR"]]);
    const out = mergeCampaignUrls(["https://a.example/", "https://b.example/", "https://a.example/"], list("XX", 30), "IT", 5, known);
    expect(out.slice(0, 2)).toEqual([
      { url: "https://a.example/", category_code: "HUMR", country_code: "IT" },
      { url: "https://b.example/", category_code: "MISC", country_code: "IT" },
    ]);
    expect(out).toHaveLength(5);
    expect(
      mergeCampaignUrls(
        Array.from({ length: 30 }, (_, i) => `https://c${i}.example/`),
        list("XX", 3),
        "IT",
        20,
        new Map(),
      ),
    ).toHaveLength(30);
  });
});

describe("Citizen Lab CSV", () => {
  const HEADER = "url,category_code,category_description,date_added,source,notes";

  it("reads quoted fields with commas, doubled quotes and line breaks", () => {
    expect(csvRecords('a,"b,c","say ""hi""","x\ny"\r\nz,1\n').map((r) => r.fields)).toEqual([
      ["a", "b,c", 'say "hi"', "x\ny"],
      ["z", "1"],
    ]);
  });

  it("parses a list and reports each bad row with its line", () => {
    const csv = [
      HEADER,
      "https://a.example/,NEWS,News Media,2017-04-12,citizenlab,",
      "ftp://b.example/,NEWS,,,,",
      "https://c.example/,N3WS,,,,",
      "https://a.example/,NEWS,,,,",
    ].join("\n");
    const r = parseTestList(csv);
    expect(r.entries).toEqual([
      { url: "https://a.example/", category_code: "NEWS", category_description: "News Media", date_added: "2017-04-12", source: "citizenlab", notes: "" },
    ]);
    expect(r.problems.map((p) => p.line)).toEqual([3, 4, 5]);
  });

  it("refuses a file without Citizen Lab's header", () => {
    expect(parseTestList("url,category\nhttps://a.example/,NEWS").problems[0].message).toMatch(/header/);
    expect(parseTestList("").problems).toHaveLength(1);
  });
});

describe("features and location", () => {
  it("starts from OONI's features and lets each targeting campaign override, newest last", () => {
    expect(featuresFor(OONI_DEFAULT_FEATURES, [{ torsf_enabled: true }, { torsf_enabled: false, x: true }])).toEqual({
      ...OONI_DEFAULT_FEATURES,
      torsf_enabled: false,
      x: true,
    });
  });

  it("keeps what the probe says, and uses the edge's country and ASN only for ZZ / AS0", () => {
    expect(locate({ probeCc: "IT", probeAsn: "AS1234" }, { country: "DE", asn: 3320, asOrganization: "DTAG" })).toEqual({
      probeCc: "IT",
      probeAsn: "AS1234",
      networkName: null,
    });
    expect(locate({ probeCc: "ZZ", probeAsn: "AS0" }, { country: "DE", asn: 3320, asOrganization: "DTAG" })).toEqual({
      probeCc: "DE",
      probeAsn: "AS3320",
      networkName: "DTAG",
    });
    expect(locate({ probeCc: "ZZ", probeAsn: "AS0" }, {})).toEqual({ probeCc: "ZZ", probeAsn: "AS0", networkName: null });
  });

  it("hands a report_id to every test OONI's backend lists, URLs only under web_connectivity", () => {
    const t = testsAnswer("IT", "AS1234", "1", new Date(), [{ url: "https://a/" }], "R");
    expect(Object.keys(t)).toHaveLength(21);
    expect(t.web_connectivity).toEqual({ report_id: "R", urls: [{ url: "https://a/" }] });
    expect(t.ndt.report_id).toMatch(/_ndt_IT_1234_n1_/);
  });
});

describe("campaign reach", () => {
  const run = (over: Partial<OpenRun>): OpenRun => ({
    jobId: "j",
    runId: "r",
    testName: "web_connectivity",
    target: { countries: [], platforms: [], asns: [], network_types: [], software_names: [], supported_tests: [] },
    urls: [],
    features: null,
    createdAt: "",
    ...over,
  });
  const probe = {
    probeId: null,
    probeCc: "IT",
    probeAsn: "AS1",
    platform: "android",
    softwareName: "ooniprobe-android",
    softwareVersion: "3",
    networkType: "wifi",
    supportedTests: ["web_connectivity"],
  };

  it("reaches probes matching the target by country, ASN, platform, software and network", () => {
    const t = (x: Record<string, string[]>) => run({ target: { ...run({}).target, ...x } });
    expect(runsReaching([t({ countries: ["IT"] }), t({ countries: ["DE"] })], probe)).toHaveLength(1);
    expect(runsReaching([t({ asns: ["AS1"], platforms: ["android"], software_names: ["ooniprobe-android"], network_types: ["wifi"] })], probe)).toHaveLength(1);
    expect(runsReaching([t({ network_types: ["mobile"] })], probe)).toHaveLength(0);
    expect(runsReaching([t({ supported_tests: ["ndt"] })], probe)).toHaveLength(0);
  });

  it("reaches probes through another test's campaign only when it sets features", () => {
    expect(runsReaching([run({ testName: "ndt" })], probe)).toHaveLength(0);
    expect(runsReaching([run({ testName: "ndt", features: { x: true } })], { ...probe, supportedTests: ["web_connectivity", "ndt"] })).toHaveLength(1);
  });

  it("claims a measurement for a run that named its URL, or for one that named none", () => {
    const runs = [run({ runId: "a", urls: ["https://a/"] }), run({ runId: "b", urls: [] })];
    expect(runsClaiming(runs, "https://a/").map((r) => r.runId)).toEqual(["a", "b"]);
    expect(runsClaiming(runs, "https://z/").map((r) => r.runId)).toEqual(["b"]);
  });
});
