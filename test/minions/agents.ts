import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { BASE, call, registerProbe } from "../helpers";
import seed from "./seed-status.json";

/** The seed's `GET /minions/:id` status object (a real stormflash status), deep-copied. */
export function seedStatus(over: Record<string, unknown> = {}): Record<string, any> {
  return { ...structuredClone(seed), ...over };
}

/** An enrolled stormflash agent (POST /api/v1/agents/register, then /login) and its agent token. */
export async function registerAgent() {
  const reg = await call("POST", "/api/v1/agents/register", { json: { name: "stormflash-test" } });
  if (reg.status !== 201) throw new Error(`agent register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await call("POST", "/api/v1/agents/login", { json: { client_id: reg.body.client_id, secret: reg.body.secret } });
  if (login.status !== 200) throw new Error(`agent login failed: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: reg.body.client_id as string, token: login.body.token as string, secret: reg.body.secret as string };
}

/** A mobile probe registered through the OONI flow (its probe token may connect only in open mode). */
export async function registerProbeAgent() {
  const r = await registerProbe({ platform: "linux", software_name: "stormflash", software_version: "1.3.3", supported_tests: ["status"] });
  return { id: r.clientId, token: r.token! };
}

export type Frame = Record<string, any>;

const live = new Set<SimAgent>();

/** Close every simulated agent still open and wait until each has left the registry (for afterEach). */
export async function closeAll(token: string) {
  const open = [...live];
  live.clear();
  for (const sim of open) if (!sim.closed) sim.close();
  for (const sim of open) {
    await waitFor(
      async () =>
        (await exports.default.fetch(new Request(`${BASE}/minions/${sim.id}`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } }))).status ===
        404,
      3000,
      `minion ${sim.id} to leave`,
    );
  }
}

/**
 * A stormflash stand-in over a real WebSocket inside workerd: says hello, answers relays of GET /status from
 * `status` (or holds them, fails them, or never answers), records every frame it receives.
 */
export class SimAgent {
  frames: Frame[] = [];
  status: Record<string, any>;
  mode: "answer" | "hold" | "silent" | "error" | "http500" | "badjson" = "answer";
  held: Frame[] = [];
  /** Replies for relays other than GET /status: (frame) => reply fields. */
  handler: (f: Frame) => { statusCode: number; headers?: Record<string, string>; body?: string } = () => ({ statusCode: 404, body: "" });
  closed = false;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    status?: Record<string, any>,
  ) {
    this.status = status ?? seedStatus({ id });
    ws.accept();
    live.add(this);
    ws.addEventListener("message", (ev) => this.onMessage(JSON.parse(ev.data as string)));
    ws.addEventListener("close", () => (this.closed = true));
  }

  private onMessage(f: Frame) {
    this.frames.push(f);
    if (f.type !== "relay") return;
    if (this.mode === "hold") return void this.held.push(f);
    if (this.mode === "silent") return;
    this.answer(f);
  }

  answer(f: Frame) {
    if (this.mode === "error") return this.send({ type: "relay-reply", rid: f.rid, error: "connect ECONNREFUSED 127.0.0.1:5000" });
    if (f.url === "/status" && f.method === "GET") {
      if (this.mode === "http500") return this.send({ type: "relay-reply", rid: f.rid, statusCode: 500, headers: null, body: "" });
      if (this.mode === "badjson") return this.send({ type: "relay-reply", rid: f.rid, statusCode: 200, headers: {}, body: "[not json" });
      return this.send({
        type: "relay-reply",
        rid: f.rid,
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(this.status),
      });
    }
    this.send({ type: "relay-reply", rid: f.rid, ...this.handler(f) });
  }

  release() {
    const h = this.held;
    this.held = [];
    this.mode = "answer";
    for (const f of h) this.answer(f);
  }

  send(f: Frame | string) {
    this.ws.send(typeof f === "string" ? f : JSON.stringify(f));
  }

  hello(capability = [5000]) {
    this.send({ type: "hello", capability });
  }

  close() {
    this.ws.close(1000, "bye");
  }

  relays() {
    return this.frames.filter((f) => f.type === "relay");
  }
}

/** The raw upgrade: returns the Response (101 with a webSocket, or an error). */
export async function upgrade(id: string, opts: { token?: string; protocolToken?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { upgrade: "websocket", ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.protocolToken) headers["sec-websocket-protocol"] = `bearer, ${opts.protocolToken}`;
  return exports.default.fetch(new Request(`${BASE}/agents/${id}/connect`, { headers }));
}

/** Connect an agent, say hello and wait until its first status poll was answered and stored. */
export async function connectAgent(
  agent?: { id: string; token: string },
  opts: { hello?: boolean; status?: Record<string, any>; capability?: number[] } = {},
): Promise<SimAgent> {
  const a = agent ?? (await registerAgent());
  const res = await upgrade(a.id, { token: a.token });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const sim = new SimAgent(a.id, res.webSocket, opts.status);
  if (opts.hello !== false) {
    sim.hello(opts.capability);
    await waitFor(() => sim.frames.some((f) => f.type === "hello:reply"));
  }
  return sim;
}

export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs = 3000, what = "condition") {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function agentStub(id: string) {
  return env.MINION_AGENT.getByName(id);
}

/** One monitor tick of that agent's object (the alarm), as the platform would run it. */
export async function tick(id: string) {
  return runDurableObjectAlarm(agentStub(id));
}
