import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../functions/app";
import { decodeCursor, encodeCursor } from "../../functions/lib/cursor";
import { ApiError } from "../../functions/lib/errors";
import { settingsFrom } from "../../functions/lib/settings";

describe("error handling", () => {
  it("an unexpected failure is logged with its request id and answered as a bare 500 envelope (no internals)", async () => {
    const app = createApp();
    app.get("/boom", () => {
      throw new Error("db password is hunter2");
    });
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await app.request("/boom", { headers: { "x-request-id": "req-boom-0001" } }, env);
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toEqual({ error: "internal error", code: "internal" });
    expect(JSON.stringify(body)).not.toContain("hunter2");
    expect(log.mock.calls[0][0]).toContain("req-boom-0001");
    log.mockRestore();
  });

  it("a misconfigured deployment answers 503 misconfigured naming the setting, not the secret", async () => {
    const app = createApp();
    const res = await app.request("/health", {}, { ...env, JWT_SECRET: "short" });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "setting JWT_SECRET must be at least 32 characters", code: "misconfigured" });
  });
});

describe("settings", () => {
  it("builds every URL from PUBLIC_BASE_URL without a trailing slash", () => {
    expect(settingsFrom({ ...env, PUBLIC_BASE_URL: "https://cdn.example.net/" }).publicBaseUrl).toBe("https://cdn.example.net");
  });
  it("rejects a non-numeric TTL and a malformed TEST_HELPERS map", () => {
    expect(() => settingsFrom({ ...env, PROBE_TOKEN_TTL_S: "soon" })).toThrow(ApiError);
    expect(() => settingsFrom({ ...env, TEST_HELPERS: '{"x": 1}' })).toThrow(/TEST_HELPERS/);
  });
  it("GROUP_COMMIT is a switch: on by default, off only when it says off, anything else a misconfiguration", () => {
    expect(settingsFrom({ ...env, GROUP_COMMIT: "" }).groupCommit).toBe(true);
    expect(settingsFrom({ ...env, GROUP_COMMIT: "on" }).groupCommit).toBe(true);
    expect(settingsFrom({ ...env, GROUP_COMMIT: "off" }).groupCommit).toBe(false);
    expect(() => settingsFrom({ ...env, GROUP_COMMIT: "yes" })).toThrow(/GROUP_COMMIT/);
  });
});

describe("cursors", () => {
  it("round-trip their key and reject anything this service did not issue", () => {
    const c = encodeCursor(["2026-01-01T00:00:00.000Z", "id-é"]);
    expect(decodeCursor(c, 2)).toEqual(["2026-01-01T00:00:00.000Z", "id-é"]);
    expect(() => decodeCursor(c, 1)).toThrow(ApiError);
    expect(() => decodeCursor("!!!", 2)).toThrow(ApiError);
    expect(() => decodeCursor(encodeCursor([1]).slice(2), 1)).toThrow(ApiError);
  });
});
