import { describe, expect, it } from "vitest";
import { call } from "../helpers";
import { b64, startGroup, tickUntil, unb64, waitFor } from "./members";

describe("SendTo / SendToId over the member's WebSocket", () => {
  it("delivers to the destination's handler and returns its reply, by id and by rpc address", async () => {
    const { members } = await startGroup(3);
    const [a, b] = members;
    b.msgHandler = (data, from) => ({ data: b64(`${unb64(data)} from ${from.slice(0, 4)}`), error: null });
    const byId = await a.sendTo({ id: b.id }, b64("hi"));
    expect(byId).toMatchObject({ status: "ok", error: null });
    expect(unb64(byId.data)).toBe(`hi from ${a.id.slice(0, 4)}`);
    const byAddr = await a.sendTo({ addr: b.me.record.rpcAddr }, b64("yo"));
    expect(unb64(byAddr.data)).toBe(`yo from ${a.id.slice(0, 4)}`);
    for (const m of members) m.close();
  });

  it("returns the handler's error to the sender", async () => {
    const { members } = await startGroup(2);
    members[1].msgHandler = () => ({ data: null, error: "no such key" });
    expect(await members[0].sendTo({ id: members[1].id }, b64("get k"))).toMatchObject({ status: "ok", data: null, error: "no such key" });
    for (const m of members) m.close();
  });

  it("an unknown id is an error; a disconnected destination is unreachable at once; a silent one times out on the alarm", async () => {
    const { group, members } = await startGroup(3);
    const [a, b, c] = members;
    expect(await a.sendTo({ id: "ab".repeat(32) }, b64("x"))).toMatchObject({ status: "unknown", data: null });
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.sendTo({ id: c.id }, b64("x"))).toMatchObject({ status: "unreachable", data: null });
    b.msgHandler = () => null; // never answers
    a.send({ type: "send", rid: "slow", to: b.id, data: b64("x") });
    await waitFor(() => b.of("msg").length === 1);
    await tickUntil(group, members, () => a.frames.some((f) => f.type === "reply" && f.rid === "slow"), 10, "the timeout");
    expect(a.frames.find((f) => f.rid === "slow")).toMatchObject({ status: "timeout", data: null });
    for (const m of members) m.close();
  });

  it("keeps at most max_concurrent_messages (5) in flight per sender and queues the rest, dropping none", async () => {
    const { members, stub } = await startGroup(2);
    const [a, b] = members;
    // b holds every message it gets and answers when the test says; what Ifrit promises is the limit and that each
    // request gets its own reply, not an order of replies (destinations answer concurrently).
    const outstanding = new Map<string, string>();
    let received = 0;
    let maxOutstanding = 0;
    b.msgHandler = () => null;
    b.ws!.addEventListener("message", (ev) => {
      const f = JSON.parse(ev.data as string);
      if (f.type !== "msg") return;
      received++;
      outstanding.set(f.mid, f.data);
      maxOutstanding = Math.max(maxOutstanding, outstanding.size);
    });
    for (let i = 0; i < 8; i++) a.send({ type: "send", rid: `q${i}`, to: b.id, data: b64(String(i)) });
    await waitFor(() => outstanding.size === 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(outstanding.size).toBe(5);
    expect((await stub.messageQueue()).map((m) => m.state)).toEqual(["inflight", "inflight", "inflight", "inflight", "inflight", "queued", "queued", "queued"]);
    // Answer the newest outstanding message first (out of order on purpose); each reply lets one queued message out.
    for (let replied = 0; replied < 8; replied++) {
      await waitFor(() => outstanding.size > 0, 3000, "a message to answer");
      const [mid, data] = [...outstanding].at(-1)!;
      outstanding.delete(mid);
      b.send({ type: "msg-reply", mid, data: b64(`re ${unb64(data)}`) });
    }
    await waitFor(() => a.of("reply").length === 8, 3000, "8 replies");
    const replies = a.of("reply");
    expect(new Set(replies.map((r) => r.rid))).toEqual(new Set(["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7"]));
    for (const r of replies) expect({ rid: r.rid, status: r.status, data: unb64(r.data) }).toEqual({ rid: r.rid, status: "ok", data: `re ${r.rid.slice(1)}` });
    expect(received).toBe(8);
    expect(maxOutstanding).toBe(5);
    expect(await stub.messageQueue()).toEqual([]);
    for (const m of members) m.close();
  });
});

describe("POST /mesh/:group/members/:id/messages", () => {
  it("relays a signed member request to the destination and answers with its reply", async () => {
    const { group, members } = await startGroup(2);
    const [a, b] = members;
    b.msgHandler = (d) => ({ data: b64(`echo ${unb64(d)}`) });
    const path = `/mesh/${group}/members/${b.id}/messages`;
    const body = JSON.stringify({ data: b64("ping") });
    const r = await call("POST", path, { raw: body, headers: { "content-type": "application/json", ...(await a.signedHeaders("POST", path, body)) } });
    expect(r.status).toBe(200);
    expect(unb64(r.body.data)).toBe("echo ping");
    expect(r.body.error).toBeNull();
    for (const m of members) m.close();
  });

  it("answers 504 when the destination does not reply before the timeout alarm, 404 for an unknown id, 401 for a body changed after signing", async () => {
    const { group, members } = await startGroup(2);
    const [a, b] = members;
    b.msgHandler = () => null;
    const path = `/mesh/${group}/members/${b.id}/messages`;
    const body = JSON.stringify({ data: b64("ping") });
    const headers = { "content-type": "application/json", ...(await a.signedHeaders("POST", path, body)) };
    const pending = call("POST", path, { raw: body, headers });
    await waitFor(() => b.of("msg").length === 1);
    let settled = false;
    void pending.then(() => (settled = true));
    await tickUntil(group, members, () => settled, 10, "the timeout");
    const r = await pending;
    expect(r.status).toBe(504);
    expect(r.body.code).toBe("gateway_timeout");
    const unknown = `/mesh/${group}/members/${"cd".repeat(32)}/messages`;
    expect(
      (await call("POST", unknown, { raw: body, headers: { "content-type": "application/json", ...(await a.signedHeaders("POST", unknown, body)) } })).status,
    ).toBe(404);
    const tampered = JSON.stringify({ data: b64("pong") });
    expect((await call("POST", path, { raw: tampered, headers })).status).toBe(401);
    for (const m of members) m.close();
  });

  it("refuses an unsigned call with 401 and a malformed body with 400, changing nothing", async () => {
    const { group, members, stub } = await startGroup(2);
    const path = `/mesh/${group}/members/${members[1].id}/messages`;
    expect((await call("POST", path, { json: { data: b64("x") } })).status).toBe(401);
    const bad = JSON.stringify({ data: "not base64!" });
    const r = await call("POST", path, { raw: bad, headers: { "content-type": "application/json", ...(await members[0].signedHeaders("POST", path, bad)) } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("validation_failed");
    expect(await stub.messageQueue()).toEqual([]);
    expect(members[1].of("msg")).toEqual([]);
    for (const m of members) m.close();
  });
});

describe("streams", () => {
  it("opens a bidirectional stream as a sub-channel of both sockets; either end's close reaches the other", async () => {
    const { members } = await startGroup(2);
    const [a, b] = members;
    a.send({ type: "stream-open", sid: "s1", to: b.id });
    await waitFor(() => b.of("stream-open").length === 1);
    const sid = b.of("stream-open")[0].sid;
    expect(b.of("stream-open")[0].from).toBe(a.id);
    a.send({ type: "stream-data", sid: "s1", data: b64("one") });
    a.send({ type: "stream-data", sid: "s1", data: b64("two") });
    await waitFor(() => b.of("stream-data").length === 2);
    expect(b.of("stream-data").map((f) => unb64(f.data))).toEqual(["one", "two"]);
    b.send({ type: "stream-data", sid, data: b64("ack") });
    await waitFor(() => a.of("stream-data").length === 1);
    expect(a.of("stream-data")[0]).toMatchObject({ sid: "s1" });
    b.send({ type: "stream-close", sid });
    await waitFor(() => a.of("stream-close").length === 1);
    a.send({ type: "stream-data", sid: "s1", data: b64("late") });
    await waitFor(() => a.of("error").some((e) => e.code === "unknown_stream"));
    for (const m of members) m.close();
  });
});
