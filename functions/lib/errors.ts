import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Machine codes of the one error envelope `{"error": "<message>", "code": "<code>"}`, and their HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  wrong_credentials: 401,
  invalid_token: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  illegal_transition: 409,
  gone: 410,
  payload_too_large: 413,
  /** The same Idempotency-Key was sent with a different body (draft-ietf-httpapi-idempotency-key-header). */
  idempotency_key_reused: 422,
  upgrade_required: 426,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  bad_gateway: 502,
  gateway_timeout: 504,
  misconfigured: 503,
  unavailable: 503,
  /** A write the database did not confirm: it may or may not have been applied (lib/d1-errors.ts). */
  outcome_unknown: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetail = { path: string; message: string };

/** The only error type handlers throw; `app.onError` renders it as the envelope. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_STATUS[code];
  }
}

export type ErrorEnvelope = { error: string; code: ErrorCode; details?: ErrorDetail[] };

export function envelope(err: ApiError): ErrorEnvelope {
  return err.details ? { error: err.message, code: err.code, details: err.details } : { error: err.message, code: err.code };
}
