import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { recordAudit } from "../../functions/audit/store";
import { dbFrom } from "../../functions/lib/db";
import { type Browser, consoleSessions, get } from "../console/helpers";

const db = dbFrom(env.DB);

describe("console audit page", () => {
  let admin: Browser;
  let operator: Browser;
  beforeAll(async () => {
    ({ admin, operator } = await consoleSessions("operator"));
    for (let i = 0; i < 60; i++)
      await recordAudit(db, { at: "2026-05-01T00:00:00.000Z", action: "test.page", actor: "system", subject: { kind: "system", id: `p${i}` }, data: { i } });
  });

  it("shows the newest entries first under a 'chain verified up to seq N' banner, in its own nav entry", async () => {
    const head = (await env.DB.prepare("SELECT MAX(seq) AS n FROM audit_log").first<{ n: number }>())!.n;
    const r = await get(admin, "/console/audit");
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/aria-current="page">Audit</);
    expect(r.body).toContain(`Chain verified up to seq ${head}`);
    expect(r.body.indexOf(`>${head}</th>`)).toBeLessThan(r.body.indexOf(`>${head - 1}</th>`));
    expect(r.body).toContain(`href="/console/audit?before=${head - 49}"`);
    const older = await get(admin, `/console/audit?before=${head - 49}`);
    expect(older.body).toContain(`>${head - 50}</th>`);
    expect(older.body).not.toContain(`>${head - 49}</th>`);
  });

  it("names the first broken seq when a row was edited behind the service's back", async () => {
    await env.DB.batch([env.DB.prepare("DROP TRIGGER IF EXISTS audit_log_seal_only"), env.DB.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")]);
    const r = await get(admin, "/console/audit");
    expect(r.body).toContain("Chain broken at seq 5");
  });

  it("is for admins: an operator gets a 403, and a bad page is a 404", async () => {
    expect((await get(operator, "/console/audit")).status).toBe(403);
    expect((await get(admin, "/console/audit?before=abc")).status).toBe(404);
  });
});
