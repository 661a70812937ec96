import { type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/**
 * Most values a caller may name in one list filter (a campaign's countries, a probe listing's ASNs, ...). The
 * request schemas refuse longer lists with a 400; `inJsonList` itself binds one parameter whatever the length.
 */
export const MAX_LIST_VALUES = 500;

/**
 * `column IN (the values)` as ONE bound parameter: the list travels as a JSON array and `json_each` unpacks it.
 * Production D1 refuses a statement with more than 100 bound parameters (local D1 does not), so drizzle's
 * `inArray`, which binds one parameter per value, breaks as soon as a filter names about a hundred values. SQLite
 * still answers `IN (SELECT ...)` from the column's index. An empty list matches nothing, as `inArray` does.
 */
export function inJsonList(column: SQLiteColumn | SQL, values: readonly (string | number)[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

/**
 * `column` starts with `prefix`, as a range on the column instead of `LIKE 'prefix%'`: production D1 refuses LIKE
 * patterns over 50 bytes, LIKE treats `_` and `%` in the prefix as wildcards and folds ASCII case, and a range is
 * answered from the column's index. The upper bound is the prefix with its last UTF-16 code unit incremented, the
 * least string greater than every string that starts with the prefix (under SQLite's BINARY collation, UTF-8 byte
 * order agrees with code point order). An empty prefix matches every value.
 */
export function startsWith(column: SQLiteColumn | SQL, prefix: string): SQL {
  if (prefix === "") return sql`${column} IS NOT NULL`;
  const last = prefix.charCodeAt(prefix.length - 1);
  if ((last >= 0xd7ff && last <= 0xdfff) || last === 0xffff) throw new RangeError("startsWith: the prefix must not end with a surrogate or U+FFFF");
  const upper = prefix.slice(0, -1) + String.fromCharCode(last + 1);
  return sql`(${column} >= ${prefix} AND ${column} < ${upper})`;
}
