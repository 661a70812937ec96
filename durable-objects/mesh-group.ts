import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { eventInsert } from "../functions/events/store";
import { dbFrom } from "../functions/lib/db";
import { errorText, log } from "../functions/lib/log";
import { ringsFromCertificate } from "../functions/mesh/cert-rings";
import {
  type Accusation,
  applyAccusation,
  applyNote,
  checkAccusation,
  checkNote,
  dueRemovals,
  type GroupView,
  gossipAdmission,
  liveIds,
  type Note,
  nextRemoval,
  type Peer,
  remove,
} from "../functions/mesh/fireflies";
import { parseMemberFrame, type MemberFrame } from "../functions/mesh/frames";
import { gossipPartners } from "../functions/mesh/gossip";
import { EVENT_BATCH, EVENT_OUTBOX_MAX, type MeshMemberEvent, meshMemberEvent } from "../functions/mesh/group-events";
import { type MeshGroupSettings, meshGroupSettings } from "../functions/mesh/group-settings";
import { planPings, probesPerRound, recordPing } from "../functions/mesh/liveness";
import type { MeshMemberRecord } from "../functions/mesh/member-record";
import { dispatchable, resolveDestination } from "../functions/mesh/messaging";
import { ringPositions } from "../functions/mesh/ring";
import {
  accusationContent,
  b64ToBytes,
  bytesToB64,
  challengeContent,
  importMemberKey,
  noteContent,
  pongContent,
  verifyWith,
} from "../functions/mesh/signatures";

/** What each socket carries through hibernation. */
type Attachment = { id: string; conn: string; nonce: string; authed: boolean };

export type MemberView = {
  id: string;
  rpcAddr: string;
  pingAddr: string;
  httpAddr: string | null;
  namedCurve: MeshMemberRecord["namedCurve"];
  spkiDer: string;
  notAfter: string;
  trusted: boolean;
  revoked: boolean;
  live: boolean;
  note: Note | null;
  accusations: Accusation[];
};

export type MessageResult = { status: "ok" | "timeout" | "unreachable" | "unknown"; data: string | null; error: string | null };

export type GroupSnapshot = {
  numRings: number;
  now: string;
  members: (MemberView & { connected: boolean; admittedAt: string; removalAt: string | null })[];
  recentAccusations: { at: string; accused: string; accuser: string; ring: number; epoch: number; outcome: string }[];
};

const RecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  certDer: z.string(),
  spkiDer: z.string().min(1),
  namedCurve: z.enum(["P-256", "P-384", "P-521"]),
  rpcAddr: z.string().min(1).max(300),
  pingAddr: z.string().min(1).max(300),
  httpAddr: z.string().max(300).nullable(),
  notAfter: z.string().datetime({ offset: true }),
  serial: z.string().max(64),
  trusted: z.boolean(),
});

/** `disabledAt`: an operator disabled the member (reversible, unlike revocation): it may not connect or sign requests. */
type MemberRow = { record: MeshMemberRecord; admittedAt: number; revokedAt: number | null; disabledAt: number | null; seq: number };

const json = (status: number, error: string, code: string) =>
  new Response(JSON.stringify({ error, code }), { status, headers: { "content-type": "application/json" } });

/**
 * One object per mesh group (named by the group). It holds the full view (every admitted certificate), each
 * member's note and accusations, the live view and removal timers, and the members' hibernatable WebSockets; it
 * relays pings between ring neighbours, gossip, messages and streams. The protocol rules are the pure functions of
 * functions/mesh/; this class stores, relays and keeps one alarm for ping rounds, gossip rounds, the view sweep,
 * removal deadlines and reply timeouts.
 *
 * Time: `now()` never runs backwards and, when the alarm fires, jumps to the time the alarm was set for. In
 * production that is (about) the wall clock; in tests `runDurableObjectAlarm` fires it early, which then acts as if
 * that much time had passed, so time-driven behaviour is tested without waiting.
 */
export class MeshGroup extends DurableObject<Env> {
  private group = "";
  private numRings = 10;
  private logical = 0;
  private readonly rows = new Map<string, MemberRow>();
  private view: GroupView = { numRings: 10, peers: new Map(), positions: new Map() };
  private readonly positions = new Map<string, string[]>();
  private readonly keys = new Map<string, Promise<CryptoKey>>();
  private readonly waiters = new Map<string, (r: MessageResult) => void>();
  private flushing: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      await this.load();
    });
  }

  private get settings(): MeshGroupSettings {
    return meshGroupSettings(this.env);
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  // ---- storage -----------------------------------------------------------------------------------------------

  /** Numbered, additive schema steps; `meta.schema_version` records how many ran. */
  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const v = Number(this.getMeta("schema_version") ?? 0);
    const steps: string[][] = [
      [
        `CREATE TABLE members (id TEXT PRIMARY KEY, record TEXT NOT NULL, admitted_at INTEGER NOT NULL, revoked_at INTEGER,
           live INTEGER NOT NULL DEFAULT 0, timer_at INTEGER, note TEXT, seq INTEGER NOT NULL)`,
        "CREATE TABLE accusations (accused TEXT NOT NULL, ring INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (accused, ring))",
        `CREATE TABLE accusation_log (n INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, accused TEXT NOT NULL, accuser TEXT NOT NULL,
           ring INTEGER NOT NULL, epoch INTEGER NOT NULL, outcome TEXT NOT NULL)`,
        "CREATE TABLE cursors (id TEXT PRIMARY KEY, ping_ring INTEGER NOT NULL DEFAULT 0, gossip_ring INTEGER NOT NULL DEFAULT 0, synced_seq INTEGER NOT NULL DEFAULT 0, gossip TEXT)",
        "CREATE TABLE pings (pid TEXT PRIMARY KEY, monitor TEXT NOT NULL, target TEXT NOT NULL, ring INTEGER NOT NULL, nonce TEXT NOT NULL, deadline INTEGER NOT NULL)",
        "CREATE TABLE ping_failures (monitor TEXT NOT NULL, target TEXT NOT NULL, failures INTEGER NOT NULL, PRIMARY KEY (monitor, target))",
        `CREATE TABLE messages (key TEXT PRIMARY KEY, sender TEXT NOT NULL, origin TEXT NOT NULL, rid TEXT NOT NULL, dest TEXT NOT NULL,
           data TEXT NOT NULL, state TEXT NOT NULL, seq INTEGER NOT NULL, deadline INTEGER)`,
        "CREATE TABLE gossips (gid TEXT PRIMARY KEY, sender TEXT NOT NULL, receiver TEXT NOT NULL, deadline INTEGER NOT NULL)",
        "CREATE TABLE streams (key TEXT PRIMARY KEY, opener TEXT NOT NULL, opener_sid TEXT NOT NULL, dest TEXT NOT NULL)",
      ],
      // 2: membership events waiting to be written to D1 (functions/mesh/group-events.ts).
      ["CREATE TABLE event_outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)"],
      // 3: members disabled by an operator (POST /api/v1/admin/mesh/groups/:group/members/:id/disable).
      ["ALTER TABLE members ADD COLUMN disabled_at INTEGER"],
    ];
    for (let i = v; i < steps.length; i++) {
      for (const stmt of steps[i]) this.sql.exec(stmt);
      this.setMeta("schema_version", String(i + 1));
    }
  }

  private getMeta(key: string): string | null {
    const r = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return r ? r.value : null;
  }

  private setMeta(key: string, value: string | number | null): void {
    if (value === null) this.sql.exec("DELETE FROM meta WHERE key = ?", key);
    else this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, String(value));
  }

  private metaNum(key: string): number | null {
    const v = this.getMeta(key);
    return v === null ? null : Number(v);
  }

  private async load(): Promise<void> {
    // The object is named by its group (idFromName); the name is also kept, for objects whose id lacks it.
    this.group = this.ctx.id.name ?? this.getMeta("group") ?? "";
    if (this.ctx.id.name && this.getMeta("group") !== this.ctx.id.name) this.setMeta("group", this.ctx.id.name);
    this.numRings = this.metaNum("num_rings") ?? this.settings.numRings;
    this.logical = this.metaNum("clock") ?? 0;
    const peers = new Map<string, Peer>();
    type Row = {
      id: string;
      record: string;
      admitted_at: number;
      revoked_at: number | null;
      disabled_at: number | null;
      live: number;
      timer_at: number | null;
      note: string | null;
      seq: number;
    };
    for (const r of this.sql.exec<Row>("SELECT * FROM members").toArray()) {
      const record = JSON.parse(r.record) as MeshMemberRecord;
      this.rows.set(r.id, { record, admittedAt: r.admitted_at, revokedAt: r.revoked_at, disabledAt: r.disabled_at ?? null, seq: r.seq });
      this.positions.set(r.id, await ringPositions(r.id, this.numRings));
      if (r.revoked_at !== null || r.disabled_at !== null) continue;
      peers.set(r.id, { id: r.id, live: r.live === 1, note: r.note ? JSON.parse(r.note) : null, accusations: new Map(), timerAt: r.timer_at });
    }
    for (const a of this.sql.exec<{ accused: string; ring: number; body: string }>("SELECT * FROM accusations").toArray()) {
      peers.get(a.accused)?.accusations.set(a.ring, JSON.parse(a.body));
    }
    this.view = { numRings: this.numRings, peers, positions: this.positions };
  }

  /** Write one peer's state through to storage and bump its change sequence (members learn it as a delta). */
  private persistPeer(id: string): void {
    const row = this.rows.get(id);
    if (!row) return;
    row.seq = this.nextSeq();
    const p = this.view.peers.get(id);
    this.sql.exec(
      "UPDATE members SET live = ?, timer_at = ?, note = ?, seq = ?, revoked_at = ? WHERE id = ?",
      p?.live ? 1 : 0,
      p?.timerAt ?? null,
      p?.note ? JSON.stringify(p.note) : null,
      row.seq,
      row.revokedAt,
      id,
    );
    this.sql.exec("DELETE FROM accusations WHERE accused = ?", id);
    for (const [ring, a] of p?.accusations ?? []) this.sql.exec("INSERT INTO accusations (accused, ring, body) VALUES (?, ?, ?)", id, ring, JSON.stringify(a));
  }

  private nextSeq(): number {
    const n = (this.metaNum("seq") ?? 0) + 1;
    this.setMeta("seq", n);
    return n;
  }

  private now(): number {
    const t = Math.max(Date.now(), this.logical);
    if (t !== this.logical) {
      this.logical = t;
      this.setMeta("clock", t);
    }
    return t;
  }

  private key(id: string): Promise<CryptoKey> | null {
    const row = this.rows.get(id);
    if (!row) return null;
    let k = this.keys.get(id);
    if (!k) {
      k = importMemberKey(row.record.spkiDer, row.record.namedCurve);
      this.keys.set(id, k);
    }
    return k;
  }

  /** VerifySignature(content, sig, id) against the member's certificate key; an unknown id is false. */
  async verifySignature(id: string, content: Uint8Array, sigB64: string): Promise<boolean> {
    const row = this.rows.get(id);
    const k = this.key(id);
    if (!row || !k || row.revokedAt !== null) return false;
    try {
      return await verifyWith(await k, row.record.namedCurve, content, sigB64);
    } catch {
      return false;
    }
  }

  // ---- the CA's interface --------------------------------------------------------------------------------------

  /** The CA admits (or renews) a member: its certificate joins the full view. Liveness needs a note. */
  async admit(record: MeshMemberRecord, group?: string): Promise<void> {
    const rec = RecordSchema.parse(record) as MeshMemberRecord;
    if (group && !this.group) this.setGroup(group);
    if (this.rows.size === 0 && this.getMeta("num_rings") === null) {
      let rings: number | null = null;
      try {
        rings = rec.certDer ? ringsFromCertificate(b64ToBytes(rec.certDer)) : null;
      } catch {
        rings = null;
      }
      if (rings !== null && rings >= 1 && rings <= 32) this.numRings = rings;
      this.setMeta("num_rings", this.numRings);
      this.view = { ...this.view, numRings: this.numRings };
    }
    const now = this.now();
    const prev = this.rows.get(rec.id);
    this.keys.delete(rec.id);
    if (!this.positions.has(rec.id)) this.positions.set(rec.id, await ringPositions(rec.id, this.numRings));
    if (prev) {
      prev.record = rec;
      prev.revokedAt = null;
      this.sql.exec("UPDATE members SET record = ?, revoked_at = NULL WHERE id = ?", JSON.stringify(rec), rec.id);
    } else {
      this.rows.set(rec.id, { record: rec, admittedAt: now, revokedAt: null, disabledAt: null, seq: 0 });
      this.sql.exec("INSERT INTO members (id, record, admitted_at, seq) VALUES (?, ?, ?, 0)", rec.id, JSON.stringify(rec), now);
    }
    // A disabled member may renew its certificate, but stays out of the view until an operator enables it.
    if (!this.view.peers.has(rec.id) && !prev?.disabledAt)
      (this.view.peers as Map<string, Peer>).set(rec.id, { id: rec.id, live: false, note: null, accusations: new Map(), timerAt: null });
    this.persistPeer(rec.id);
  }

  /**
   * An operator disables (or enables) a member. Disabled: it leaves the full and live views, its connection is
   * closed (4003), and it may neither connect nor sign requests (refusal) until enabled. Enabled: it is back in the
   * full view, not live until it connects and sends a note, as after admission. A revoked member stays revoked.
   */
  async setMemberDisabled(id: string, disabled: boolean): Promise<"changed" | "unchanged" | "unknown"> {
    const row = this.rows.get(id);
    if (!row) return "unknown";
    if ((row.disabledAt !== null) === disabled) return "unchanged";
    row.disabledAt = disabled ? this.now() : null;
    this.sql.exec("UPDATE members SET disabled_at = ? WHERE id = ?", row.disabledAt, id);
    const peers = this.view.peers as Map<string, Peer>;
    if (disabled) peers.delete(id);
    else if (row.revokedAt === null && !peers.has(id)) peers.set(id, { id, live: false, note: null, accusations: new Map(), timerAt: null });
    this.persistPeer(id);
    if (disabled) for (const ws of this.ctx.getWebSockets(id)) this.closeSocket(ws, 4003, "disabled by an operator");
    this.schedule();
    return "changed";
  }

  /** Revocation: the member leaves the full and live views and its connection is closed. */
  async revoke(id: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.revokedAt !== null) return false;
    row.revokedAt = this.now();
    (this.view.peers as Map<string, Peer>).delete(id);
    this.persistPeer(id);
    this.emit({ type: "revoked", id });
    for (const ws of this.ctx.getWebSockets(id)) this.closeSocket(ws, 4003, "certificate revoked");
    this.schedule();
    return true;
  }

  private setGroup(group: string): void {
    this.group = group;
    this.setMeta("group", group);
  }

  // ---- connections ---------------------------------------------------------------------------------------------

  private socketOf(id: string): WebSocket | null {
    for (const ws of this.ctx.getWebSockets(id)) {
      const a = ws.deserializeAttachment() as Attachment | null;
      if (a?.authed) return ws;
    }
    return null;
  }

  private connected(id: string): boolean {
    return this.socketOf(id) !== null;
  }

  private send(ws: WebSocket | null, frame: Record<string, unknown>): boolean {
    if (!ws) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private sendTo(id: string, frame: Record<string, unknown>): boolean {
    return this.send(this.socketOf(id), frame);
  }

  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** Why `id` may not connect or sign requests now, or null. */
  private refusal(id: string): { status: number; error: string; code: string } | null {
    const row = this.rows.get(id);
    if (!row) return { status: 404, error: "no such member in this group (enrol through certificateRequest first)", code: "not_found" };
    if (row.revokedAt !== null) return { status: 403, error: "this member's certificate was revoked", code: "forbidden" };
    if (row.disabledAt !== null) return { status: 403, error: "this member is disabled by an operator", code: "forbidden" };
    if (Date.parse(row.record.notAfter) <= this.now()) return { status: 403, error: "this member's certificate has expired; renew it", code: "forbidden" };
    return null;
  }

  /** The WebSocket upgrade (X-Mesh-Member, X-Mesh-Group), forwarded by the Worker. The member then answers a challenge. */
  async fetch(request: Request): Promise<Response> {
    const id = request.headers.get("x-mesh-member") ?? "";
    const group = request.headers.get("x-mesh-group") ?? "";
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return json(426, "this endpoint takes a WebSocket upgrade", "upgrade_required");
    if (group && !this.group) this.setGroup(group);
    const no = this.refusal(id);
    if (no) return json(no.status, no.error, no.code);
    const [client, server] = Object.values(new WebSocketPair());
    const nonce = bytesToB64(crypto.getRandomValues(new Uint8Array(32)));
    this.ctx.acceptWebSocket(server, [id]);
    server.serializeAttachment({ id, conn: crypto.randomUUID(), nonce, authed: false } satisfies Attachment);
    server.send(JSON.stringify({ type: "challenge", group: this.group, id, nonce }));
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment | null;
    if (!att) return this.closeSocket(ws, 4000, "unknown connection");
    const parsed = parseMemberFrame(typeof message === "string" ? message : new TextDecoder().decode(message));
    if (!parsed.ok) return void this.send(ws, { type: "error", code: "invalid_frame", error: parsed.error });
    const f = parsed.frame;
    if (!att.authed) {
      if (f.type !== "hello") return void this.send(ws, { type: "error", code: "unauthenticated", error: "answer the challenge with a hello frame first" });
      return this.hello(ws, att, f);
    }
    const row = this.rows.get(att.id);
    if (row?.disabledAt != null) return this.closeSocket(ws, 4003, "disabled by an operator");
    if (!row || row.revokedAt !== null || this.socketOf(att.id) !== ws) return this.closeSocket(ws, 4000, "replaced by a newer connection");
    await this.handle(att.id, ws, f);
    this.schedule();
  }

  private async hello(ws: WebSocket, att: Attachment, f: Extract<MemberFrame, { type: "hello" }>): Promise<void> {
    const no = this.refusal(att.id);
    if (no) return this.closeSocket(ws, 4003, no.error);
    if (!(await this.verifySignature(att.id, challengeContent(this.group, att.id, att.nonce), f.sig))) {
      this.send(ws, { type: "error", code: "bad_signature", error: "the challenge signature does not verify with this member's certificate key" });
      return this.closeSocket(ws, 4001, "challenge failed");
    }
    // A newer authenticated connection replaces an older one.
    for (const old of this.ctx.getWebSockets(att.id)) if (old !== ws) this.closeSocket(old, 4000, "replaced by a newer connection");
    ws.serializeAttachment({ ...att, authed: true } satisfies Attachment);
    this.sql.exec("INSERT INTO cursors (id) VALUES (?) ON CONFLICT (id) DO UPDATE SET synced_seq = 0", att.id);
    const peer = this.view.peers.get(att.id);
    const s = this.settings;
    this.send(ws, {
      type: "welcome",
      id: att.id,
      group: this.group,
      numRings: this.numRings,
      note: peer?.note ?? null,
      accusations: [...(peer?.accusations.values() ?? [])],
      config: {
        gossip_interval: s.gossipIntervalS,
        monitor_interval: s.monitorIntervalS,
        view_update_interval: s.viewUpdateIntervalS,
        ping_limit: s.pingLimit,
        pings_per_interval: s.pingsPerInterval,
        removal_timeout: s.removalTimeoutS,
        max_concurrent_messages: s.maxConcurrentMessages,
        use_compression: s.useCompression,
      },
    });
    if (f.note) await this.note(att.id, ws, f.note);
    this.syncMember(att.id, true);
    this.startRounds();
    this.schedule();
  }

  async webSocketClose(ws: WebSocket): Promise<void> {
    this.closeSocket(ws, 1000, "closed");
    await this.closed(ws);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    await this.closed(ws);
  }

  private async closed(ws: WebSocket): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment | null;
    if (!att?.authed) return;
    if (this.ctx.getWebSockets(att.id).some((o) => o !== ws && (o.deserializeAttachment() as Attachment | null)?.authed)) return;
    // Messages in flight to it are unreachable now; its own queued messages have nobody to answer.
    type M = { key: string; sender: string; origin: string; rid: string };
    for (const m of this.sql.exec<M>("SELECT key, sender, origin, rid FROM messages WHERE dest = ? AND state = 'inflight'", att.id).toArray()) {
      this.finishMessage(m.key, { status: "unreachable", data: null, error: "destination disconnected" });
    }
    this.sql.exec("DELETE FROM messages WHERE sender = ? AND origin = 'ws'", att.id);
    for (const s of this.sql
      .exec<{ key: string; opener: string; opener_sid: string; dest: string }>("SELECT * FROM streams WHERE opener = ? OR dest = ?", att.id, att.id)
      .toArray()) {
      if (s.opener === att.id) this.sendTo(s.dest, { type: "stream-close", sid: s.key });
      else this.sendTo(s.opener, { type: "stream-close", sid: s.opener_sid });
      this.sql.exec("DELETE FROM streams WHERE key = ?", s.key);
    }
    this.schedule();
  }

  // ---- frames --------------------------------------------------------------------------------------------------

  private async handle(id: string, ws: WebSocket, f: MemberFrame): Promise<void> {
    switch (f.type) {
      case "hello":
        return void this.send(ws, { type: "error", code: "invalid_frame", error: "already authenticated" });
      case "note":
        return this.note(id, ws, f.note);
      case "accuse":
        return this.accuse(id, ws, f.accusation);
      case "pong":
        return this.pong(id, f.pid, f.sig);
      case "send":
        return this.sendFrame(id, ws, f);
      case "msg-reply":
        return this.msgReply(id, f.mid, { status: "ok", data: f.data ?? null, error: f.error ?? null });
      case "gossip-set":
        this.sql.exec("UPDATE cursors SET gossip = ? WHERE id = ?", f.data, id);
        return;
      case "gossip-reply":
        return this.gossipReply(id, f.gid, f.data ?? null, f.error ?? null);
      case "gossip-to":
        return this.gossipTo(id, ws, f);
      case "stream-open":
        return this.streamOpen(id, ws, f.sid, f.to);
      case "stream-data":
      case "stream-close":
        return this.streamFrame(id, ws, f);
      case "sync":
        return this.syncMember(id, true);
    }
  }

  private async note(id: string, ws: WebSocket, n: Note): Promise<void> {
    if (n.id !== id) return void this.send(ws, { type: "error", code: "invalid_note", error: "a member publishes only its own note" });
    const why = checkNote(this.view, n);
    if (why) return void this.send(ws, { type: "error", code: "note_rejected", error: why });
    if (!(await this.verifySignature(id, noteContent(this.group, n), n.sig)))
      return void this.send(ws, { type: "error", code: "note_rejected", error: "bad_signature" });
    const peer = this.view.peers.get(id);
    if (!peer) return;
    const effect = applyNote(peer, { id: n.id, epoch: n.epoch, mask: n.mask, sig: n.sig });
    if (effect.rebutted) {
      this.sql.exec("DELETE FROM ping_failures WHERE target = ?", id);
      this.logAccusation({ accused: id, accuser: id, ring: 0, epoch: n.epoch }, "rebutted");
      this.emit({ type: "rebutted", id, epoch: n.epoch, mask: n.mask });
    }
    if (effect.becameLive) this.emit({ type: "admitted", id, epoch: n.epoch });
    this.persistPeer(id);
    this.send(ws, { type: "note-accepted", epoch: n.epoch, mask: n.mask, live: peer.live });
  }

  private async accuse(id: string, ws: WebSocket | null, a: Accusation): Promise<void> {
    const reject = (why: string) => {
      this.logAccusation(a, `rejected: ${why}`);
      this.send(ws, { type: "error", code: "accusation_rejected", error: why });
    };
    if (a.accuser !== id) return reject("a member accuses only in its own name");
    const why = checkAccusation(this.view, a);
    if (why) return reject(why);
    if (!(await this.verifySignature(id, accusationContent(this.group, a), a.sig))) return reject("bad_signature");
    const peer = this.view.peers.get(a.accused);
    if (!peer) return reject("unknown_member");
    const acc: Accusation = { accused: a.accused, accuser: a.accuser, epoch: a.epoch, ring: a.ring, sig: a.sig };
    applyAccusation(peer, acc, this.now(), this.settings.removalTimeoutS * 1000);
    this.persistPeer(a.accused);
    this.logAccusation(a, "accepted");
    this.emit({ type: "accused", id: a.accused, accuser: a.accuser, ring: a.ring, epoch: a.epoch });
    // The accused learns at once, so that a live member can rebut before its removal deadline.
    this.sendTo(a.accused, { type: "accused", accusation: acc });
  }

  private logAccusation(a: { accused: string; accuser: string; ring: number; epoch: number }, outcome: string): void {
    this.sql.exec(
      "INSERT INTO accusation_log (at, accused, accuser, ring, epoch, outcome) VALUES (?, ?, ?, ?, ?, ?)",
      this.now(),
      a.accused,
      a.accuser,
      a.ring,
      a.epoch,
      outcome,
    );
    this.sql.exec("DELETE FROM accusation_log WHERE n <= (SELECT MAX(n) FROM accusation_log) - 200");
  }

  // ---- events --------------------------------------------------------------------------------------------------

  /** Records a membership event: into the outbox at once, to D1 in batches (never blocking the protocol). */
  private emit(e: MeshMemberEvent): void {
    this.sql.exec("INSERT INTO event_outbox (body) VALUES (?)", JSON.stringify(meshMemberEvent(this.group, this.now(), e)));
    // Bounded while D1 is unreachable: the oldest go first.
    this.sql.exec("DELETE FROM event_outbox WHERE n <= (SELECT MAX(n) FROM event_outbox) - ?", EVENT_OUTBOX_MAX);
    this.kickFlush();
  }

  private kickFlush(): void {
    if (this.flushing) return;
    const p = this.flushOutbox().finally(() => {
      this.flushing = null;
    });
    this.flushing = p;
    this.ctx.waitUntil(p);
  }

  /** Writes the outbox to D1, EVENT_BATCH events per db.batch; what fails stays for the next attempt. */
  private async flushOutbox(): Promise<void> {
    const db = dbFrom(this.env.DB);
    for (;;) {
      const rows = this.sql.exec<{ n: number; body: string }>("SELECT n, body FROM event_outbox ORDER BY n LIMIT ?", EVENT_BATCH).toArray();
      if (rows.length === 0) return;
      try {
        const [first, ...rest] = rows.map((r) => eventInsert(db, JSON.parse(r.body)));
        await db.batch([first, ...rest]);
      } catch (e) {
        log.error("mesh.group", "membership events not written; kept for the next attempt", { group: this.group, pending: rows.length, error: errorText(e) });
        return;
      }
      this.sql.exec("DELETE FROM event_outbox WHERE n <= ?", rows[rows.length - 1].n);
    }
  }

  /** Waits until the outbox is written (tests, and a caller that wants the history to be current); returns what is left. */
  async flushEvents(): Promise<number> {
    if (this.flushing) await this.flushing;
    await this.flushOutbox();
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM event_outbox").one().n;
  }

  // ---- pings ---------------------------------------------------------------------------------------------------

  private async pong(id: string, pid: string, sig: string): Promise<void> {
    type P = { pid: string; monitor: string; target: string; ring: number; nonce: string };
    const p = this.sql.exec<P>("SELECT * FROM pings WHERE pid = ?", pid).toArray()[0];
    if (!p || p.target !== id) return; // late (already counted as missed) or not addressed to this member
    this.sql.exec("DELETE FROM pings WHERE pid = ?", pid);
    const ok = await this.verifySignature(id, pongContent(this.group, p.nonce), sig);
    this.pingResult(p, ok, ok ? sig : null);
  }

  private pingResult(p: { monitor: string; target: string; ring: number; nonce: string }, ok: boolean, sig: string | null): void {
    const prev = this.sql.exec<{ failures: number }>("SELECT failures FROM ping_failures WHERE monitor = ? AND target = ?", p.monitor, p.target).toArray()[0];
    const out = recordPing(prev?.failures ?? 0, ok, this.settings.pingLimit);
    this.sql.exec(
      "INSERT INTO ping_failures (monitor, target, failures) VALUES (?, ?, ?) ON CONFLICT (monitor, target) DO UPDATE SET failures = excluded.failures",
      p.monitor,
      p.target,
      out.failures,
    );
    this.sendTo(p.monitor, { type: "ping-result", target: p.target, ring: p.ring, ok, failures: out.failures, nonce: p.nonce, sig });
    const target = this.view.peers.get(p.target);
    if (!out.suspect || !target?.note || !target.live) return;
    const held = target.accusations.get(p.ring);
    if (held && held.accuser === p.monitor && held.epoch === target.note.epoch) return;
    // The monitor signs the accusation (the object holds no member's key).
    this.sendTo(p.monitor, { type: "suspect", accused: p.target, ring: p.ring, epoch: target.note.epoch });
  }

  private pingRound(now: number): void {
    const live = liveIds(this.view);
    const monitors = live.filter((id) => this.connected(id));
    const cursors = new Map<string, number>();
    for (const r of this.sql.exec<{ id: string; ping_ring: number }>("SELECT id, ping_ring FROM cursors").toArray()) cursors.set(r.id, r.ping_ring);
    const plan = planPings(this.positions, live, monitors, cursors, probesPerRound(this.settings.pingsPerInterval, this.numRings), this.numRings);
    for (const [id, ring] of plan.cursors) this.sql.exec("UPDATE cursors SET ping_ring = ? WHERE id = ?", ring, id);
    for (const p of plan.pings) {
      const pid = crypto.randomUUID();
      const nonce = bytesToB64(crypto.getRandomValues(new Uint8Array(32)));
      // An unreachable target fails at once, as a UDP send error does.
      if (!this.sendTo(p.target, { type: "ping", pid, nonce })) {
        this.pingResult({ ...p, nonce }, false, null);
        continue;
      }
      this.sql.exec(
        "INSERT INTO pings (pid, monitor, target, ring, nonce, deadline) VALUES (?, ?, ?, ?, ?, ?)",
        pid,
        p.monitor,
        p.target,
        p.ring,
        nonce,
        now + this.settings.pingTimeoutS * 1000,
      );
    }
  }

  // ---- gossip and view deltas --------------------------------------------------------------------------------------

  private memberView(id: string): MemberView | null {
    const row = this.rows.get(id);
    if (!row) return null;
    const p = this.view.peers.get(id);
    const r = row.record;
    return {
      id,
      rpcAddr: r.rpcAddr,
      pingAddr: r.pingAddr,
      httpAddr: r.httpAddr,
      namedCurve: r.namedCurve,
      spkiDer: r.spkiDer,
      notAfter: r.notAfter,
      trusted: r.trusted,
      revoked: row.revokedAt !== null,
      live: p?.live ?? false,
      note: p?.note ?? null,
      accusations: [...(p?.accusations.values() ?? [])],
    };
  }

  /** Certificates, notes and accusations the member has not seen (all of them when `full`). */
  private syncMember(id: string, full: boolean): void {
    const cur = this.sql.exec<{ synced_seq: number }>("SELECT synced_seq FROM cursors WHERE id = ?", id).toArray()[0];
    const since = full ? 0 : (cur?.synced_seq ?? 0);
    const seq = this.metaNum("seq") ?? 0;
    const changed = [...this.rows.entries()].filter(([, r]) => r.seq > since).map(([mid]) => this.memberView(mid)!);
    if (!full && changed.length === 0) return;
    if (this.sendTo(id, { type: "state", seq, full, members: changed })) this.sql.exec("UPDATE cursors SET synced_seq = ? WHERE id = ?", seq, id);
  }

  private gossipRound(now: number): void {
    const live = liveIds(this.view);
    type C = { id: string; gossip_ring: number; gossip: string | null };
    for (const c of this.sql.exec<C>("SELECT id, gossip_ring, gossip FROM cursors").toArray()) {
      if (!this.connected(c.id)) continue;
      this.syncMember(c.id, false);
      if (!this.view.peers.get(c.id)?.live) continue;
      const { ring, partners } = gossipPartners(this.positions, live, c.id, c.gossip_ring, this.numRings);
      this.sql.exec("UPDATE cursors SET gossip_ring = ? WHERE id = ?", ring, c.id);
      if (c.gossip === null) continue;
      for (const to of partners) this.deliverGossip(c.id, to, c.gossip, now);
    }
  }

  private deliverGossip(from: string, to: string, data: string, now: number): void {
    const gid = crypto.randomUUID();
    if (!this.sendTo(to, { type: "gossip", gid, from, data })) {
      this.sendTo(from, { type: "gossip-response", from: to, data: null, error: "unreachable" });
      return;
    }
    this.sql.exec("INSERT INTO gossips (gid, sender, receiver, deadline) VALUES (?, ?, ?, ?)", gid, from, to, now + this.settings.messageTimeoutS * 1000);
  }

  private gossipReply(id: string, gid: string, data: string | null, error: string | null): void {
    const g = this.sql.exec<{ sender: string; receiver: string }>("SELECT sender, receiver FROM gossips WHERE gid = ?", gid).toArray()[0];
    if (!g || g.receiver !== id) return;
    this.sql.exec("DELETE FROM gossips WHERE gid = ?", gid);
    this.sendTo(g.sender, { type: "gossip-response", from: id, data, error });
  }

  private gossipTo(id: string, ws: WebSocket, f: Extract<MemberFrame, { type: "gossip-to" }>): void {
    const to = this.view.peers.get(f.to);
    if (!to) return void this.send(ws, { type: "gossip-result", rid: f.rid, admission: "unknown", error: "unknown member" });
    const admission = gossipAdmission(this.view, id, f.to);
    if (admission === "neighbour") {
      this.deliverGossip(id, f.to, f.data, this.now());
      return void this.send(ws, { type: "gossip-result", rid: f.rid, admission });
    }
    if (admission === "accused") {
      const me = this.view.peers.get(id);
      return void this.send(ws, { type: "gossip-result", rid: f.rid, admission, accusations: [...(me?.accusations.values() ?? [])] });
    }
    if (admission === "joining") return void this.send(ws, { type: "gossip-result", rid: f.rid, admission, members: [this.memberView(f.to)] });
    this.send(ws, { type: "gossip-result", rid: f.rid, admission, error: "errNotMyNeighbour" });
  }

  // ---- messages ------------------------------------------------------------------------------------------------

  private resolve(to: { id?: string; addr?: string }): string | null {
    const members = [...this.rows.values()].map((r) => ({ id: r.record.id, rpcAddr: r.record.rpcAddr, revoked: r.revokedAt !== null }));
    // SendTo takes an address from Members(): prefer a live member with it.
    if (to.addr !== undefined) {
      const live = members.filter((m) => this.view.peers.get(m.id)?.live);
      return resolveDestination(live, to) ?? resolveDestination(members, to);
    }
    return resolveDestination(members, to);
  }

  private enqueue(sender: string, origin: "ws" | "http", rid: string, dest: string, data: string): string {
    const key = crypto.randomUUID();
    const seq = this.nextSeqMsg();
    this.sql.exec(
      "INSERT INTO messages (key, sender, origin, rid, dest, data, state, seq) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
      key,
      sender,
      origin,
      rid,
      dest,
      data,
      seq,
    );
    return key;
  }

  private nextSeqMsg(): number {
    const n = (this.metaNum("msg_seq") ?? 0) + 1;
    this.setMeta("msg_seq", n);
    return n;
  }

  /** Send as many of `sender`'s queued messages as max_concurrent_messages allows. */
  private pump(sender: string): void {
    const inFlight = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE sender = ? AND state = 'inflight'", sender).one().n;
    type Q = { key: string; sender: string; seq: number; dest: string; data: string };
    const queued = this.sql.exec<Q>("SELECT key, sender, seq, dest, data FROM messages WHERE sender = ? AND state = 'queued' ORDER BY seq", sender).toArray();
    const now = this.now();
    for (const m of dispatchable(queued, inFlight, this.settings.maxConcurrentMessages)) {
      if (!this.sendTo(m.dest, { type: "msg", mid: m.key, from: sender, data: m.data })) {
        this.finishMessage(m.key, { status: "unreachable", data: null, error: "destination is not connected" }, false);
        continue;
      }
      this.sql.exec("UPDATE messages SET state = 'inflight', deadline = ? WHERE key = ?", now + this.settings.messageTimeoutS * 1000, m.key);
    }
  }

  private finishMessage(key: string, result: MessageResult, pumpAfter = true): void {
    type M = { sender: string; origin: string; rid: string };
    const m = this.sql.exec<M>("SELECT sender, origin, rid FROM messages WHERE key = ?", key).toArray()[0];
    if (!m) return;
    this.sql.exec("DELETE FROM messages WHERE key = ?", key);
    if (m.origin === "http") {
      this.waiters.get(key)?.(result);
      this.waiters.delete(key);
    } else this.sendTo(m.sender, { type: "reply", rid: m.rid, ...result });
    if (pumpAfter) this.pump(m.sender);
  }

  private sendFrame(id: string, ws: WebSocket, f: Extract<MemberFrame, { type: "send" }>): void {
    const dest = this.resolve({ id: f.to, addr: f.addr });
    if (!dest) return void this.send(ws, { type: "reply", rid: f.rid, status: "unknown", data: null, error: "no member with that id or address" });
    this.enqueue(id, "ws", f.rid, dest, f.data);
    this.pump(id);
  }

  private msgReply(id: string, mid: string, result: MessageResult): void {
    const m = this.sql.exec<{ dest: string }>("SELECT dest FROM messages WHERE key = ? AND state = 'inflight'", mid).toArray()[0];
    if (!m || m.dest !== id) return;
    this.finishMessage(mid, result);
  }

  /** POST /mesh/:group/members/:id/messages: the same relay, the reply (or timeout) as the call's result. */
  async sendMessage(from: string, to: string, data: string): Promise<MessageResult> {
    const dest = this.resolve({ id: to });
    if (!dest) return { status: "unknown", data: null, error: "no member with that id" };
    const key = this.enqueue(from, "http", "", dest, data);
    const done = new Promise<MessageResult>((resolve) => this.waiters.set(key, resolve));
    this.pump(from);
    this.schedule();
    return done;
  }

  // ---- streams -------------------------------------------------------------------------------------------------

  private streamOpen(id: string, ws: WebSocket, sid: string, to: string): void {
    if (this.sql.exec("SELECT 1 FROM streams WHERE opener = ? AND opener_sid = ?", id, sid).toArray().length) {
      return void this.send(ws, { type: "error", code: "stream_exists", error: `stream ${sid} is already open` });
    }
    // The destination knows the stream by a key of the object's own, so openers' ids never collide.
    const key = crypto.randomUUID();
    if (!this.view.peers.has(to) || !this.sendTo(to, { type: "stream-open", sid: key, from: id })) {
      return void this.send(ws, { type: "stream-close", sid, error: "destination is not connected" });
    }
    this.sql.exec("INSERT INTO streams (key, opener, opener_sid, dest) VALUES (?, ?, ?, ?)", key, id, sid, to);
  }

  private streamFrame(id: string, ws: WebSocket, f: Extract<MemberFrame, { type: "stream-data" | "stream-close" }>): void {
    type S = { key: string; opener: string; opener_sid: string; dest: string };
    const mine = this.sql.exec<S>("SELECT * FROM streams WHERE opener = ? AND opener_sid = ?", id, f.sid).toArray()[0];
    const theirs = mine ? undefined : this.sql.exec<S>("SELECT * FROM streams WHERE key = ? AND dest = ?", f.sid, id).toArray()[0];
    const s = mine ?? theirs;
    if (!s) return void this.send(ws, { type: "error", code: "unknown_stream", error: `no open stream ${f.sid}` });
    const other = mine ? s.dest : s.opener;
    const otherSid = mine ? s.key : s.opener_sid;
    if (f.type === "stream-close") this.sql.exec("DELETE FROM streams WHERE key = ?", s.key);
    this.sendTo(other, f.type === "stream-data" ? { type: "stream-data", sid: otherSid, data: f.data } : { type: "stream-close", sid: otherSid });
  }

  // ---- the alarm -----------------------------------------------------------------------------------------------

  private startRounds(): void {
    const now = this.now();
    const s = this.settings;
    if (this.metaNum("next_ping") === null) this.setMeta("next_ping", now + s.monitorIntervalS * 1000);
    if (this.metaNum("next_gossip") === null) this.setMeta("next_gossip", now + s.gossipIntervalS * 1000);
    if (this.metaNum("next_sweep") === null) this.setMeta("next_sweep", now + s.viewUpdateIntervalS * 1000);
  }

  private anyConnected(): boolean {
    return this.ctx.getWebSockets().some((ws) => (ws.deserializeAttachment() as Attachment | null)?.authed);
  }

  /** The one alarm: the earliest of the rounds (while anyone is connected), removal deadlines and reply timeouts. */
  private schedule(): void {
    const times: number[] = [];
    if (this.anyConnected()) for (const k of ["next_ping", "next_gossip", "next_sweep"]) times.push(this.metaNum(k) ?? Number.POSITIVE_INFINITY);
    const removal = nextRemoval(this.view);
    if (removal !== null) times.push(removal);
    for (const q of [
      "SELECT MIN(deadline) AS t FROM pings",
      "SELECT MIN(deadline) AS t FROM messages WHERE state = 'inflight'",
      "SELECT MIN(deadline) AS t FROM gossips",
    ]) {
      const t = this.sql.exec<{ t: number | null }>(q).one().t;
      if (t !== null) times.push(t);
    }
    const at = Math.min(...times);
    if (!Number.isFinite(at)) {
      this.setMeta("alarm_at", null);
      void this.ctx.storage.deleteAlarm();
      return;
    }
    if (this.metaNum("alarm_at") === at) return;
    this.setMeta("alarm_at", at);
    void this.ctx.storage.setAlarm(at);
  }

  async alarm(): Promise<void> {
    const due = this.metaNum("alarm_at");
    this.setMeta("alarm_at", null);
    if (due !== null && due > this.logical) {
      this.logical = due;
      this.setMeta("clock", due);
    }
    const now = this.now();
    const s = this.settings;
    // Missed pongs.
    type P = { pid: string; monitor: string; target: string; ring: number; nonce: string };
    for (const p of this.sql.exec<P>("SELECT * FROM pings WHERE deadline <= ?", now).toArray()) {
      this.sql.exec("DELETE FROM pings WHERE pid = ?", p.pid);
      this.pingResult(p, false, null);
    }
    // Replies that did not come.
    for (const m of this.sql.exec<{ key: string }>("SELECT key FROM messages WHERE state = 'inflight' AND deadline <= ?", now).toArray()) {
      this.finishMessage(m.key, { status: "timeout", data: null, error: `no reply within ${s.messageTimeoutS} s` });
    }
    for (const g of this.sql.exec<{ gid: string; sender: string; receiver: string }>("SELECT * FROM gossips WHERE deadline <= ?", now).toArray()) {
      this.sql.exec("DELETE FROM gossips WHERE gid = ?", g.gid);
      this.sendTo(g.sender, { type: "gossip-response", from: g.receiver, data: null, error: "timeout" });
    }
    // Unrebutted accusations past removal_timeout.
    for (const id of dueRemovals(this.view, now)) {
      const p = this.view.peers.get(id);
      if (!p) continue;
      remove(p);
      this.persistPeer(id);
      this.logAccusation({ accused: id, accuser: "", ring: 0, epoch: p.note?.epoch ?? 0 }, "removed");
      this.emit({ type: "removed", id, reason: "removal_timeout" });
    }
    const connected = this.anyConnected();
    const nextSweep = this.metaNum("next_sweep");
    if (nextSweep !== null && nextSweep <= now) {
      // The view update sweep: members whose certificate expired leave the live view (renewal brings them back with a note).
      for (const [id, row] of this.rows) {
        const p = this.view.peers.get(id);
        if (p?.live && Date.parse(row.record.notAfter) <= now) {
          remove(p);
          this.persistPeer(id);
          this.emit({ type: "removed", id, reason: "certificate_expired" });
          for (const ws of this.ctx.getWebSockets(id)) this.closeSocket(ws, 4003, "certificate expired");
        }
      }
      this.setMeta("next_sweep", connected ? now + s.viewUpdateIntervalS * 1000 : null);
    }
    const nextPing = this.metaNum("next_ping");
    if (nextPing !== null && nextPing <= now) {
      this.pingRound(now);
      this.setMeta("next_ping", connected ? now + s.monitorIntervalS * 1000 : null);
    }
    const nextGossip = this.metaNum("next_gossip");
    if (nextGossip !== null && nextGossip <= now) {
      this.gossipRound(now);
      this.setMeta("next_gossip", connected ? now + s.gossipIntervalS * 1000 : null);
    }
    // Events a failed flush left behind get another attempt with each alarm.
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM event_outbox").one().n > 0) this.kickFlush();
    this.schedule();
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  /** Members(): the live view, ids and addresses. */
  async liveView(): Promise<{ id: string; rpcAddr: string; pingAddr: string; httpAddr: string | null }[]> {
    return liveIds(this.view)
      .sort()
      .map((id) => {
        const r = this.rows.get(id)!.record;
        return { id, rpcAddr: r.rpcAddr, pingAddr: r.pingAddr, httpAddr: r.httpAddr };
      });
  }

  /** Whether `id` may sign requests now, and whether the signature verifies (the member HTTP routes' auth). */
  async verifyRequest(id: string, content: Uint8Array, sig: string): Promise<"ok" | "unknown" | "refused" | "bad_signature"> {
    const no = this.refusal(id);
    if (no) return no.status === 404 ? "unknown" : "refused";
    return (await this.verifySignature(id, content, sig)) ? "ok" : "bad_signature";
  }

  /** The console's and the tests' view of the whole group. */
  async snapshot(): Promise<GroupSnapshot> {
    type L = { at: number; accused: string; accuser: string; ring: number; epoch: number; outcome: string };
    return {
      numRings: this.numRings,
      now: new Date(this.now()).toISOString(),
      members: [...this.rows.entries()].map(([id, row]) => ({
        ...this.memberView(id)!,
        connected: this.connected(id),
        admittedAt: new Date(row.admittedAt).toISOString(),
        removalAt: this.view.peers.get(id)?.timerAt ? new Date(this.view.peers.get(id)!.timerAt!).toISOString() : null,
      })),
      recentAccusations: this.sql
        .exec<L>("SELECT * FROM accusation_log ORDER BY n DESC LIMIT 50")
        .toArray()
        .map((l) => ({ ...l, at: new Date(l.at).toISOString() })),
    };
  }

  /** Pings awaiting a pong (tests wait on these instead of on time). */
  async pendingPings(): Promise<{ pid: string; monitor: string; target: string; ring: number }[]> {
    return this.sql.exec<{ pid: string; monitor: string; target: string; ring: number }>("SELECT pid, monitor, target, ring FROM pings").toArray();
  }

  async pingFailures(): Promise<{ monitor: string; target: string; failures: number }[]> {
    return this.sql.exec<{ monitor: string; target: string; failures: number }>("SELECT * FROM ping_failures").toArray();
  }

  async messageQueue(): Promise<{ sender: string; dest: string; state: string }[]> {
    return this.sql.exec<{ sender: string; dest: string; state: string }>("SELECT sender, dest, state FROM messages ORDER BY seq").toArray();
  }
}
