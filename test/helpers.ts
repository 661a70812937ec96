import { exports } from "cloudflare:workers";

export const BASE = "https://probes.example.org";
export const ADMIN = { username: "admin", password: "test-admin-password" };

export type Reply<T = any> = { status: number; body: T; headers: Headers };

/** Call the Worker as a client would: real routing, middleware, D1. */
export async function call<T = any>(
  method: string,
  path: string,
  opts: { json?: unknown; raw?: BodyInit; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: BodyInit | undefined = opts.raw;
  if (opts.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(opts.json);
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await (exports as unknown as { default: Fetcher }).default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** The seed's register body (ooni/orchestra README), plus a push token. */
export function seedProbe(over: Record<string, unknown> = {}) {
  return {
    probe_cc: "IT",
    probe_asn: "AS1234",
    platform: "android",
    software_name: "ooniprobe-android",
    software_version: "2.0.0",
    supported_tests: ["web_connectivity", "http_invalid_request_line"],
    network_type: "wifi",
    available_bandwidth: "100",
    software_language: "en",
    token: "fcm-token-1",
    ...over,
  };
}

/** probe-cli's password: 64 random letters. */
export function probeSecret(): string {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const bytes = crypto.getRandomValues(new Uint8Array(64));
  return Array.from(bytes, (b) => letters[b % letters.length]).join("");
}

export async function adminToken(): Promise<string> {
  const r = await call("POST", "/api/v1/login", { json: ADMIN });
  if (r.status !== 200) throw new Error(`admin login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export async function registerProbe(over: Record<string, unknown> = {}): Promise<{ clientId: string; password?: string; token?: string }> {
  const password = "password" in over ? (over.password as string | undefined) : probeSecret();
  const r = await call("POST", "/api/v1/register", { json: seedProbe({ ...over, password }) });
  if (r.status !== 200) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  const clientId = r.body.client_id as string;
  if (!password) return { clientId };
  const l = await call("POST", "/api/v1/login", { json: { username: clientId, password } });
  return { clientId, password, token: l.body.token };
}

export async function createOperator(role: "admin" | "operator" | "viewer", username = `${role}-${crypto.randomUUID().slice(0, 8)}`) {
  const password = "correct horse battery staple";
  const r = await call("POST", "/api/v1/admin/operators", { json: { username, password, role }, token: await adminToken() });
  if (r.status !== 201) throw new Error(`create operator failed: ${r.status} ${JSON.stringify(r.body)}`);
  const l = await call("POST", "/api/v1/login", { json: { username, password } });
  return { username, password, token: l.body.token as string };
}
