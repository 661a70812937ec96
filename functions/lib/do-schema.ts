/**
 * Versioned storage for a Durable Object's SQLite database (docs/architecture.md "How to add a surface", step 4).
 * The object keeps its schema version in a one-row table; `steps[i]` brings version i to i + 1. Steps are additive
 * (new tables, columns, indexes), so an object created by an older deployment is upgraded on its first use and
 * never loses rows. Step 1 of an object that predates versioning is its schema as it was then, written with
 * `IF NOT EXISTS` (and tolerant of columns already added), so existing objects pass through it unchanged.
 *
 * Each step must be safe to run again (IF NOT EXISTS, addColumn): if the object dies between a step and the version
 * write, the step runs again on the next start. Call it from the constructor inside `ctx.blockConcurrencyWhile`,
 * so no request sees a half-upgraded schema.
 */
export type SchemaStep = (sql: SqlStorage) => void;

export function migrateSchema(sql: SqlStorage, steps: readonly SchemaStep[]): number {
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM schema_version WHERE one = 1").toArray()[0];
  let version = row?.version ?? 0;
  if (version > steps.length) throw new Error(`storage schema version ${version} is newer than this code knows (${steps.length})`);
  for (; version < steps.length; version++) {
    steps[version](sql);
    sql.exec("INSERT OR REPLACE INTO schema_version (one, version) VALUES (1, ?)", version + 1);
  }
  return version;
}

/** ALTER TABLE … ADD COLUMN that is a no-op when the column exists (an object that added it before versioning). */
export function addColumn(sql: SqlStorage, table: string, column: string, definition: string): void {
  try {
    sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  } catch (e) {
    if (!/duplicate column/i.test(String(e))) throw e;
  }
}
