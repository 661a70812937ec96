import type { Context } from "hono";
import type { ErrorDetail } from "../lib/errors";
import type { ConsoleEnv } from "./session";

/** The Worker's own app, called in-process: console writes go through the API's validation, authorization and events. */
export type ApiClient = {
  request: (input: string, init: RequestInit, env: Env, ctx?: ExecutionContext) => Response | Promise<Response>;
};

export type ApiReply<T = unknown> = { ok: true; status: number; body: T } | { ok: false; status: number; error: string; code: string; details?: ErrorDetail[] };

/**
 * One API call as the signed-in operator (the session's own token as Bearer), e.g. a console form's create.
 * The request id travels along so the API's logs and the console's line up.
 */
export async function callApi<T = unknown>(
  c: Context<ConsoleEnv>,
  api: ApiClient,
  method: string,
  path: string,
  opts: { json?: unknown; text?: { body: string; type: string }; token?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiReply<T>> {
  const headers: Record<string, string> = { ...opts.headers, "x-request-id": c.var.requestId };
  // The browser's address, so the API's per-address limits (login) count the operator, not the console.
  for (const h of ["cf-connecting-ip", "x-forwarded-for"]) {
    const v = c.req.header(h);
    if (v !== undefined) headers[h] = v;
  }
  const token = opts.token === undefined ? c.get("session")?.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.text !== undefined) {
    // A non-JSON body the route reads itself (e.g. a CSV test list), with its media type.
    headers["content-type"] = opts.text.type;
    body = opts.text.body;
  }
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined; // app.request() in unit tests has no execution context
  }
  const res = await api.request(path, { method, headers, body }, c.env, ctx);
  const parsed = (await res.json().catch(() => null)) as { error?: unknown; code?: unknown; details?: unknown } | null;
  if (res.ok) return { ok: true, status: res.status, body: parsed as T };
  return {
    ok: false,
    status: res.status,
    error: typeof parsed?.error === "string" ? parsed.error : `the API answered ${res.status}`,
    code: typeof parsed?.code === "string" ? parsed.code : "internal",
    details: Array.isArray(parsed?.details) ? (parsed.details as ErrorDetail[]) : undefined,
  };
}
