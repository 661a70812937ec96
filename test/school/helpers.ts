import type { JWK } from "jose";
import { call } from "../helpers";
import devMaster from "./fixtures/dev-master-private.jwk.json";
import rogueMaster from "./fixtures/rogue-master-private.jwk.json";
import rogueServer from "./fixtures/rogue-server-private.jwk.json";

export const DEV_MASTER = devMaster as JWK;
export const ROGUE_MASTER = rogueMaster as JWK;
export const ROGUE_SERVER = rogueServer as JWK;

/** An SSH public key blob shaped as a real one (length-prefixed type name, then key material), base64. */
export function sshKey(type = "ssh-dss"): string {
  const name = new TextEncoder().encode(type);
  const body = crypto.getRandomValues(new Uint8Array(420));
  const bytes = new Uint8Array(4 + name.length + body.length);
  new DataView(bytes.buffer).setUint32(0, name.length);
  bytes.set(name, 4);
  bytes.set(body, 4 + name.length);
  return btoa(String.fromCharCode(...bytes));
}

let n = 0;
/** A fresh XO serial (3 letters + 8 hex digits) and a fresh UUID, unique per call. */
export function xo(): { serial: string; uuid: string } {
  n++;
  const hex = (Date.now() % 0xffffff).toString(16).toUpperCase().padStart(6, "0");
  return { serial: `SHC${hex}${n.toString(16).toUpperCase().padStart(2, "0")}`.slice(0, 11), uuid: crypto.randomUUID() };
}

/** What Python's xmlrpc.client sends for `ServerProxy(url).register(sn, nick, uuid, pubkey)` (byte for byte). */
export function pythonRegisterCall(sn: string, nick: string, uuid: string, pubkey: string): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const p = (v: string) => `<param>\n<value><string>${esc(v)}</string></value>\n</param>\n`;
  return `<?xml version='1.0'?>\n<methodCall>\n<methodName>register</methodName>\n<params>\n${p(sn)}${p(nick)}${p(uuid)}${p(pubkey)}</params>\n</methodCall>\n`;
}

export async function xmlPost(path: string, body: string, contentType = "text/xml") {
  return call<string>("POST", path, { raw: body, headers: { "content-type": contentType } });
}

export async function activation(serial: string) {
  return call<string>("POST", "/activation", { raw: `${serial}\n`, headers: { "content-type": "text/plain" } });
}
