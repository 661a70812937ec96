import { XMLParser, XMLValidator } from "fast-xml-parser";

/**
 * XML-RPC (http://xmlrpc.com/spec.md) as Sugar's `xmlrpc.client` speaks it: a `methodCall` in, a `methodResponse`
 * with one param or a fault out. Pure: no bindings. Hostile input is refused before the parser sees it (size,
 * DOCTYPE/ENTITY declarations, element count, nesting depth), and the parser runs with entity processing off;
 * the five predefined entities and numeric character references are decoded here, nothing else.
 */

export type XmlRpcValue =
  | string
  | number
  | boolean
  | null
  | { kind: "int"; value: number }
  | { kind: "double"; value: number }
  | { kind: "dateTime"; value: string }
  | Uint8Array
  | XmlRpcValue[]
  | { [member: string]: XmlRpcValue };

export type MethodCall = { method: string; params: XmlRpcValue[] };

/** Fault codes from the de-facto interoperability list (xmlrpc-epi "specification for fault code interoperability"). */
export const FAULT = {
  parseError: -32700,
  unsupportedEncoding: -32701,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
} as const;

export class XmlRpcFault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(faultString);
    this.name = "XmlRpcFault";
  }
}

export type XmlLimits = { maxBytes: number; maxDepth: number; maxElements: number };

/** Sugar's register call is ~1 KiB with a DSA key; these leave room for any sane call and none for abuse. */
export const DEFAULT_XML_LIMITS: XmlLimits = { maxBytes: 32_768, maxDepth: 24, maxElements: 2_000 };

type Node = Record<string, unknown>;

const parser = (maxDepth: number) =>
  new XMLParser({
    preserveOrder: true,
    ignoreAttributes: true,
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    trimValues: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    cdataPropName: "#cdata",
    commentPropName: false,
    maxNestedTags: maxDepth,
  });

/**
 * A linear scan that counts elements and tracks depth without building anything, so an absurd document is refused
 * in O(n) before the parser allocates for it. Comments, CDATA and processing instructions are skipped.
 */
function precheck(xml: string, limits: XmlLimits): void {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRpcFault(FAULT.invalidRequest, "DOCTYPE and ENTITY declarations are not allowed");
  let depth = 0;
  let elements = 0;
  let i = xml.indexOf("<");
  while (i !== -1) {
    const next = xml.charCodeAt(i + 1);
    if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i + 4);
      if (end === -1) throw new XmlRpcFault(FAULT.parseError, "unterminated comment");
      i = xml.indexOf("<", end + 3);
      continue;
    }
    if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i + 9);
      if (end === -1) throw new XmlRpcFault(FAULT.parseError, "unterminated CDATA section");
      i = xml.indexOf("<", end + 3);
      continue;
    }
    const close = xml.indexOf(">", i + 1);
    if (close === -1) throw new XmlRpcFault(FAULT.parseError, "unterminated tag");
    if (next === 0x3f /* ? */) {
      // processing instruction or the XML declaration
    } else if (next === 0x2f /* / */) {
      depth--;
    } else {
      elements++;
      if (elements > limits.maxElements) throw new XmlRpcFault(FAULT.invalidRequest, `more than ${limits.maxElements} elements`);
      if (xml.charCodeAt(close - 1) !== 0x2f) {
        depth++;
        if (depth > limits.maxDepth) throw new XmlRpcFault(FAULT.invalidRequest, `nesting deeper than ${limits.maxDepth}`);
      }
    }
    i = xml.indexOf("<", close + 1);
  }
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the predefined entities and numeric character references; any other reference is a fault. */
export function decodeText(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&\s]{0,12});/g, (_, ref: string) => {
    if (ref in PREDEFINED) return PREDEFINED[ref];
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (m) {
      const cp = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
      const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
      if (ok) return String.fromCodePoint(cp);
    }
    throw new XmlRpcFault(FAULT.parseError, `unsupported entity reference &${ref};`);
  });
}

const tagOf = (n: Node): string => Object.keys(n).find((k) => k !== ":@") ?? "";
const childrenOf = (n: Node): Node[] => (n[tagOf(n)] as Node[]) ?? [];

/** Text content of a leaf element (text and CDATA pieces joined). */
function textOf(nodes: Node[]): string {
  let s = "";
  for (const n of nodes) {
    const t = tagOf(n);
    if (t === "#text") s += decodeText(String(n["#text"]));
    else if (t === "#cdata")
      s += childrenOf(n)
        .map((c) => String(c["#text"] ?? ""))
        .join("");
    else throw new XmlRpcFault(FAULT.invalidRequest, `unexpected <${t}> inside a scalar`);
  }
  return s;
}

/** Element children only: whitespace between elements (Python writes newlines there) is ignored, other text is an error. */
function elements(nodes: Node[], where: string): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    const t = tagOf(n);
    if (t === "#text") {
      if (String(n["#text"]).trim() !== "") throw new XmlRpcFault(FAULT.invalidRequest, `unexpected text in <${where}>`);
    } else if (t === "#cdata") {
      throw new XmlRpcFault(FAULT.invalidRequest, `unexpected CDATA in <${where}>`);
    } else out.push(n);
  }
  return out;
}

function one(nodes: Node[], where: string, name?: string): Node {
  const els = elements(nodes, where);
  if (els.length !== 1 || (name && tagOf(els[0]) !== name))
    throw new XmlRpcFault(FAULT.invalidRequest, `<${where}> must hold exactly one <${name ?? "value"}>`);
  return els[0];
}

const INT_RE = /^[+-]?\d{1,10}$/;
const DOUBLE_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;

function decodeValue(valueNode: Node): XmlRpcValue {
  const kids = childrenOf(valueNode);
  if (kids.every((k) => tagOf(k) === "#text" || tagOf(k) === "#cdata")) return textOf(kids); // untyped value: a string
  const els = elements(kids, "value");
  if (els.length !== 1) throw new XmlRpcFault(FAULT.invalidRequest, "<value> must hold one typed element");
  const typed = els[0];
  const type = tagOf(typed);
  const inner = childrenOf(typed);
  switch (type) {
    case "string":
      return textOf(inner);
    case "int":
    case "i4":
    case "i8": {
      const s = textOf(inner).trim();
      const n = Number(s);
      if (!INT_RE.test(s) || !Number.isSafeInteger(n) || (type !== "i8" && (n > 2 ** 31 - 1 || n < -(2 ** 31))))
        throw new XmlRpcFault(FAULT.invalidRequest, `bad <${type}> ${JSON.stringify(s.slice(0, 20))}`);
      return { kind: "int", value: n };
    }
    case "boolean": {
      const s = textOf(inner).trim();
      if (s !== "0" && s !== "1") throw new XmlRpcFault(FAULT.invalidRequest, "<boolean> must be 0 or 1");
      return s === "1";
    }
    case "double": {
      const s = textOf(inner).trim();
      if (!DOUBLE_RE.test(s)) throw new XmlRpcFault(FAULT.invalidRequest, "bad <double>");
      return { kind: "double", value: Number(s) };
    }
    case "dateTime.iso8601":
      return { kind: "dateTime", value: textOf(inner).trim() };
    case "base64": {
      const s = textOf(inner).replace(/\s+/g, "");
      try {
        return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
      } catch {
        throw new XmlRpcFault(FAULT.invalidRequest, "bad <base64>");
      }
    }
    case "nil":
      return null;
    case "array": {
      const data = one(inner, "array", "data");
      return elements(childrenOf(data), "data").map((v) => {
        if (tagOf(v) !== "value") throw new XmlRpcFault(FAULT.invalidRequest, "<data> holds only <value>s");
        return decodeValue(v);
      });
    }
    case "struct": {
      const out: Record<string, XmlRpcValue> = Object.create(null);
      for (const m of elements(inner, "struct")) {
        if (tagOf(m) !== "member") throw new XmlRpcFault(FAULT.invalidRequest, "<struct> holds only <member>s");
        const parts = elements(childrenOf(m), "member");
        const name = parts.find((p) => tagOf(p) === "name");
        const value = parts.find((p) => tagOf(p) === "value");
        if (parts.length !== 2 || !name || !value) throw new XmlRpcFault(FAULT.invalidRequest, "<member> needs one <name> and one <value>");
        out[textOf(childrenOf(name))] = decodeValue(value);
      }
      return out;
    }
    default:
      throw new XmlRpcFault(FAULT.invalidRequest, `unknown value type <${type.slice(0, 40)}>`);
  }
}

/** Parses a methodCall. Throws XmlRpcFault for anything that is not a well-formed, bounded XML-RPC call. */
export function parseMethodCall(body: string, limits: XmlLimits = DEFAULT_XML_LIMITS): MethodCall {
  if (new TextEncoder().encode(body).length > limits.maxBytes) throw new XmlRpcFault(FAULT.invalidRequest, `request body exceeds ${limits.maxBytes} bytes`);
  const xml = body.replace(/^\uFEFF/, "").trim();
  if (xml === "") throw new XmlRpcFault(FAULT.parseError, "empty request body");
  if (!xml.startsWith("<")) throw new XmlRpcFault(FAULT.parseError, "request body is not XML");
  const decl = /^<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(xml);
  if (decl && !/^(utf-8|us-ascii|ascii)$/i.test(decl[1])) throw new XmlRpcFault(FAULT.unsupportedEncoding, `unsupported encoding ${decl[1].slice(0, 20)}`);
  precheck(xml, limits);
  const valid = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (valid !== true) throw new XmlRpcFault(FAULT.parseError, `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: Node[];
  try {
    doc = parser(limits.maxDepth).parse(xml) as Node[];
  } catch (e) {
    throw new XmlRpcFault(FAULT.parseError, `not well-formed XML: ${String((e as Error).message ?? e).slice(0, 100)}`);
  }
  const root = one(doc, "document", "methodCall");
  const parts = elements(childrenOf(root), "methodCall");
  const nameNode = parts.find((p) => tagOf(p) === "methodName");
  if (!nameNode) throw new XmlRpcFault(FAULT.invalidRequest, "<methodCall> has no <methodName>");
  const method = textOf(childrenOf(nameNode)).trim();
  if (!/^[A-Za-z0-9_.:/]{1,128}$/.test(method)) throw new XmlRpcFault(FAULT.invalidRequest, "bad <methodName>");
  const paramsNode = parts.find((p) => tagOf(p) === "params");
  if (parts.length > (paramsNode ? 2 : 1)) throw new XmlRpcFault(FAULT.invalidRequest, "unexpected element in <methodCall>");
  const params = paramsNode
    ? elements(childrenOf(paramsNode), "params").map((p) => {
        if (tagOf(p) !== "param") throw new XmlRpcFault(FAULT.invalidRequest, "<params> holds only <param>s");
        return decodeValue(one(childrenOf(p), "param", "value"));
      })
    : [];
  return { method, params };
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function encodeValue(v: XmlRpcValue): string {
  if (v === null) return "<value><nil/></value>";
  if (typeof v === "string") return `<value><string>${escapeXml(v)}</string></value>`;
  if (typeof v === "boolean") return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === "number") return Number.isInteger(v) ? `<value><int>${v}</int></value>` : `<value><double>${v}</double></value>`;
  if (v instanceof Uint8Array) return `<value><base64>${btoa(String.fromCharCode(...v))}</base64></value>`;
  if (Array.isArray(v)) return `<value><array><data>\n${v.map(encodeValue).join("\n")}\n</data></array></value>`;
  if ("kind" in v && typeof v.kind === "string" && "value" in v && Object.keys(v).length === 2) {
    if (v.kind === "int") return `<value><int>${v.value}</int></value>`;
    if (v.kind === "double") return `<value><double>${v.value}</double></value>`;
    if (v.kind === "dateTime") return `<value><dateTime.iso8601>${escapeXml(String(v.value))}</dateTime.iso8601></value>`;
  }
  const members = Object.entries(v as Record<string, XmlRpcValue>).map(([k, x]) => `<member>\n<name>${escapeXml(k)}</name>\n${encodeValue(x)}\n</member>`);
  return `<value><struct>\n${members.join("\n")}\n</struct></value>`;
}

const DECL = "<?xml version='1.0'?>\n";

export function methodResponse(value: XmlRpcValue): string {
  return `${DECL}<methodResponse>\n<params>\n<param>\n${encodeValue(value)}\n</param>\n</params>\n</methodResponse>\n`;
}

export function faultResponse(faultCode: number, faultString: string): string {
  return `${DECL}<methodResponse>\n<fault>\n${encodeValue({ faultCode: { kind: "int", value: faultCode }, faultString })}\n</fault>\n</methodResponse>\n`;
}

/** Encodes a methodCall (tests and tools use it to speak as a client). */
export function methodCall(method: string, params: XmlRpcValue[]): string {
  return `${DECL}<methodCall>\n<methodName>${escapeXml(method)}</methodName>\n<params>\n${params.map((p) => `<param>\n${encodeValue(p)}\n</param>`).join("\n")}\n</params>\n</methodCall>\n`;
}
