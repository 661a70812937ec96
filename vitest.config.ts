import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789",
            ADMIN_PASSWORD: "test-admin-password",
            PUBLIC_BASE_URL: "https://probes.example.org",
            // This pool's runner cannot settle one request's promise from another request's context, so concurrent
            // requests here must not share a D1 batch (they would hang). Sharing is tested in test/lib/d1-commit.test.ts
            // (one context) and end to end against wrangler dev (test/e2e/probes-burst.test.mjs, campaigns.test.mjs).
            GROUP_COMMIT: "off",
            // Minion registry: status polls driven by runDurableObjectAlarm, not by the clock; a short relay timeout.
            MONITOR_INTERVAL_MS: "600000",
            PROXY_TIMEOUT_MS: "300",
            // Campaign tests: a gateway whose fetches the tests intercept, and small pages so paging is exercised.
            GORUSH_URL: "https://gorush.test",
            FANOUT_PAGE_SIZE: "3",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      exclude: ["test/e2e/**", "node_modules/**"],
      setupFiles: ["./test/apply-migrations.ts"],
    },
  };
});
