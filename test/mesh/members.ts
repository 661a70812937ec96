import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { fullMask, rebuttalMask } from "../../functions/mesh/fireflies";
import type { MeshMemberRecord, MeshNamedCurve } from "../../functions/mesh/member-record";
import { bytesToHex } from "../../functions/mesh/ring";
import { accusationContent, b64ToBytes, bytesToB64, challengeContent, noteContent, pongContent, requestContent } from "../../functions/mesh/signatures";
import { BASE } from "../helpers";

export type Frame = Record<string, any>;

export function groupStub(group: string) {
  return env.MESH_GROUP.get(env.MESH_GROUP.idFromName(group));
}

export const newGroup = () => `g-${crypto.randomUUID().slice(0, 8)}`;

export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs = 3000, what = "condition") {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Raw r‖s → DER SEQUENCE{INTEGER r, INTEGER s}, as Go's ecdsa.SignASN1 writes it. */
export function rawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.subarray(i);
    if (v[0] & 0x80) v = Uint8Array.of(0, ...v);
    return Uint8Array.of(0x02, v.length, ...v);
  };
  const body = Uint8Array.of(...int(raw.subarray(0, half)), ...int(raw.subarray(half)));
  const len = body.length < 0x80 ? [body.length] : [0x81, body.length];
  return Uint8Array.of(0x30, ...len, ...body);
}

/** A member's identity: a WebCrypto ECDSA key and the record the CA would hand the group object. */
export class Identity {
  private constructor(
    readonly id: string,
    readonly keys: CryptoKeyPair,
    readonly record: MeshMemberRecord,
    readonly der: boolean,
  ) {}

  static async create(opts: { curve?: MeshNamedCurve; n?: number; notAfter?: string; der?: boolean; rings?: number } = {}): Promise<Identity> {
    const curve = opts.curve ?? "P-256";
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", keys.publicKey)) as ArrayBuffer);
    const id = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    const n = opts.n ?? 0;
    const record: MeshMemberRecord = {
      id,
      // Not a whole certificate: only its ring-count extension (2.5.13.37, 4 bytes little-endian), which is all the
      // group object reads from it.
      certDer: opts.rings ? bytesToB64(Uint8Array.of(0x06, 0x03, 0x55, 0x0d, 0x25, 0x04, 0x04, opts.rings, 0, 0, 0)) : "",
      spkiDer: bytesToB64(spki),
      namedCurve: curve,
      rpcAddr: `10.0.0.${n + 1}:8300`,
      pingAddr: `10.0.0.${n + 1}:8301`,
      httpAddr: null,
      notAfter: opts.notAfter ?? new Date(Date.now() + 24 * 3600_000).toISOString(),
      serial: bytesToHex(crypto.getRandomValues(new Uint8Array(16))),
      trusted: n < 10,
    };
    return new Identity(id, keys, record, opts.der ?? false);
  }

  async sign(content: Uint8Array): Promise<string> {
    const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, this.keys.privateKey, content));
    return bytesToB64(this.der ? rawToDer(raw) : raw);
  }
}

/** The raw upgrade to a member's WebSocket. */
export function upgrade(group: string, id: string, headers: Record<string, string> = { upgrade: "websocket" }) {
  return exports.default.fetch(new Request(`${BASE}/mesh/${group}/members/${id}/connect`, { headers }));
}

/**
 * A simulated member over a real WebSocket inside workerd: answers the challenge, publishes its note, answers
 * pings (or not), signs accusations when the group reports a suspect, rebuts accusations, and runs message,
 * gossip and stream handlers. Every frame it receives is recorded.
 */
export class SimMember {
  frames: Frame[] = [];
  ws: WebSocket | null = null;
  epoch = 0;
  mask: number;
  /** "answer" pongs, stay "silent", or answer with a "badsig". */
  pings: "answer" | "silent" | "badsig" = "answer";
  /** Leave this many pings unanswered (then answer again). */
  dropPings = 0;
  dropped = new Set<string>();
  autoAccuse = true;
  autoRebut = true;
  msgHandler: (data: string, from: string) => { data?: string | null; error?: string | null } | null = (d) => ({ data: d, error: null });
  gossipHandler: (data: string, from: string) => { data?: string | null; error?: string | null } = () => ({ data: null });
  view = new Map<string, Frame>();
  closed = false;
  private sendSeq = 0;

  constructor(
    readonly group: string,
    readonly me: Identity,
    readonly numRings = 10,
  ) {
    this.mask = fullMask(numRings);
  }

  get id() {
    return this.me.id;
  }

  async connect(opts: { note?: boolean; wrongKey?: Identity } = {}): Promise<void> {
    const res = await upgrade(this.group, this.id);
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
    const ws = res.webSocket;
    ws.accept();
    this.ws = ws;
    this.closed = false;
    ws.addEventListener("close", () => (this.closed = true));
    ws.addEventListener("message", (ev) => void this.onFrame(JSON.parse(ev.data as string), opts));
    await waitFor(() => this.closed || this.frames.some((f) => f.type === "welcome"), 3000, `${this.id.slice(0, 6)} welcome`);
    if (opts.note !== false) await waitFor(() => this.closed || this.frames.some((f) => f.type === "note-accepted" || f.type === "error"));
  }

  private async onFrame(f: Frame, opts: { note?: boolean; wrongKey?: Identity }) {
    this.frames.push(f);
    switch (f.type) {
      case "challenge": {
        const signer = opts.wrongKey ?? this.me;
        const hello: Frame = { type: "hello", sig: await signer.sign(challengeContent(this.group, this.id, f.nonce)) };
        if (opts.note !== false) hello.note = await this.nextNote(this.mask);
        return this.send(hello);
      }
      case "welcome":
        if (f.note && f.note.epoch > this.epoch) this.epoch = f.note.epoch;
        return;
      case "ping":
        if (this.pings === "silent") return;
        if (this.dropPings > 0) {
          this.dropPings--;
          this.dropped.add(f.pid);
          return;
        }
        if (this.pings === "badsig") return this.send({ type: "pong", pid: f.pid, sig: await this.me.sign(pongContent(this.group, `${f.nonce}x`)) });
        return this.send({ type: "pong", pid: f.pid, sig: await this.me.sign(pongContent(this.group, f.nonce)) });
      case "suspect":
        if (this.autoAccuse) await this.accuse(f.accused, f.ring, f.epoch);
        return;
      case "accused":
        if (this.autoRebut && f.accusation.epoch === this.epoch) await this.rebut(f.accusation.ring);
        return;
      case "msg": {
        const r = this.msgHandler(f.data, f.from);
        if (r) this.send({ type: "msg-reply", mid: f.mid, ...r });
        return;
      }
      case "gossip":
        return this.send({ type: "gossip-reply", gid: f.gid, ...this.gossipHandler(f.data, f.from) });
      case "state":
        for (const m of f.members) this.view.set(m.id, m);
        return;
    }
  }

  async nextNote(mask: number): Promise<Frame> {
    this.epoch += 1;
    this.mask = mask;
    const body = { id: this.id, epoch: this.epoch, mask };
    return { ...body, sig: await this.me.sign(noteContent(this.group, body)) };
  }

  async rebut(ring: number) {
    this.send({ type: "note", note: await this.nextNote(rebuttalMask(this.mask, ring, this.numRings)) });
  }

  async accusation(accused: string, ring: number, epoch: number, signer: Identity = this.me): Promise<Frame> {
    const body = { accused, accuser: this.id, epoch, ring };
    return { ...body, sig: await signer.sign(accusationContent(this.group, body)) };
  }

  async accuse(accused: string, ring: number, epoch: number) {
    this.send({ type: "accuse", accusation: await this.accusation(accused, ring, epoch) });
  }

  send(f: Frame | string) {
    this.ws?.send(typeof f === "string" ? f : JSON.stringify(f));
  }

  /** SendToId / SendTo over the socket; resolves with the reply frame. */
  async sendTo(to: { id?: string; addr?: string }, data: string, timeoutMs = 3000): Promise<Frame> {
    const rid = `r${++this.sendSeq}`;
    this.send({ type: "send", rid, ...(to.id ? { to: to.id } : { addr: to.addr }), data });
    await waitFor(() => this.frames.some((f) => f.type === "reply" && f.rid === rid), timeoutMs, `reply ${rid}`);
    return this.frames.find((f) => f.type === "reply" && f.rid === rid)!;
  }

  of(type: string) {
    return this.frames.filter((f) => f.type === type);
  }

  liveView(): string[] {
    return [...this.view.values()]
      .filter((m) => m.live && !m.revoked)
      .map((m) => m.id)
      .sort();
  }

  close() {
    this.closed = true;
    this.ws?.close(1000, "bye");
  }

  /** Signed request headers for the member HTTP routes. */
  async signedHeaders(method: string, path: string, body = "", ts = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
    const hash = bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body))));
    return {
      "x-mesh-member": this.id,
      "x-mesh-timestamp": String(ts),
      "x-mesh-signature": await this.me.sign(requestContent(this.group, method, path, ts, hash)),
    };
  }
}

/** Admit `n` members and connect them all (each publishes note epoch 1). */
export async function startGroup(n: number, opts: { group?: string; curve?: MeshNamedCurve; rings?: number } = {}) {
  const group = opts.group ?? newGroup();
  const stub = groupStub(group);
  const members: SimMember[] = [];
  for (let i = 0; i < n; i++) {
    const ident = await Identity.create({ n: i, curve: opts.curve, rings: opts.rings });
    await stub.admit(ident.record);
    members.push(new SimMember(group, ident, opts.rings ?? 10));
  }
  for (const m of members) await m.connect();
  return { group, stub, members };
}

/**
 * Fire the group's alarm (time jumps to its deadline), then let the members answer what it sent: every ping to a
 * member that answers has its pong processed before the next tick.
 */
export async function tick(group: string, members: SimMember[]) {
  const stub = groupStub(group);
  const ran = await runDurableObjectAlarm(stub);
  const answering = new Set(members.filter((m) => m.pings !== "silent" && !m.closed).map((m) => m.id));
  const dropped = new Set(members.flatMap((m) => [...m.dropped]));
  await waitFor(async () => (await stub.pendingPings()).every((p) => !answering.has(p.target) || dropped.has(p.pid)), 3000, "pongs");
  await new Promise((r) => setTimeout(r, 15));
  return ran;
}

export async function tickUntil(group: string, members: SimMember[], pred: () => boolean | Promise<boolean>, max = 40, what = "condition") {
  for (let i = 0; i < max; i++) {
    if (await pred()) return i;
    await tick(group, members);
  }
  if (await pred()) return max;
  throw new Error(`not reached within ${max} alarms: ${what}`);
}

export const b64 = (s: string) => bytesToB64(new TextEncoder().encode(s));
export const unb64 = (s: string) => new TextDecoder().decode(b64ToBytes(s));
