import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { dbFrom } from "../../functions/lib/db";
import { inJsonList, startsWith } from "../../functions/lib/sql-lists";

const db = dbFrom(env.DB);
const col = sql.raw("v");

beforeAll(async () => {
  await env.DB.batch([
    env.DB.prepare("CREATE TABLE IF NOT EXISTS sql_lists_t (v TEXT)"),
    env.DB.prepare("DELETE FROM sql_lists_t"),
    ...["task.done", "task.notified", "taskXdone", "task", "tasks.x", "push_sent", "pushasent", "push.sent", "Task.done", "tasl"].map((v) =>
      env.DB.prepare("INSERT INTO sql_lists_t (v) VALUES (?)").bind(v),
    ),
  ]);
});

const values = async (where: ReturnType<typeof sql>) => (await db.all<{ v: string }>(sql`SELECT v FROM sql_lists_t WHERE ${where} ORDER BY v`)).map((r) => r.v);

describe("inJsonList", () => {
  it("binds one parameter for a list of any length", () => {
    const many = Array.from({ length: 500 }, (_, i) => `v${i}`);
    const q = db.select({ n: sql`1` }).from(sql`sql_lists_t`).where(inJsonList(col, many)).toSQL();
    expect(q.params).toHaveLength(1);
    expect(JSON.parse(q.params[0] as string)).toEqual(many);
  });

  it("matches exactly the listed values, and nothing for an empty list", async () => {
    expect(await values(inJsonList(col, ["task.done", "push.sent", "absent"]))).toEqual(["push.sent", "task.done"]);
    expect(await values(inJsonList(col, []))).toEqual([]);
  });
});

describe("startsWith", () => {
  it("matches the values that start with the prefix, case-sensitively, with _ and % as plain characters", async () => {
    expect(await values(startsWith(col, "task."))).toEqual(["task.done", "task.notified"]);
    expect(await values(startsWith(col, "push_"))).toEqual(["push_sent"]);
    expect(await values(startsWith(col, "task"))).toEqual(["task", "task.done", "task.notified", "taskXdone", "tasks.x"]);
    expect(await values(startsWith(col, "%"))).toEqual([]);
  });

  it("uses a range, not LIKE, whatever the prefix's length (D1 refuses LIKE patterns over 50 bytes)", async () => {
    const long = `task.${"x".repeat(55)}`;
    const q = db.select({ n: sql`1` }).from(sql`sql_lists_t`).where(startsWith(col, long)).toSQL();
    expect(q.sql).not.toMatch(/like/i);
    expect(q.params).toEqual([long, `task.${"x".repeat(54)}y`]);
    expect(await values(startsWith(col, long))).toEqual([]);
  });

  it("an empty prefix matches every value", async () => {
    expect(await values(startsWith(col, ""))).toHaveLength(10);
  });
});
