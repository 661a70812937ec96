import { env } from "cloudflare:workers";
import { fromBase64 } from "../../functions/mesh/ca/bytes";
import { x509 } from "../../functions/mesh/ca/x509";
import { adminToken, call } from "../helpers";

export type MemberKey = { keys: CryptoKeyPair; der: Uint8Array };

/** A request as Ifrit's Go client makes it: all Localities in one RDN, a DNS name and the rpc IP in the SAN. */
export async function makeCsr(
  localities: string[] = ["127.0.0.1:7000", "127.0.0.1:7001"],
  { curve = "P-256", keys }: { curve?: "P-256" | "P-384" | "P-521"; keys?: CryptoKeyPair } = {},
): Promise<MemberKey> {
  const pair = keys ?? ((await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ L: localities }],
    keys: pair,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "member.local" }])],
  });
  return { keys: pair, der: new Uint8Array(req.rawData) };
}

let groupCounter = 0;
export function groupName(prefix = "g"): string {
  groupCounter++;
  return `${prefix}-${groupCounter}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function createGroup(body: Record<string, unknown> = {}): Promise<{ name: string; token: string; group: any }> {
  const token = await adminToken();
  const name = (body.name as string) ?? groupName();
  const r = await call("POST", "/api/v1/admin/mesh/groups", { json: { name, ...body }, token });
  if (r.status !== 201) throw new Error(`create group failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { name, token, group: r.body };
}

export function postCsr(group: string, der: Uint8Array | string, headers: Record<string, string> = { "content-type": "text" }) {
  return call("POST", `/mesh/${group}/certificateRequest`, { raw: der as BodyInit, headers });
}

export function cert(b64: string) {
  return new x509.X509Certificate(fromBase64(b64));
}

export function memberIdOf(b64: string): string {
  return cert(b64).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
}

export async function eventsOfType(type: string) {
  const r = await env.DB.prepare("SELECT * FROM events WHERE type = ? ORDER BY id")
    .bind(type)
    .all<{ data: string; actor: string; subject_kind: string; subject_id: string }>();
  return r.results.map((e) => ({ ...e, subject: { kind: e.subject_kind, id: e.subject_id }, data: JSON.parse(e.data) }));
}
