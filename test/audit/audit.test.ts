import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GENESIS, verifyChain } from "../../functions/audit/chain";
import { verifyStoredChain } from "../../functions/audit/queries";
import { auditInsert, recordAudit, sealAudit } from "../../functions/audit/store";
import { dbFrom } from "../../functions/lib/db";
import { createJob } from "../campaigns/helpers";
import { ADMIN, adminToken, call, createOperator } from "../helpers";

const db = dbFrom(env.DB);

type Row = { seq: number; actor: string; action: string; subject_kind: string; subject_id: string; data: string; hash: string | null };
const entries = async (action?: string) =>
  (
    await env.DB.prepare(`SELECT * FROM audit_log ${action ? "WHERE action = ?1" : ""} ORDER BY seq`)
      .bind(...(action ? [action] : []))
      .all<Row>()
  ).results;
const lastSeq = async () => (await env.DB.prepare("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_log").first<{ n: number }>())!.n;

/** What someone with raw database access would do: drop the append-only triggers, then edit. */
async function tamper(sqlText: string, ...binds: unknown[]) {
  await env.DB.batch([env.DB.prepare("DROP TRIGGER IF EXISTS audit_log_seal_only"), env.DB.prepare("DROP TRIGGER IF EXISTS audit_log_no_delete")]);
  await env.DB.prepare(sqlText)
    .bind(...binds)
    .run();
}

const entry = (n: number) => ({
  at: new Date(Date.UTC(2026, 4, 1, 0, 0, n)).toISOString(),
  action: "test.appended",
  actor: "system",
  subject: { kind: "system" as const, id: `n${n}` },
  data: { n },
});

describe("appending and sealing", () => {
  it("concurrent appends from many requests get contiguous seqs and one valid chain", async () => {
    const before = await lastSeq();
    // Appends and sealers racing, as separate isolates would: each is one statement; sealers overlap on purpose.
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? recordAudit(db, entry(i)) : auditInsert(db, entry(i)).run())));
    await Promise.all([sealAudit(db), sealAudit(db), sealAudit(db)]);
    const rows = await entries();
    const mine = rows.filter((r) => r.seq > before);
    expect(mine.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => before + i + 1));
    expect(new Set(mine.map((r) => JSON.parse(r.data).n)).size).toBe(40);
    const check = await verifyStoredChain(db);
    expect(check).toMatchObject({ problem: null, pending: 0, verified: { seq: before + 40 } });
  });

  it("an append in a batch whose other statement fails leaves no entry", async () => {
    const before = await lastSeq();
    await expect(db.batch([auditInsert(db, entry(99)), db.run("INSERT INTO no_such_table VALUES (1)") as never])).rejects.toThrow();
    expect(await lastSeq()).toBe(before);
  });

  it("sealed rows cannot be changed or deleted through the database's own triggers", async () => {
    await recordAudit(db, entry(1));
    const seq = await lastSeq();
    await expect(env.DB.prepare("UPDATE audit_log SET actor = 'x' WHERE seq = ?").bind(seq).run()).rejects.toThrow(/sealed once/);
    await expect(env.DB.prepare("DELETE FROM audit_log WHERE seq = ?").bind(seq).run()).rejects.toThrow(/append-only/);
  });

  it("a page verified against a chain built elsewhere agrees with the stored verification", async () => {
    const rows = await entries();
    expect(await verifyChain(rows as never, { verified: GENESIS, pending: 0, problem: null })).toEqual(await verifyStoredChain(db));
  });
});

describe("hooks: audited actions", () => {
  it("creating and disabling an operator each write an entry naming the admin", async () => {
    const admin = await adminToken();
    const op = await createOperator("viewer");
    expect((await call("DELETE", `/api/v1/admin/operators/${op.username}`, { token: admin })).status).toBe(200);
    const created = (await entries("operator.created")).filter((r) => r.subject_id === op.username);
    const disabled = (await entries("operator.disabled")).filter((r) => r.subject_id === op.username);
    expect(created).toMatchObject([{ actor: "operator:admin", subject_kind: "operator", data: '{"role":"viewer"}' }]);
    expect(disabled).toMatchObject([{ actor: "operator:admin" }]);
  });

  it("logins are audited, succeeded and failed, with the address; a failed one never records the password", async () => {
    const before = await lastSeq();
    await call("POST", "/api/v1/login", { json: ADMIN, headers: { "cf-connecting-ip": "192.0.2.7" } });
    await call("POST", "/api/v1/login", { json: { username: "admin", password: "wrong-password-guess" } });
    await call("POST", "/api/v1/login", { json: { username: "nobody", password: "wrong-password-guess" } });
    const rows = (await entries()).filter((r) => r.seq > before);
    expect(rows.map((r) => [r.action, r.actor, r.subject_id])).toEqual([
      ["login.succeeded", "operator:admin", "admin"],
      ["login.failed", "anonymous", "admin"],
      ["login.failed", "anonymous", "nobody"],
    ]);
    expect(JSON.parse(rows[0].data)).toEqual({ ip: "192.0.2.7" });
    expect(JSON.stringify(rows)).not.toContain("wrong-password-guess");
  });

  it("pausing a campaign twice writes one entry: a guarded no-op leaves none", async () => {
    const admin = await adminToken();
    const id = await createJob(admin);
    expect((await entries("job.created")).filter((r) => r.subject_id === id)).toHaveLength(1);
    await call("POST", `/api/v1/admin/job/${id}/pause`, { token: admin });
    await call("POST", `/api/v1/admin/job/${id}/pause`, { token: admin });
    const paused = (await entries()).filter((r) => r.subject_id === id && r.action !== "job.created");
    expect(paused).toHaveLength(1);
    expect(paused[0].actor).toBe("operator:admin");
  });

  it("marking a machine stolen and recovering it are audited once each", async () => {
    const admin = await adminToken();
    const serial = "SHC0000AUD1";
    expect((await call("POST", "/api/v1/admin/school/stolen", { token: admin, json: { serial } })).status).toBe(200);
    await call("DELETE", `/api/v1/admin/school/stolen/${serial}`, { token: admin });
    await call("DELETE", `/api/v1/admin/school/stolen/${serial}`, { token: admin });
    const rows = (await entries()).filter((r) => r.subject_id === serial);
    expect(rows.map((r) => r.action)).toEqual(["school.machine.stolen", "school.machine.recovered"]);
  });
});

describe("GET /api/v1/admin/audit and /verify", () => {
  it("exports pages oldest first from after_seq, sealed, as JSON or JSON lines", async () => {
    const admin = await adminToken();
    const r = await call("GET", "/api/v1/admin/audit?after_seq=0&limit=2", { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.entries.map((e: Row) => e.seq)).toEqual([1, 2]);
    expect(r.body.next_after_seq).toBe(2);
    expect(r.body.entries[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const l = await call("GET", "/api/v1/admin/audit?after_seq=2&limit=3&format=jsonl", { token: admin });
    expect(l.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = String(l.body)
      .trim()
      .split("\n")
      .map((x) => JSON.parse(x));
    expect(lines.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(lines[0].prev_hash).toBe(r.body.entries[1].hash);
  });

  it("is for admins only; bad paging is a 400", async () => {
    const op = await createOperator("operator");
    expect((await call("GET", "/api/v1/admin/audit", { token: op.token })).status).toBe(403);
    expect((await call("GET", "/api/v1/admin/audit/verify", { token: op.token })).status).toBe(403);
    expect((await call("GET", "/api/v1/admin/audit")).status).toBe(401);
    const admin = await adminToken();
    for (const q of ["after_seq=-1", "limit=0", "limit=5000", "format=xml", "after_seq=abc"])
      expect((await call("GET", `/api/v1/admin/audit?${q}`, { token: admin })).body, q).toMatchObject({ code: "validation_failed" });
  });

  it("verify says ok up to the last seq, then names the first tampered row", async () => {
    const admin = await adminToken();
    const ok = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    expect(ok.body).toMatchObject({ ok: true, problem: null, pending: 0 });
    const head = ok.body.verified_seq as number;
    expect(head).toBe(await lastSeq());
    const original = (await env.DB.prepare("SELECT data FROM audit_log WHERE seq = 3").first<{ data: string }>())!.data;
    await tamper("UPDATE audit_log SET data = ?1 WHERE seq = 3", '{"role":"admin"}');
    const bad = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    expect(bad.body).toMatchObject({ ok: false, verified_seq: 2, problem: { seq: 3, reason: "hash does not match the row's content" } });
    // Put back as it was, the chain verifies again: verification depends on the content only.
    await tamper("UPDATE audit_log SET data = ?1 WHERE seq = 3", original);
    expect((await call("GET", "/api/v1/admin/audit/verify", { token: admin })).body).toMatchObject({ ok: true, verified_seq: head });
  });
});

describe("GET /api/v1/admin/audit/verify after a deletion", () => {
  it("a deleted row is named as the missing seq", async () => {
    const admin = await adminToken();
    await call("POST", "/api/v1/login", { json: ADMIN });
    await call("POST", "/api/v1/login", { json: ADMIN });
    expect((await call("GET", "/api/v1/admin/audit/verify", { token: admin })).body.ok).toBe(true);
    const victim = (await lastSeq()) - 1;
    await tamper("DELETE FROM audit_log WHERE seq = ?1", victim);
    const bad = await call("GET", "/api/v1/admin/audit/verify", { token: admin });
    expect(bad.body).toMatchObject({ ok: false, problem: { seq: victim, reason: `seq ${victim} is missing` } });
  });
});
