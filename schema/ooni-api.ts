import { z } from "@hono/zod-openapi";
import { TestHelpersResponse } from "./probes-api";

// Request/response schemas of the OONI probe-services surface (functions/ooni), shaped as probe-cli sends and reads them.

const CategoryCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{1,16}$/, "must be letters only (e.g. NEWS)");

export const CheckInBody = z
  .object({
    charging: z.boolean().default(false),
    on_wifi: z.boolean().default(false),
    platform: z.string().trim().max(32).default(""),
    probe_asn: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^AS\d{1,10}$/, "must look like AS<number>")
      .default("AS0"),
    probe_cc: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^[A-Z]{2}$/, "must be a two-letter country code (ZZ for unknown)")
      .default("ZZ"),
    run_type: z.enum(["timed", "manual"]).default("timed"),
    software_name: z.string().trim().max(100).default(""),
    software_version: z.string().trim().max(64).default(""),
    web_connectivity: z
      .object({
        category_codes: z
          .union([
            z.array(CategoryCode).max(100),
            z
              .string()
              .max(2000)
              .regex(/^[A-Za-z, ]*$/, "must be comma-separated letters (e.g. NEWS,HUMR)"),
          ])
          .nullish(),
      })
      .nullish(),
  })
  .openapi("CheckInRequest", {
    example: {
      charging: true,
      on_wifi: true,
      platform: "android",
      probe_asn: "AS1234",
      probe_cc: "IT",
      run_type: "timed",
      software_name: "ooniprobe-android",
      software_version: "3.8.0",
      web_connectivity: { category_codes: ["NEWS", "HUMR"] },
    },
  });
export type CheckInBody = z.infer<typeof CheckInBody>;

export const UrlInfo = z.object({ category_code: z.string(), country_code: z.string(), url: z.string() }).openapi("URLInfo");

export const CheckInResponse = z
  .object({
    v: z.literal(1),
    probe_cc: z.string(),
    probe_asn: z.string(),
    probe_network_name: z.string().nullable(),
    utc_time: z.string().openapi({ example: "2026-12-01T10:00:00Z" }),
    conf: z.object({ features: z.record(z.string(), z.boolean()), test_helpers: TestHelpersResponse }),
    tests: z.record(z.string(), z.object({ report_id: z.string(), urls: z.array(UrlInfo).optional() })),
  })
  .openapi("CheckInResponse");

export const TestListCountryQuery = z.object({
  country: z
    .string()
    .trim()
    // No regex flags: OpenAPI patterns have none (with /i the document's pattern was "^...$/i", which nothing matches).
    .regex(/^([A-Za-z]{2}|[Gg][Ll][Oo][Bb][Aa][Ll])$/, 'must be a two-letter country code or "global"')
    .transform((s) => (s.toLowerCase() === "global" ? "XX" : s.toUpperCase()))
    .openapi({ param: { name: "country", in: "query" }, example: "IT" }),
});

export const TestListImported = z
  .object({
    country: z.string(),
    imported: z.number(),
    replaced: z.number(),
    problems: z.array(z.object({ line: z.number(), message: z.string() })),
  })
  .openapi("TestListImported");

export const TestListSummary = z
  .object({ lists: z.array(z.object({ country: z.string(), urls: z.number(), categories: z.number(), imported_at: z.string() })) })
  .openapi("TestListSummary");

export const TestListEntries = z
  .object({
    country: z.string(),
    results: z.array(
      z.object({
        url: z.string(),
        category_code: z.string(),
        category_description: z.string(),
        date_added: z.string(),
        source: z.string(),
        notes: z.string(),
      }),
    ),
  })
  .openapi("TestListEntries");

/** OONI's `GET /api/v1/test-list/urls` query (probe_cc; orchestra's country_code also accepted). */
export const TestListUrlsQuery = z.object({
  probe_cc: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{2}$/)
    .optional(),
  country_code: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{2}$/)
    .optional(),
  category_codes: z
    .string()
    .max(2000)
    .regex(/^[A-Za-z, ]*$/)
    .optional(),
  limit: z.coerce.number().int().min(-1).max(9999).default(-1),
  debug: z.string().optional(),
});

export const TestListUrlsResponse = z
  .object({
    metadata: z.object({ count: z.number(), current_page: z.number(), limit: z.number(), next_url: z.string(), pages: z.number() }),
    results: z.array(UrlInfo),
  })
  .openapi("TestListUrls");

const isHttpUrl = (u: string): boolean => {
  if (!/^https?:\/\/[^\s/?#]+\S*$/i.test(u)) return false;
  try {
    return new URL(u).hostname !== "";
  } catch {
    return false;
  }
};

/** Per-test `arguments` of a campaign task (validated at creation). web_connectivity: the URLs to measure. */
export const WebConnectivityArguments = z
  .object({
    urls: z.array(z.string().max(2048, "must be at most 2,048 characters").refine(isHttpUrl, "must be an http(s) URL")).max(500, "at most 500 URLs").optional(),
  })
  .strict();

export const CampaignFeatures = z
  .record(z.string().min(1).max(64), z.boolean())
  .refine((m) => Object.keys(m).length <= 50, "at most 50 features")
  .openapi({ description: 'Check-in feature flags for the probes this campaign targets, e.g. {"torsf_enabled": true}' });

export const CampaignMeasurement = z.object({
  measurement_uid: z.string(),
  report_id: z.string(),
  input: z.string().nullable(),
  probe_cc: z.string(),
  probe_asn: z.string(),
  submitted_at: z.string(),
});

export const TestListCountryParam = z.object({
  country: z
    .string()
    .trim()
    // No regex flags: OpenAPI patterns have none (with /i the document's pattern was "^...$/i", which nothing matches).
    .regex(/^([A-Za-z]{2}|[Gg][Ll][Oo][Bb][Aa][Ll])$/, 'must be a two-letter country code or "global"')
    .transform((s) => (s.toLowerCase() === "global" ? "XX" : s.toUpperCase()))
    .openapi({ param: { name: "country", in: "path" }, example: "IT" }),
});

// Measurement hand-off: the bodies probe-cli sends, checked before they are relayed (OONI's backend refuses the same).
const MeasurementContent = z
  .object({
    report_id: z.string().max(300).optional(),
    input: z.union([z.string().max(10_000), z.null()]).optional(),
    probe_cc: z.string().max(10).optional(),
    probe_asn: z.string().max(20).optional(),
    test_name: z.string().max(64).optional(),
    software_name: z.string().max(100).optional(),
    software_version: z.string().max(64).optional(),
  })
  .passthrough();

export const SubmitMeasurementBody = z
  .object({
    format: z.literal("json"),
    content: z.string().min(2),
    nym: z.string().nullish(),
    zkp_request: z.string().nullish(),
    manifest_version: z.string().nullish(),
    protocol_version: z.string().nullish(),
  })
  .passthrough()
  .openapi("SubmitMeasurementRequest");

export const OpenReportBody = z
  .object({
    data_format_version: z.string().max(16),
    format: z.string().max(16),
    probe_asn: z.string().max(20).default("AS0"),
    probe_cc: z.string().max(10).default("ZZ"),
    software_name: z.string().max(100),
    software_version: z.string().max(64),
    test_name: z.string().max(64).default(""),
    test_start_time: z.string().max(64),
    test_version: z.string().max(64),
  })
  .passthrough()
  .openapi("OpenReportRequest");

export const ReportUpdateBody = z
  .object({ format: z.enum(["json", "yaml"]), content: z.union([MeasurementContent, z.string()]) })
  .passthrough()
  .openapi("ReportUpdateRequest");
export { MeasurementContent };

export const MeasurementMetaQuery = z
  .object({
    measurement_uid: z.string().max(200).optional(),
    report_id: z.string().max(300).optional(),
    input: z.string().max(10_000).optional(),
    full: z.enum(["true", "false"]).optional(),
  })
  .refine((q) => q.measurement_uid || q.report_id, { message: "measurement_uid or report_id is required", path: ["report_id"] });
