import { describe, expect, it } from "vitest";
import { decodeText, FAULT, faultResponse, methodCall, methodResponse, parseMethodCall, XmlRpcFault } from "../../functions/school/xmlrpc";
import { pythonRegisterCall } from "./helpers";

function faultOf(body: string): XmlRpcFault {
  try {
    parseMethodCall(body);
  } catch (e) {
    if (e instanceof XmlRpcFault) return e;
    throw e;
  }
  throw new Error("parsed without a fault");
}

describe("parseMethodCall", () => {
  it("reads Python xmlrpc.client's register call, with entity-escaped UTF-8 text", () => {
    const call = parseMethodCall(pythonRegisterCall("SHC005007B7", "Niño <&> 'q'", "6e1f8d2a-1c7e-11ee-9f7b-0800200c9a66", "AAAAB3Nz"));
    expect(call).toEqual({ method: "register", params: ["SHC005007B7", "Niño <&> 'q'", "6e1f8d2a-1c7e-11ee-9f7b-0800200c9a66", "AAAAB3Nz"] });
  });

  it("reads untyped values as strings and decodes every scalar type, arrays and structs", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>x</methodName><params>
      <param><value>  plain  </value></param>
      <param><value><i4>-7</i4></value></param>
      <param><value><boolean>1</boolean></value></param>
      <param><value><double>2.5</double></value></param>
      <param><value><base64>aGk=</base64></value></param>
      <param><value><array><data><value><string>a</string></value><value><int>2</int></value></data></array></value></param>
      <param><value><struct><member><name>k</name><value><string>&#x41;&#66;</string></value></member></struct></value></param>
      <param><value><string><![CDATA[<raw>]]></string></value></param>
    </params></methodCall>`;
    const { params } = parseMethodCall(xml);
    expect(params[0]).toBe("  plain  ");
    expect(params[1]).toEqual({ kind: "int", value: -7 });
    expect(params[2]).toBe(true);
    expect(params[3]).toEqual({ kind: "double", value: 2.5 });
    expect(Array.from(params[4] as Uint8Array)).toEqual([104, 105]);
    expect(params[5]).toEqual(["a", { kind: "int", value: 2 }]);
    expect({ ...(params[6] as object) }).toEqual({ k: "AB" });
    expect(params[7]).toBe("<raw>");
  });

  it("round-trips its own encoder", () => {
    expect(parseMethodCall(methodCall("register", ["a&b", "<c>", "", "d"])).params).toEqual(["a&b", "<c>", "", "d"]);
  });
});

describe("hostile or broken XML is a fault, fast", () => {
  const cases: [string, string, number][] = [
    ["empty body", "", FAULT.parseError],
    ["whitespace only", "  \n ", FAULT.parseError],
    ["not XML", '{"uuid": "x"}', FAULT.parseError],
    ["truncated", pythonRegisterCall("SHC005007B7", "n", "u", "k").slice(0, 120), FAULT.parseError],
    [
      "billion laughs",
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><methodCall><methodName>&lol2;</methodName></methodCall>`,
      FAULT.invalidRequest,
    ],
    [
      "external entity",
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>register</methodName><params><param><value>&xxe;</value></param></params></methodCall>`,
      FAULT.invalidRequest,
    ],
    ["an undeclared entity", "<methodCall><methodName>a</methodName><params><param><value>&xxe;</value></param></params></methodCall>", FAULT.parseError],
    ["absurd nesting", `<methodCall><methodName>a</methodName><params><param>${"<value><array><data>".repeat(5000)}`, FAULT.invalidRequest],
    [
      "too many elements",
      `<methodCall><methodName>a</methodName><params>${"<param><value>x</value></param>".repeat(1500)}</params></methodCall>`,
      FAULT.invalidRequest,
    ],
    ["mismatched tags", "<methodCall><methodName>a</methodCall></methodName>", FAULT.parseError],
    ["another root", "<methodResponse><params/></methodResponse>", FAULT.invalidRequest],
    ["no method name", "<methodCall><params/></methodCall>", FAULT.invalidRequest],
    [
      "an unknown value type",
      "<methodCall><methodName>a</methodName><params><param><value><blob>1</blob></value></param></params></methodCall>",
      FAULT.invalidRequest,
    ],
    [
      "an int out of range",
      "<methodCall><methodName>a</methodName><params><param><value><int>99999999999</int></value></param></params></methodCall>",
      FAULT.invalidRequest,
    ],
    ["a foreign encoding", "<?xml version='1.0' encoding='ISO-8859-1'?><methodCall><methodName>a</methodName></methodCall>", FAULT.unsupportedEncoding],
  ];
  for (const [name, body, code] of cases) {
    it(`${name} → fault ${code}`, () => {
      const t0 = performance.now();
      expect(faultOf(body).faultCode).toBe(code);
      expect(performance.now() - t0).toBeLessThan(250);
    });
  }

  it("a body over the byte limit is refused before parsing", () => {
    expect(parseMethodCall.bind(null, `<methodCall>${" ".repeat(40_000)}</methodCall>`)).toThrow(/exceeds/);
  });

  it("decodeText refuses a character reference to a code point XML forbids", () => {
    expect(() => decodeText("&#0;")).toThrow(XmlRpcFault);
    expect(decodeText("&lt;&amp;&gt;&quot;&apos;&#233;")).toBe(`<&>"'é`);
  });
});

describe("responses", () => {
  it("writes a struct response the way Python reads it", () => {
    expect(methodResponse({ success: "OK", n: 1 })).toBe(
      "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n<member>\n<name>success</name>\n<value><string>OK</string></value>\n</member>\n<member>\n<name>n</name>\n<value><int>1</int></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodResponse>\n",
    );
  });

  it("writes a fault with an int faultCode and an escaped faultString", () => {
    const f = faultResponse(-32601, "no <such> method");
    expect(f).toContain("<name>faultCode</name>\n<value><int>-32601</int></value>");
    expect(f).toContain("<value><string>no &lt;such&gt; method</string></value>");
  });
});
