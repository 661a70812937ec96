import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addColumn, migrateSchema } from "../../functions/lib/do-schema";

const fresh = () => env.CAMPAIGN_RUNNER.getByName(`schema-${crypto.randomUUID()}`);
const version = (sql: SqlStorage) => sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version;

describe("versioned Durable Object storage", () => {
  it("a new object is at the latest version of its schema", async () => {
    await runInDurableObject(fresh(), (_o, state) => {
      expect(version(state.storage.sql)).toBe(2);
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'runs'").toArray()).toHaveLength(1);
    });
  });

  it("an object created before versioning keeps its rows: step 1 passes over them and only the version is added", async () => {
    await runInDurableObject(fresh(), (_o, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE schema_version");
      sql.exec("INSERT INTO runs (run_id, job_id, run_at, state, pace) VALUES ('r', 'j', 1, 'paging', '{}')");
      const steps = [
        (s: SqlStorage) => {
          s.exec("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY)");
          addColumn(s, "runs", "pace", "TEXT");
        },
      ];
      expect(migrateSchema(sql, steps)).toBe(1);
      expect(sql.exec("SELECT run_id, pace FROM runs").toArray()).toEqual([{ run_id: "r", pace: "{}" }]);
    });
  });

  it("a later step runs once, on the first start after it was added", async () => {
    await runInDurableObject(fresh(), (_o, state) => {
      const sql = state.storage.sql;
      let ran = 0;
      // The runner's own schema has two steps; this one is a third, added by a later deployment.
      const steps = [
        () => {},
        () => {},
        (s: SqlStorage) => {
          ran++;
          addColumn(s, "runs", "note", "TEXT");
        },
      ];
      expect(migrateSchema(sql, steps)).toBe(3);
      expect(migrateSchema(sql, steps)).toBe(3);
      expect(ran).toBe(1);
      expect(sql.exec("SELECT note FROM runs").toArray()).toEqual([]);
    });
  });

  it("storage newer than the code is refused rather than misread", async () => {
    await runInDurableObject(fresh(), (_o, state) => {
      expect(() => migrateSchema(state.storage.sql, [])).toThrow(/newer than this code knows/);
    });
  });
});
