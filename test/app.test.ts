import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("the service shell", () => {
  it("GET /health answers without touching storage", async () => {
    const r = await call("GET", "/health");
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
  });

  it("every response carries a request id, echoing a sane incoming one", async () => {
    const r = await call("GET", "/health", { headers: { "x-request-id": "trace-12345678" } });
    expect(r.headers.get("x-request-id")).toBe("trace-12345678");
    const r2 = await call("GET", "/health", { headers: { "x-request-id": "<script>" } });
    expect(r2.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("unknown routes and wrong methods get the JSON envelope with 404", async () => {
    const r = await call("GET", "/nope");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: "no route for GET /nope", code: "not_found" });
    expect((await call("DELETE", "/api/v1/register")).body.code).toBe("not_found");
  });

  it("serves an OpenAPI 3.1 document describing the validated routes and the error envelope", async () => {
    const r = await call("GET", "/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    expect(r.body.servers[0].url).toBe("https://probes.example.org");
    for (const p of ["/api/v1/register", "/api/v1/login", "/api/v1/update/{client_id}", "/api/v1/admin/clients", "/api/v1/test-helpers"]) {
      expect(r.body.paths[p], p).toBeDefined();
    }
    expect(r.body.components.schemas.Error.properties.code).toBeDefined();
    expect(r.body.components.schemas.RegisterRequest.required).toContain("probe_cc");
  });
});
