import { z } from "@hono/zod-openapi";
import { clientIdKey, isClientId, MAX_CLIENT_ID_LENGTH } from "../functions/lib/ids";
import { MAX_LIST_VALUES } from "../functions/lib/sql-lists";

// Request/response schemas of the registry surface. Unknown extra fields are stripped, never fatal.
const bounded = (max: number) => z.string().trim().min(1).max(max);
const token = z.string().trim().max(4096);

export const CountryCode = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z]{2}$/, "must be a two-letter country code (ISO 3166-1 alpha-2, ZZ for unknown)")
  .openapi({ example: "IT" });
export const Asn = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^AS\d{1,10}$/, "must look like AS<number>")
  .openapi({ example: "AS1234" });
export const Platform = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9_.-]{1,32}$/, "must be 1-32 characters of a-z, 0-9, _ . -")
  .openapi({ example: "android" });
export const TestName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of letters, digits, _ . -");

const metadataFields = {
  probe_cc: CountryCode,
  probe_asn: Asn,
  platform: Platform,
  software_name: bounded(100),
  software_version: bounded(64),
  supported_tests: z.array(TestName).min(1).max(100),
  network_type: z.string().trim().max(32).optional(),
  available_bandwidth: z.union([z.string().trim().max(32), z.number().finite().nonnegative()]).optional(),
  software_language: z.string().trim().max(35).optional(),
  language: z.string().trim().max(35).optional(),
  token: token.optional(),
  device_token: token.optional(),
  probe_family: z.string().trim().max(64).optional(),
  probe_id: z.string().trim().max(128).optional(),
};

export const RegisterBody = z.object({ ...metadataFields, password: z.string().min(1).max(1024).optional() }).openapi("RegisterRequest", {
  example: {
    probe_cc: "IT",
    probe_asn: "AS1234",
    platform: "android",
    software_name: "ooniprobe-android",
    software_version: "3.8.0",
    supported_tests: ["web_connectivity"],
    network_type: "wifi",
    available_bandwidth: "100",
    software_language: "en",
    token: "fcm-registration-token",
  },
});
export type RegisterBody = z.infer<typeof RegisterBody>;

/** Update takes any subset of the metadata; only what is sent changes. */
export const UpdateBody = z.object(metadataFields).partial().openapi("UpdateRequest");
export type UpdateBody = z.infer<typeof UpdateBody>;

/** A UUID register issued, or an id adopted at login (OONI's ~132-character tokens); given back in its stored form. */
export const ClientIdParam = z.object({
  client_id: z
    .string()
    .max(MAX_CLIENT_ID_LENGTH)
    .refine(isClientId, "must be a client_id: a UUID this service issued, or an adopted OONI client_id (65-1,024 characters of A-Z a-z 0-9 . _ ~ + / = -)")
    .transform(clientIdKey)
    .openapi({ param: { name: "client_id", in: "path" } }),
});

export const RegisterResponse = z.object({ client_id: z.string() }).openapi("RegisterResponse");
export const StatusOk = z.object({ status: z.literal("ok") });

export const TestHelpersResponse = z
  .record(z.string(), z.array(z.object({ address: z.string(), type: z.string(), front: z.string().optional() })))
  .openapi("TestHelpers");

export const TOKEN_STATES = ["none", "valid", "expired"] as const;

/** A comma-separated list filter of at most MAX_LIST_VALUES values (each bound as one parameter, lib/sql-lists.ts). */
const csv = <T extends string>(item: z.ZodType<T, string>, max = MAX_LIST_VALUES) =>
  z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== ""),
    )
    .pipe(z.array(item).max(max, `at most ${max} values`));

export const ClientListQuery = z.object({
  country: csv(CountryCode).optional().openapi({ description: "comma-separated country codes", example: "IT,GR" }),
  country_code: csv(CountryCode).optional().openapi({ description: "OONI Orchestra's name for `country`" }),
  asn: csv(Asn).optional(),
  platform: csv(Platform).optional(),
  network_type: csv(z.string().trim().min(1).max(32)).optional(),
  software_name: csv(bounded(100)).optional(),
  software_version: csv(bounded(64)).optional(),
  token_state: csv(z.enum(TOKEN_STATES)).optional(),
  last_seen_after: z.iso.datetime({ offset: true }).optional(),
  last_seen_before: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional(),
});
export type ClientListQuery = z.infer<typeof ClientListQuery>;

export const Client = z
  .object({
    client_id: z.string(),
    probe_cc: z.string(),
    probe_asn: z.string(),
    platform: z.string(),
    software_name: z.string(),
    software_version: z.string(),
    supported_tests: z.array(z.string()),
    network_type: z.string().nullable(),
    available_bandwidth: z.string().nullable(),
    language: z.string().nullable(),
    probe_family: z.string().nullable(),
    probe_id: z.string().nullable(),
    token_state: z.enum(TOKEN_STATES),
    has_password: z.boolean(),
    creation_time: z.string(),
    last_updated: z.string(),
    last_seen: z.string(),
  })
  .openapi("Client");

export const ClientList = z
  .object({
    results: z.array(Client),
    metadata: z.object({
      count: z.number(),
      total_client_count: z.number(),
      client_countries: z.array(z.object({ probe_cc: z.string(), count: z.number() })),
      limit: z.number(),
      next_cursor: z.string().nullable(),
      next_url: z.string().nullable(),
    }),
  })
  .openapi("ClientList");

export const ClientDetail = Client.extend({
  updates: z.array(
    z.object({ at: z.string(), update_type: z.enum(["register", "update"]), changed: z.array(z.string()), snapshot: z.record(z.string(), z.unknown()) }),
  ),
}).openapi("ClientDetail");
