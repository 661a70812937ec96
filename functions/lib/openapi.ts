import { z } from "@hono/zod-openapi";
import { ERROR_STATUS } from "./errors";

export const ErrorEnvelope = z
  .object({
    error: z.string().openapi({ example: "invalid request: probe_cc: must be a two-letter country code" }),
    code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error");

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input (malformed JSON, wrong types, missing fields, bad formats)",
  401: "Missing, malformed, expired or wrong credentials",
  403: "Authenticated, but not allowed to do this",
  404: "Not found",
  408: "Timed out",
  409: "Conflicts with the current state",
  410: "Gone",
  413: "Request body too large",
  422: "The Idempotency-Key was already used for a different request body",
  429: "Rate limited",
  503: "Unavailable (Retry-After). `outcome_unknown`: the write may or may not have been applied; send the same request again to learn which",
};

/** The documented error responses of a route, all in the one envelope. */
export function errorResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? "Error", content: { "application/json": { schema: ErrorEnvelope } } }]),
  ) as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorEnvelope } } }>;
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A required JSON body: with `required: true` a wrong Content-Type or an empty body is validated (and rejected). */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}
