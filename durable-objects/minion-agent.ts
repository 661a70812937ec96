import { DurableObject } from "cloudflare:workers";
import { migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { settingsFrom } from "../functions/lib/settings";
import { newId } from "../functions/lib/ids";
import { canonicalStatus, minionChecksum, parseStatus, shardOf } from "../functions/minions/checksum";
import { BEACON_REPLY_TEXT, BEACON_TEXT, parseAgentFrame, type RelayReplyFrame } from "../functions/minions/frames";
import { log } from "../functions/lib/log";
import { recordEvent } from "../functions/events/store";
import { buildServices } from "../functions/lib/hono";
import { minionsSettings } from "../functions/minions/settings";

/** What survives hibernation and restarts (DO storage); the socket itself survives through the Hibernation API. */
type AgentState = {
  id: string;
  /** The current connection's id (null when offline); each socket carries its own in its attachment. */
  conn: string | null;
  capability: number[] | null;
  connectedAt: number;
  /** Last beacon handled by this object; beacons answered by the runtime's auto-response are read from the socket. */
  lastBeaconAt: number;
  /** Set once the first status was stored in the registry; the checksum stored there. */
  checksum: string | null;
  failures: number;
  /**
   * A departure the shard has not acknowledged yet (its call failed): retried by the alarm until it is. Its sequence
   * number was taken before any later write, so a retry never undoes a newer status.
   */
  departure?: Departure | null;
  /** When a hello last triggered a status poll (hello polls are throttled: a reconnect loop cannot flood the feed). */
  lastHelloPollAt?: number;
  /** The last poll's reply was refused (too large): its event is recorded once, not every poll. */
  refused?: boolean;
};

/**
 * Tokens below these versions (per principal kind: agent, or probe in open enrolment) may not open a socket here.
 * Set when an operator disables the agent, to the version the disable bumped it to: a connect that was authorised
 * just before the disable committed, and reaches this object after it, is refused too. Tokens issued after a
 * re-enable carry that version or a newer one, so nothing has to be cleared.
 */
type Floor = Partial<Record<"agent" | "probe", number>>;
type Departure = { seq: number; reason: string; at: string; attempts: number };
type Attachment = { conn: string; id: string };

export type RelayRequest = { port: number; method: string; url: string; data: unknown; timeoutMs: number };
export type RelayResult =
  | { ok: true; statusCode: number; headers: RelayReplyFrame["headers"]; body: string }
  | { ok: false; status: 404 | 408 | 500; error: string };

type Pending = { resolve: (r: RelayResult) => void; timer: ReturnType<typeof setTimeout>; conn: string };

/** Backoff of a pending departure's retries: 1 s, 2 s, 4 s … at most a minute. */
export function departureRetryMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, Math.min(attempts - 1, 6)));
}

/** Least time between two hello-triggered polls of one agent. */
export function helloPollGapMs(monitorIntervalMs: number, pollsPerInterval: number): number {
  return Math.floor(monitorIntervalMs / Math.max(1, pollsPerInterval));
}

/** UTF-8 length of a string without allocating it (a status may be large). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The object's storage schema (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: no tables. The agent's state ("agent") and sequence number ("seq") are key-value records, read with defaults.
  () => {},
];

/**
 * One object per agent (named by its device id). Holds the agent's hibernatable WebSocket and its state; its alarm
 * polls `GET /status` every MONITOR_INTERVAL_MS and checks beacon validity (one alarm, both deadlines).
 * A changed status goes to the agent's registry shard, tagged with a sequence number that only grows.
 * Relays in flight are the one thing held in memory: a caller is waiting on them, so the object is awake.
 */
export class MinionAgent extends DurableObject<Env> {
  private readonly pending = new Map<string, Pending>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Beacons in the exact canonical form are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(BEACON_TEXT, BEACON_REPLY_TEXT));
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(ctx.storage.sql, SCHEMA);
    });
  }

  private get settings() {
    return settingsFrom(this.env).minions;
  }

  private async load(): Promise<AgentState | null> {
    return (await this.ctx.storage.get<AgentState>("agent")) ?? null;
  }

  private async save(s: AgentState): Promise<void> {
    await this.ctx.storage.put("agent", s);
  }

  /** The next sequence number for a registry write (kept apart from the state so it only ever grows). */
  private async nextSeq(): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("seq")) ?? 0) + 1;
    await this.ctx.storage.put("seq", n);
    return n;
  }

  private shard(id: string) {
    return this.env.MINION_SHARD.getByName(shardOf(id));
  }

  private socketOf(conn: string | null): WebSocket | null {
    if (!conn) return null;
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as Attachment | null;
      if (a?.conn === conn) return ws;
    }
    return null;
  }

  /**
   * The WebSocket upgrade, forwarded by the Worker after it authenticated the agent (X-Minion-Id; the token's kind
   * and version in X-Minion-Kind and X-Minion-Version). A token below the disable floor is refused (403).
   */
  async fetch(request: Request): Promise<Response> {
    const id = request.headers.get("x-minion-id");
    if (!id || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const kind = request.headers.get("x-minion-kind");
    const floor = (await this.ctx.storage.get<Floor>("floor")) ?? {};
    if ((kind === "agent" || kind === "probe") && Number(request.headers.get("x-minion-version") ?? 0) < (floor[kind] ?? 0)) {
      return new Response("this agent is disabled", { status: 403 });
    }
    const prev = await this.load();
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair);
    const conn = newId();
    this.ctx.acceptWebSocket(server, [id]);
    server.serializeAttachment({ conn, id } satisfies Attachment);
    const now = Date.now();
    // A newer connection replaces an older one; the minion keeps its place in the registry (no leave/join).
    await this.save({
      id,
      conn,
      capability: null,
      connectedAt: now,
      lastBeaconAt: now,
      checksum: prev?.conn ? prev.checksum : null,
      failures: 0,
      departure: prev?.departure ?? null,
      lastHelloPollAt: prev?.lastHelloPollAt,
    });
    for (const ws of this.ctx.getWebSockets()) {
      if ((ws.deserializeAttachment() as Attachment | null)?.conn !== conn) {
        try {
          ws.close(4000, "replaced by a newer connection");
        } catch {
          // already closing
        }
      }
    }
    await this.schedule(now);
    const headers = new Headers();
    const proto = request.headers.get("x-minion-protocol");
    if (proto) headers.set("Sec-WebSocket-Protocol", proto);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  private async schedule(now: number, lastBeaconAt?: number, soonest?: number): Promise<void> {
    const { monitorIntervalMs, beaconValidityS } = this.settings;
    const s = await this.load();
    const beaconDeadline = (lastBeaconAt ?? s?.lastBeaconAt ?? now) + beaconValidityS * 1000;
    let at = Math.min(now + monitorIntervalMs, beaconDeadline, soonest ?? Number.POSITIVE_INFINITY);
    if (s?.departure) at = Math.min(at, now + departureRetryMs(s.departure.attempts));
    await this.ctx.storage.setAlarm(Math.max(now + 1, at));
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment | null;
    const text = typeof message === "string" ? message : new TextDecoder().decode(message);
    const parsed = parseAgentFrame(text);
    if (!parsed.ok) {
      ws.send(JSON.stringify({ type: "error", error: parsed.error }));
      return;
    }
    const f = parsed.frame;
    if (f.type === "relay-reply") {
      const p = this.pending.get(f.rid);
      if (!p) return; // late (timed out) or unknown: dropped
      this.pending.delete(f.rid);
      clearTimeout(p.timer);
      if (f.error !== undefined) p.resolve({ ok: false, status: 500, error: `agent error: ${f.error}` });
      else if (f.statusCode === undefined) p.resolve({ ok: false, status: 500, error: "agent reply has no statusCode" });
      else p.resolve({ ok: true, statusCode: f.statusCode, headers: f.headers ?? null, body: f.body ?? "" });
      return;
    }
    const s = await this.load();
    if (!s || !att || s.conn !== att.conn) {
      ws.close(4000, "replaced by a newer connection");
      return;
    }
    if (f.type === "beacon") {
      s.lastBeaconAt = Date.now();
      await this.save(s);
      ws.send(BEACON_REPLY_TEXT);
      return;
    }
    // hello: the agent's capability (the ports it lets us relay to), then the first status poll at once.
    s.capability = [...new Set(f.capability)];
    await this.save(s);
    const { monitorIntervalMs, beaconIntervalS, beaconRetry, beaconValidityS } = this.settings;
    ws.send(
      JSON.stringify({
        type: "hello:reply",
        beaconInterval: beaconIntervalS,
        beaconRetry,
        beaconValidity: beaconValidityS,
        monitorInterval: monitorIntervalMs,
      }),
    );
    // At most one hello-triggered poll per MONITOR_INTERVAL_MS / N: a reconnect loop defers the poll to the alarm.
    const gap = helloPollGapMs(monitorIntervalMs, minionsSettings(this.env).helloPollsPerInterval);
    const now = Date.now();
    if (s.lastHelloPollAt === undefined || now - s.lastHelloPollAt >= gap) {
      await this.save({ ...s, lastHelloPollAt: now });
      await this.poll();
    } else {
      await this.schedule(now, undefined, s.lastHelloPollAt + gap);
    }
  }

  async webSocketClose(ws: WebSocket, code: number, _reason: string): Promise<void> {
    await this.closed(ws, code === 4001 ? "expired" : "closed");
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    await this.closed(ws, "error");
  }

  private async closed(ws: WebSocket, reason: string): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment | null;
    for (const [rid, p] of this.pending) {
      if (p.conn === att?.conn) {
        this.pending.delete(rid);
        clearTimeout(p.timer);
        p.resolve({ ok: false, status: 500, error: "agent connection closed" });
      }
    }
    const s = await this.load();
    if (s && att && s.conn === att.conn) await this.leave(s, reason);
  }

  /** Tell the registry shard that the minion left (a method of its own so tests can make the shard unreachable). */
  protected async tellShardLeft(id: string, d: Departure): Promise<void> {
    await this.shard(id).remove(id, d.seq, d.reason, d.at);
  }

  /**
   * The minion goes offline. The shard is told first; only then does the object forget the connection. If the shard
   * cannot be reached the departure is kept and the alarm retries it, so the minion is never left listed with a
   * stale status. Nothing but the sequence number (and a pending departure) is kept.
   */
  private async leave(s: AgentState, reason: string): Promise<void> {
    const d: Departure = { seq: await this.nextSeq(), reason, at: new Date().toISOString(), attempts: 0 };
    const told = await this.tryDeparture(s.id, d);
    const cur = await this.load();
    if (cur && cur.conn === s.conn) {
      await this.save({ ...cur, conn: null, capability: null, checksum: null, failures: 0, departure: told ? null : { ...d, attempts: 1 } });
      if (told) await this.ctx.storage.deleteAlarm();
      else await this.ctx.storage.setAlarm(Date.now() + departureRetryMs(1));
    } else if (cur) {
      // A newer connection arrived while the shard was being told: its status must be stored again (it left).
      await this.save({ ...cur, checksum: null, departure: told ? (cur.departure ?? null) : { ...d, attempts: 1 } });
      if (!told) await this.schedule(Date.now());
    }
  }

  private async tryDeparture(id: string, d: Departure): Promise<boolean> {
    try {
      await this.tellShardLeft(id, d);
      return true;
    } catch (e) {
      log.error("MinionAgent.leave", String(e), { id, seq: d.seq, attempts: d.attempts + 1 });
      return false;
    }
  }

  /** Retry a pending departure (from the alarm). A departure older than a newer write is a no-op in the shard. */
  private async retryDeparture(s: AgentState): Promise<void> {
    const d = s.departure;
    if (!d) return;
    const told = await this.tryDeparture(s.id, d);
    const cur = await this.load();
    if (!cur || cur.departure?.seq !== d.seq) return;
    if (told) {
      // The departure may have removed a status a reconnected agent had not replaced yet: poll it again.
      await this.save({ ...cur, departure: null, checksum: cur.conn ? null : cur.checksum });
    } else {
      const next = { ...d, attempts: d.attempts + 1 };
      await this.save({ ...cur, departure: next });
      if (!cur.conn) await this.ctx.storage.setAlarm(Date.now() + departureRetryMs(next.attempts));
    }
  }

  async alarm(): Promise<void> {
    const first = await this.load();
    if (first?.departure) await this.retryDeparture(first);
    const s = await this.load();
    if (!s?.conn) return;
    const ws = this.socketOf(s.conn);
    if (!ws) {
      // The socket is gone without a close event (e.g. the object restarted): same as a close.
      await this.leave(s, "lost");
      return;
    }
    const now = Date.now();
    const auto = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    const lastBeaconAt = Math.max(s.lastBeaconAt, auto);
    if (now - lastBeaconAt >= this.settings.beaconValidityS * 1000) {
      try {
        ws.close(4001, "no beacon within beaconValidity");
      } catch {
        // already closing
      }
      await this.leave(s, "expired");
      return;
    }
    try {
      await this.poll();
    } catch (e) {
      log.error("MinionAgent.alarm", String(e));
    }
    const after = await this.load();
    if (after?.conn === s.conn) await this.schedule(Date.now(), lastBeaconAt);
  }

  /** Relay `GET /status` (port 5000); store and publish the status if its checksum changed. A failure keeps the last. */
  private async poll(): Promise<void> {
    const s = await this.load();
    if (!s?.conn) return;
    const r = await this.relay({ port: 5000, method: "GET", url: "/status", data: null, timeoutMs: this.settings.proxyTimeoutMs });
    const limit = minionsSettings(this.env).statusMaxBytes;
    const bytes = r.ok ? utf8Length(r.body) : 0;
    if (r.ok && bytes > limit) {
      // Refused, not truncated: the minion keeps its last status; the event says why (once per run of refusals).
      const cur = await this.load();
      if (!cur || cur.conn !== s.conn) return;
      await this.save({ ...cur, failures: cur.failures + 1, refused: true });
      if (!cur.refused) {
        await recordEvent(buildServices(this.env).db, {
          at: new Date().toISOString(),
          type: "minion.status_refused",
          actor: "system",
          subject: { kind: "minion", id: cur.id },
          data: { reason: "status too large", bytes, limit },
        }).catch((e) => log.error("MinionAgent.poll", String(e)));
      }
      return;
    }
    const raw = r.ok && r.statusCode >= 200 && r.statusCode < 300 ? parseStatus(r.body) : null;
    const cur = await this.load();
    if (!cur || cur.conn !== s.conn) return;
    if (cur.refused) cur.refused = false;
    if (!raw) {
      await this.save({ ...cur, failures: cur.failures + 1 });
      return;
    }
    const status = canonicalStatus(raw, cur.id);
    const checksum = minionChecksum(status);
    if (checksum === cur.checksum) {
      if (cur.failures) await this.save({ ...cur, failures: 0 });
      return;
    }
    const seq = await this.nextSeq();
    const res = await this.shard(cur.id).upsert(cur.id, seq, checksum, JSON.stringify(status), new Date().toISOString());
    const fin = await this.load();
    if (fin && fin.conn === s.conn && res.outcome !== "stale") await this.save({ ...fin, checksum, failures: 0 });
  }

  /** Relay one request to the agent (used by /proxy and by the status poll). Never throws: errors are results. */
  async relay(req: RelayRequest): Promise<RelayResult> {
    const s = await this.load();
    const ws = this.socketOf(s?.conn ?? null);
    if (!s || !ws) return { ok: false, status: 404, error: "agent is not connected" };
    if (!s.capability?.includes(req.port)) return { ok: false, status: 404, error: `port ${req.port} is not in the agent's capability` };
    const rid = newId();
    const url = req.url.startsWith("/") ? req.url : `/${req.url}`;
    return new Promise<RelayResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        resolve({ ok: false, status: 408, error: `agent did not answer within ${req.timeoutMs} ms` });
      }, req.timeoutMs);
      this.pending.set(rid, { resolve, timer, conn: s.conn! });
      try {
        ws.send(JSON.stringify({ type: "relay", rid, port: req.port, method: req.method, url, data: req.data ?? null }));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(rid);
        resolve({ ok: false, status: 500, error: `could not send to the agent: ${String(e)}` });
      }
    });
  }

  /**
   * An operator disabled the agent (its tokens were revoked in D1 first): no token below `version` of `kind` may
   * connect again, the socket is closed (4003) and the minion leaves the registry at once, the shard told first as
   * on any departure. Idempotent: a repeated call raises the floor and finds no socket.
   */
  async disconnect(kind: "agent" | "probe", version: number, reason: string): Promise<{ closed: boolean }> {
    const floor = (await this.ctx.storage.get<Floor>("floor")) ?? {};
    if ((floor[kind] ?? 0) < version) await this.ctx.storage.put("floor", { ...floor, [kind]: version } satisfies Floor);
    const s = await this.load();
    const ws = this.socketOf(s?.conn ?? null);
    for (const other of this.ctx.getWebSockets()) {
      try {
        other.close(4003, reason);
      } catch {
        // already closing
      }
    }
    if (s?.conn) await this.leave(s, "disabled");
    return { closed: ws !== null };
  }

  /** Diagnostics and tests: the stored state. */
  async state(): Promise<AgentState | null> {
    return this.load();
  }
}
