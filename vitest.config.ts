import { readFileSync } from "node:fs";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** The school surface's development lease keys, from the committed .dev.vars.example (one source for both). */
function devLeaseKeys(): Record<string, string> {
  const text = readFileSync(path.join(import.meta.dirname, ".dev.vars.example"), "utf8");
  return Object.fromEntries([...text.matchAll(/^(LEASE_[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));
}

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
            // Requests without CF-Connecting-IP (SELF.fetch sends none) are not limited by address here, so suites that
            // log in or register many times are not throttled; test/auth/rate-limits.test.ts sends addresses and is.
            RATE_LIMIT_EXEMPT: "unknown",
            // Minion registry: status polls driven by runDurableObjectAlarm, not by the clock; a short relay timeout.
            MONITOR_INTERVAL_MS: "600000",
            PROXY_TIMEOUT_MS: "300",
            // Campaign tests: a gateway whose fetches the tests intercept, and small pages so paging is exercised.
            GORUSH_URL: "https://gorush.test",
            // ...answering as gorush with core.sync: true does, so an answer without a failed-push log is a delivery.
            GORUSH_SYNC: "on",
            FANOUT_PAGE_SIZE: "3",
            // Few scheduler shards, so probes of one test (and of different tests) share shard objects and their alarms.
            SCHEDULER_SHARDS: "8",
            // One notification per gateway request here: the fetch spy answers per token, and tests running at once must
            // not share a request (their tokens would get one answer). Batches are tested in test/campaigns/gorush.test.ts
            // and end to end against the fake gorush (test/e2e/push-gorush.test.mjs, bench/campaign-fanout.mjs).
            GORUSH_BATCH: "1",
            // School server: development lease keys and a small backup capacity so the limit is exercised.
            ...devLeaseKeys(),
            MAX_CONCURRENT_BACKUPS: "2",
            // OONI hand-off: an upstream whose fetches test/ooni intercepts.
            PROBE_SERVICES_UPSTREAM: "https://upstream.ooni.test",
            // Mesh CA: the development key of .dev.vars.example (a private P-256 JWK).
            MESH_CA_KEY:
              '{"kty":"EC","crv":"P-256","x":"tfPk2u2NVIpX8B2MXI0yqGdBGlSP6KRhZy7gzCvAnVo","y":"iAg_0IiUaPfyG_EL9HdGJjdcXlLJHk5iqyezoFp4Y-0","d":"mxYyJp3OpooaM7wQnXes0TVuWw5234Mpylxkk85bM3w"}',
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
