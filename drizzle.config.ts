import { defineConfig } from "drizzle-kit";

// Migrations are generated into migrations/ and applied by `wrangler d1 migrations apply` and by the test setup.
export default defineConfig({
  dialect: "sqlite",
  schema: "./schema/tables.ts",
  out: "./migrations",
});
