import { describe, expect, it } from "vitest";
import { call } from "../helpers";
import { snapshot } from "../harden/routes";

const OVER = 65_536 + 1; // MAX_BODY_BYTES's default, plus one
const pad = "x".repeat(OVER);

describe("a school body over MAX_BODY_BYTES is refused in the school's own form, changing nothing", () => {
  it("the JSON and text routes answer 413 in the school envelope {success: ERR}", async () => {
    const before = await snapshot();
    const register = await call("POST", "/client/register", { json: { uid: crypto.randomUUID(), nickname: pad } });
    expect(register.status).toBe(413);
    expect(register.body).toEqual({ success: "ERR", error: `request body exceeds ${OVER - 1} bytes`, code: "payload_too_large" });
    const activation = await call("POST", "/activation", { raw: `SHF00000001\n${pad}`, headers: { "content-type": "text/plain" } });
    expect(activation.status).toBe(413);
    expect(activation.body).toMatchObject({ success: "ERR", code: "payload_too_large" });
    expect(await snapshot()).toBe(before);
  });

  it.each(["/RPC2", "/"])("XML-RPC at POST %s answers HTTP 200 with a fault, as Sugar's client expects", async (path) => {
    const before = await snapshot();
    const xml = `<?xml version="1.0"?><methodCall><methodName>register</methodName><params><param><value><string>${pad}</string></value></param></params></methodCall>`;
    const r = await call("POST", path, { raw: xml, headers: { "content-type": "text/xml" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/xml/);
    expect(String(r.body)).toMatch(/<name>faultCode<\/name>\s*<value><int>-32600<\/int><\/value>/);
    expect(String(r.body)).toContain(`request body exceeds ${OVER - 1} bytes`);
    expect(await snapshot()).toBe(before);
  });

  it("a body within the limit still reaches the route", async () => {
    const r = await call("POST", "/activation", { raw: "SHF00000001\n", headers: { "content-type": "text/plain" } });
    expect([200, 400]).toContain(r.status);
  });
});
