import { DurableObject } from "cloudflare:workers";
import { deliveriesRecorded, eventsInsert, probeInfos, tasksCreated, tasksTimedOut } from "../functions/campaigns/bulk";
import {
  afterRecord,
  budgetOf,
  deliveryOutcome,
  type LocalChange,
  type Occurrence,
  type OccurrenceRow,
  occurrenceTaskId,
  PUSH_LOG_WINDOW_MS,
  payloadOf,
  planSend,
  providerFor,
  pushMessage,
  type Recorded,
  signedPingbackUrl,
} from "../functions/campaigns/delivery";
import { campaignSettings } from "../functions/campaigns/settings";
import { runBatch } from "../functions/campaigns/store";
import type { NewEvent } from "../functions/events/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import { dbFrom } from "../functions/lib/db";
import { addColumn, migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { log } from "../functions/lib/log";
import { pushConfigFrom } from "../functions/push/config";
import type { PushMessage, PushProvider, PushResult, PushTarget } from "../functions/push/types";

const RETAIN_CLOSED_MS = 30 * 86_400_000;
const ERROR_BACKOFF_MS = 30_000;
/** What a claim covers beyond one push request's timeout: the reads and writes around it. */
const LEASE_MARGIN_MS = 60_000;
/** An alarm starts no new push request after this long; the rows it did not get to are released for the next alarm. */
const SEND_BUDGET_MS = 120_000;

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: occurrences (states in functions/campaigns/delivery.ts) and when this device was last pushed (its push budget looks back one hour).
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS occurrences (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_id TEXT NOT NULL, probe_id TEXT NOT NULL, kind TEXT NOT NULL,
      task_id TEXT, payload TEXT NOT NULL, send_at INTEGER NOT NULL, expire_at INTEGER NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER, outcome TEXT, created_at INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS occurrences_next ON occurrences(next_at)");
    sql.exec("CREATE TABLE IF NOT EXISTS push_log (at INTEGER NOT NULL)");
  },
  // 2: one object holds many probes (a shard): each push is logged against its device. Rows of a per-probe object
  // written before this step have no probe_id and are that object's one probe's.
  (sql) => {
    addColumn(sql, "push_log", "probe_id", "TEXT");
    sql.exec("CREATE INDEX IF NOT EXISTS push_log_probe ON push_log(probe_id, at)");
  },
];

type Push = { row: OccurrenceRow; provider: PushProvider; target: PushTarget; message: PushMessage; attempt: number };

/**
 * A scheduler SHARD: the pending occurrences of every probe whose id hashes to it (functions/campaigns/shards.ts;
 * objects created before sharding are named by one probe's id and drain the same way). All deadlines of all its rows
 * (first sends, retries, task timeouts) share its one alarm, always set to the earliest next_at. An alarm claims up
 * to SCHEDULER_BATCH due rows with a lease before any await, reads what their pushes need in one D1 query, sends the
 * pushes concurrently within PUSH_CONNECTIONS (gorush: up to GORUSH_BATCH notifications per request), and records the
 * outcomes in one D1 batch. Closed rows are kept a while so a late duplicate hand-off still finds them. What to send,
 * when and what to record is decided by functions/campaigns/delivery.ts; this object loads rows, calls it and stores
 * what it returns.
 */
export class ProbeScheduler extends DurableObject<Env> {
  private clock: Clock = systemClock;
  private sql: SqlStorage;
  /** Rows an alarm of this object life is working on: no other alarm run touches them, whatever their lease says. */
  private inFlight = new Map<string, string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(this.sql, SCHEMA);
    });
  }

  private get db() {
    return dbFrom(this.env.DB);
  }

  /** One occurrence (the shape of the per-probe hand-off). Idempotent. */
  async enqueue(o: Occurrence): Promise<{ created: boolean; taskId: string | null }> {
    const [r] = await this.enqueueMany([o]);
    return r;
  }

  /**
   * A page's occurrences for this shard, in one D1 batch (their tasks and task.created events) and one local write.
   * Idempotent: an occurrence already here is left as it is, and D1 writes only the tasks that do not exist yet, so
   * a repeated hand-off (a runner re-walking a page after an eviction) creates nothing twice. D1 is written before
   * the local rows: an eviction in between leaves tasks without rows, which the repeated hand-off then adds.
   */
  async enqueueMany(list: Occurrence[]): Promise<{ created: boolean; taskId: string | null }[]> {
    const existing = new Map<string, string | null>();
    for (const r of this.sql.exec<{ id: string; task_id: string | null }>(
      "SELECT id, task_id FROM occurrences WHERE id IN (SELECT value FROM json_each(?))",
      JSON.stringify(list.map((o) => o.id)),
    ))
      existing.set(r.id, r.task_id);
    const seen = new Set<string>();
    const fresh = list.filter((o) => !existing.has(o.id) && !seen.has(o.id) && seen.add(o.id));
    const freshSet = new Set(fresh);
    const now = this.clock.now();
    const taskIds = new Map<string, string>();
    for (const o of fresh) if (o.kind === "task") taskIds.set(o.id, await occurrenceTaskId(this.env, o));
    const tasks = fresh.filter((o) => o.kind === "task").map((o) => ({ o, taskId: taskIds.get(o.id) ?? "" }));
    if (tasks.length) await runBatch(this.db, tasksCreated(this.db, tasks, now.toISOString()));
    for (const o of fresh)
      this.sql.exec(
        `INSERT OR IGNORE INTO occurrences (id, job_id, run_id, probe_id, kind, task_id, payload, send_at, expire_at, state, attempts, next_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
        o.id,
        o.jobId,
        o.runId,
        o.probeId,
        o.kind,
        taskIds.get(o.id) ?? null,
        payloadOf(o),
        o.sendAtMs,
        o.expireAtMs,
        o.sendAtMs,
        now.getTime(),
      );
    if (fresh.length) await this.arm();
    return list.map((o) =>
      existing.has(o.id) ? { created: false, taskId: existing.get(o.id) ?? null } : { created: freshSet.has(o), taskId: taskIds.get(o.id) ?? null },
    );
  }

  /** For tests and operators: this object's occurrences, or one probe's. */
  async list(probeId?: string): Promise<OccurrenceRow[]> {
    return probeId
      ? this.sql.exec<OccurrenceRow>("SELECT * FROM occurrences WHERE probe_id = ? ORDER BY created_at, id", probeId).toArray()
      : this.sql.exec<OccurrenceRow>("SELECT * FROM occurrences ORDER BY created_at, id").toArray();
  }

  /** For tests and operators: occurrences an alarm of this object life is working on (of one probe, or all). */
  async inFlightIds(probeId?: string): Promise<string[]> {
    return [...this.inFlight].filter(([, p]) => probeId === undefined || p === probeId).map(([id]) => id);
  }

  async alarm(): Promise<void> {
    const now = this.clock.now().getTime();
    const cs = campaignSettings(this.env);
    const leaseMs = pushConfigFrom(this.env).timeoutMs + LEASE_MARGIN_MS;
    const due = this.sql
      .exec<OccurrenceRow>("SELECT * FROM occurrences WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?", now, cs.schedulerBatch)
      .toArray();
    // Claim each row with a lease before any await: another alarm run (a platform retry, or one set by an enqueue
    // while this one is in flight) then skips it. Within this object life the in-memory set guards too, however long
    // the alarm takes; the lease is renewed before each push request (send), so it outlives the slowest chunk. If
    // this run dies mid-push, the row comes back when its lease ends (at-least-once only then).
    const claimed: OccurrenceRow[] = [];
    for (const row of due) {
      if (this.inFlight.has(row.id)) continue;
      const n = this.sql.exec("UPDATE occurrences SET next_at = ? WHERE id = ? AND next_at = ?", now + leaseMs, row.id, row.next_at).rowsWritten;
      if (n === 0) continue; // rowsWritten also counts index entries: any write means we hold it
      this.inFlight.set(row.id, row.probe_id);
      claimed.push(row);
    }
    try {
      await this.processAll(claimed, now, leaseMs);
    } finally {
      for (const r of claimed) this.inFlight.delete(r.id);
    }
    this.sql.exec("DELETE FROM occurrences WHERE state = 'closed' AND created_at < ?", now - RETAIN_CLOSED_MS);
    this.sql.exec("DELETE FROM push_log WHERE at < ?", now - PUSH_LOG_WINDOW_MS);
    await this.arm();
  }

  private async arm(): Promise<void> {
    const next = this.sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM occurrences WHERE next_at IS NOT NULL").one().t;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    const at = Math.max(next, this.clock.now().getTime() + 1);
    if (current === null || current !== at) await this.ctx.storage.setAlarm(at);
  }

  /** Apply a local change the delivery plan decided. */
  private apply(id: string, c: LocalChange): void {
    if (c.state === "closed")
      this.sql.exec("UPDATE occurrences SET state = 'closed', next_at = NULL, outcome = COALESCE(?, outcome) WHERE id = ?", c.outcome ?? null, id);
    else if (c.state === "awaiting")
      this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ?, outcome = COALESCE(?, outcome) WHERE id = ?", c.nextAt, c.outcome ?? null, id);
    else this.sql.exec("UPDATE occurrences SET state = 'pending', next_at = ? WHERE id = ?", c.nextAt, id);
  }

  /** Never let one part's failure (a D1 hiccup) make the platform retry the whole alarm in a loop: back those rows off. */
  private async guarded(rows: OccurrenceRow[], what: string, f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      log.error(`ProbeScheduler.${what}`, String(e), { occurrences: rows.length, first: rows[0]?.id });
      const at = this.clock.now().getTime() + ERROR_BACKOFF_MS;
      for (const r of rows) this.sql.exec("UPDATE occurrences SET next_at = ? WHERE id = ? AND state NOT IN ('closed', 'awaiting')", at, r.id);
      // A row that had moved to awaiting keeps its timeout; one still pending or recorded comes back after the backoff.
    }
  }

  private async processAll(rows: OccurrenceRow[], now: number, leaseMs: number): Promise<void> {
    const expiring = rows.filter((r) => r.state === "awaiting");
    const recorded = rows.filter((r) => r.state === "recorded");
    // pending, or sending (a crash between the push and recording it: at-least-once in that narrow window)
    const sending = rows.filter((r) => r.state !== "awaiting" && r.state !== "recorded");
    if (expiring.length) await this.guarded(expiring, "expire", () => this.expire(expiring));
    if (recorded.length)
      await this.guarded(recorded, "record", () => this.record(recorded.map((row) => ({ row, r: JSON.parse(row.outcome ?? "null") as Recorded }))));
    if (sending.length) await this.guarded(sending, "send", () => this.send(sending, now, leaseMs));
  }

  private async expire(rows: OccurrenceRow[]): Promise<void> {
    const ids = rows.map((r) => r.task_id).filter((t): t is string => !!t);
    await runBatch(this.db, tasksTimedOut(this.db, ids, this.clock.now().toISOString()));
    for (const r of rows) this.apply(r.id, { state: "closed" });
  }

  /** This device's pushes within the budget window (rows without a device are a per-probe object's own). */
  private sentWithinWindow(probeId: string, now: number): number[] {
    return this.sql
      .exec<{ at: number }>("SELECT at FROM push_log WHERE at > ? AND (probe_id = ? OR probe_id IS NULL)", now - PUSH_LOG_WINDOW_MS, probeId)
      .toArray()
      .map((r) => r.at);
  }

  private async send(rows: OccurrenceRow[], now: number, leaseMs: number): Promise<void> {
    const db = this.db;
    const infos = await probeInfos(db, rows);
    const events: NewEvent[] = [];
    const skipped: { id: string; local: LocalChange }[] = [];
    const pushes: Push[] = [];
    /** Pushes planned in this chunk, per device, so two occurrences of one device in one chunk share its budget. */
    const planned = new Map<string, number[]>();
    for (const row of rows) {
      const info = infos.get(row.id) ?? null;
      const provider = info ? providerFor(this.env, row, info) : null;
      const sent = [...this.sentWithinWindow(row.probe_id, now), ...(planned.get(row.probe_id) ?? [])];
      const plan = planSend({
        row,
        info,
        provider: provider?.name ?? null,
        budget: info ? budgetOf(this.env, info.platform) : null,
        sentAtMs: sent,
        nowMs: now,
      });
      if (!plan.push) {
        if (plan.event) events.push(plan.event);
        skipped.push({ id: row.id, local: plan.local });
        continue;
      }
      if (!provider) throw new Error("a push plan without a provider");
      planned.set(row.probe_id, [...(planned.get(row.probe_id) ?? []), now]);
      const message = pushMessage(row, await signedPingbackUrl(this.env, this.clock, plan.claims));
      pushes.push({ row, provider, target: plan.target, message, attempt: plan.attempt });
    }
    if (events.length) await runBatch(db, eventsInsert(db, events));
    for (const s of skipped) this.apply(s.id, s.local);
    if (pushes.length === 0) return;

    for (const p of pushes) this.sql.exec("UPDATE occurrences SET state = 'sending', attempts = ? WHERE id = ?", p.attempt, p.row.id);
    const results = await this.push(pushes, now, leaseMs);
    const answered: { row: OccurrenceRow; r: Recorded }[] = [];
    const t = this.clock.now().getTime();
    pushes.forEach((p, i) => {
      const result = results[i];
      if (!result) {
        // Not attempted within this alarm's time budget: back to pending, due now, for the next alarm.
        this.sql.exec("UPDATE occurrences SET state = 'pending', attempts = ?, next_at = ? WHERE id = ?", p.row.attempts, t, p.row.id);
        return;
      }
      const r = deliveryOutcome(this.env, result, p.attempt, p.target.token, t, Math.random());
      // The push happened: write that down twice, locally (a retried alarm then only finishes the bookkeeping) and in
      // D1 (the task leaves 'ready', which send() checks before any push). Either one alone prevents a second push,
      // so a failing local write (a storage error) must not stop the D1 one.
      try {
        this.sql.exec("UPDATE occurrences SET state = 'recorded', outcome = ? WHERE id = ?", JSON.stringify(r), p.row.id);
      } catch (e) {
        log.error("ProbeScheduler.send", `local record failed: ${String(e)}`, { occurrence: p.row.id });
      }
      answered.push({ row: { ...p.row, state: "recorded", attempts: p.attempt }, r });
    });
    if (answered.length) await this.record(answered);
  }

  /**
   * The chunk's pushes, grouped by provider, each provider's requests PUSH_CONNECTIONS at a time. Before each request
   * the claim of the rows still unanswered is renewed to a full lease (one request's timeout plus margin) once half of
   * it has passed, so a claim never ends while its push can still be in flight; no request starts after
   * SEND_BUDGET_MS (its pushes come back null and are released).
   */
  private async push(pushes: Push[], started: number, leaseMs: number): Promise<(PushResult | null)[]> {
    const { connections } = pushConfigFrom(this.env);
    const results: (PushResult | null)[] = pushes.map(() => null);
    let leaseUntil = started + leaseMs;
    const open = new Set(pushes.map((p) => p.row.id));
    const beforeRequest = () => {
      const now = this.clock.now().getTime();
      if (now - started > SEND_BUDGET_MS) return false;
      if (leaseUntil - now < leaseMs / 2) {
        leaseUntil = now + leaseMs;
        this.sql.exec(
          "UPDATE occurrences SET next_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state = 'sending'",
          leaseUntil,
          JSON.stringify([...open]),
        );
      }
      return true;
    };
    const byProvider = new Map<string, number[]>();
    for (const [i, p] of pushes.entries()) {
      const list = byProvider.get(p.provider.name);
      if (list) list.push(i);
      else byProvider.set(p.provider.name, [i]);
    }
    for (const idx of byProvider.values()) {
      const provider = pushes[idx[0]].provider;
      const rs = await provider.sendMany(
        idx.map((i) => ({ target: pushes[i].target, message: pushes[i].message })),
        { connections, beforeRequest },
      );
      idx.forEach((i, k) => {
        results[i] = rs[k];
        open.delete(pushes[i].row.id);
      });
    }
    return results;
  }

  /** Apply providers' answers to D1 (tasks, tokens, delivery events: one batch) and to the local rows. */
  private async record(items: { row: OccurrenceRow; r: Recorded }[]): Promise<void> {
    const at = this.clock.now().toISOString();
    await runBatch(this.db, deliveriesRecorded(this.db, items, at));
    const atMs = Date.parse(at);
    type Throttled = { jobId: string; runId: string; retryAfterMs?: number; ids: string[]; local: Map<string, number> };
    const throttled = new Map<string, Throttled>();
    for (const { row, r } of items) {
      const next = afterRecord(row, r);
      if (next.logPush) this.sql.exec("INSERT INTO push_log (at, probe_id) VALUES (?, ?)", atMs, row.probe_id);
      if (next.throttle && next.local.state === "pending") {
        // The provider is throttling: the campaign's rollout slows down, and these pushes wait for slots at the new rate.
        const key = `${row.job_id}\n${row.run_id}`;
        const g: Throttled = throttled.get(key) ?? { jobId: row.job_id, runId: row.run_id, ids: [], local: new Map() };
        g.retryAfterMs = Math.max(g.retryAfterMs ?? 0, next.throttle.retryAfterMs ?? 0) || undefined;
        g.ids.push(row.id);
        g.local.set(row.id, next.local.nextAt);
        throttled.set(key, g);
        continue;
      }
      this.apply(row.id, next.local);
    }
    for (const g of throttled.values()) {
      let slots: number[] | null = null;
      try {
        slots = await this.env.CAMPAIGN_RUNNER.getByName(g.jobId).throttledSlots(g.runId, g.ids.length, g.retryAfterMs);
      } catch (e) {
        log.error("ProbeScheduler.throttled", String(e), { run: g.runId });
      }
      for (const [i, id] of g.ids.entries()) this.apply(id, { state: "pending", nextAt: Math.max(g.local.get(id) ?? 0, slots?.[i] ?? 0) });
    }
  }
}
