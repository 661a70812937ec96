import { bytesEqual, pemBlock } from "./bytes";
import { checkDnsNames, type MemberAddresses, memberAddresses } from "./addresses";
import { CsrError } from "./errors";
import { x509 } from "./x509";
import type { MeshNamedCurve } from "../member-record";

export const LOCALITY_OID = "2.5.4.7";

const CURVES: Record<string, MeshNamedCurve> = { "P-256": "P-256", "P-384": "P-384", "P-521": "P-521" };
const MAX_SUBJECT_BYTES = 2048;

/** What the CA takes from a PKCS#10 request, after checking its self-signature. */
export type ParsedCsr = {
  /** The subject exactly as the request encodes it; the certificate copies these bytes. */
  subjectDer: Uint8Array;
  /** The subject as text (RFC 4514 style), for people. */
  subject: string;
  localities: string[];
  addresses: MemberAddresses;
  dnsNames: string[];
  spkiDer: Uint8Array;
  namedCurve: MeshNamedCurve;
};

/**
 * The body of POST certificateRequest: raw DER (Ifrit sends it with `Content-Type: text`), or PEM. The content is
 * sniffed rather than trusted to the header, since Ifrit's header says "text" for binary DER.
 */
export function csrBytes(body: Uint8Array): Uint8Array {
  if (body.length === 0) throw new CsrError("not_der", "empty body: send a PKCS#10 certificate request (DER or PEM)");
  if (body[0] === 0x30) return body;
  const text = new TextDecoder().decode(body.subarray(0, 64 * 1024));
  if (text.includes("-----BEGIN")) {
    const der = pemBlock(text, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]);
    if (!der) throw new CsrError("not_der", "PEM body holds no CERTIFICATE REQUEST block");
    return der;
  }
  throw new CsrError("not_der", "body is neither a DER PKCS#10 request nor PEM");
}

/**
 * Locality values in the order the subject carries them. Go's crypto/x509 puts all of Subject.Locality in ONE
 * multi-valued RDN (a DER SET, which Go sorts by encoding); OpenSSL's `L=` lines give one RDN each. Walking RDNs in
 * order and values within each RDN in order reads both the way Ifrit's own Go peers read them from the certificate.
 */
export function subjectLocalities(subject: InstanceType<typeof x509.Name>): string[] {
  // toJSON keeps RDN order and, inside an RDN, value order: [{ L: [a, b] }] from Go, [{ L: [a] }, { L: [b] }] from OpenSSL.
  return subject.toJSON().flatMap((rdn) => rdn.L ?? []);
}

/** One DER TLV: where its value starts and ends. Only definite lengths (DER). */
function tlv(b: Uint8Array, at: number): { tag: number; start: number; end: number } {
  if (at + 2 > b.length) throw new CsrError("not_a_csr", "truncated DER");
  const tag = b[at];
  let len = b[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new CsrError("not_a_csr", "bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i];
    start += n;
  }
  if (start + len > b.length) throw new CsrError("not_a_csr", "truncated DER");
  return { tag, start, end: start + len };
}

/** The subject Name's own bytes: CertificationRequest → certificationRequestInfo → (version, subject, ...). */
export function rawSubject(csrDer: Uint8Array): Uint8Array {
  const outer = tlv(csrDer, 0);
  const info = tlv(csrDer, outer.start);
  const version = tlv(csrDer, info.start);
  const at = version.end;
  const subject = tlv(csrDer, at);
  if (outer.tag !== 0x30 || info.tag !== 0x30 || version.tag !== 0x02 || subject.tag !== 0x30) throw new CsrError("not_a_csr", "not a PKCS#10 structure");
  return csrDer.slice(at, subject.end);
}

export async function parseCsr(body: Uint8Array): Promise<ParsedCsr> {
  const der = csrBytes(body);
  let req: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    req = new x509.Pkcs10CertificateRequest(der);
  } catch {
    throw new CsrError("not_a_csr", "body is not a PKCS#10 certificate request");
  }
  const alg = req.publicKey.algorithm as { name?: string; namedCurve?: string };
  const namedCurve = alg.name === "ECDSA" ? CURVES[alg.namedCurve ?? ""] : undefined;
  if (!namedCurve) throw new CsrError("unsupported_key", "the request's key must be ECDSA on P-256, P-384 or P-521");
  let ok = false;
  try {
    ok = await req.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw new CsrError("bad_signature", "the request's signature does not verify with its own key");

  const subjectDer = rawSubject(der);
  if (subjectDer.length > MAX_SUBJECT_BYTES) throw new CsrError("subject_too_large", `the subject is larger than ${MAX_SUBJECT_BYTES} bytes`);
  const localities = subjectLocalities(req.subjectName);
  const addresses = memberAddresses(localities);

  const sanExt = req.getExtension("2.5.29.17");
  const san = sanExt ? new x509.SubjectAlternativeNameExtension(sanExt.rawData) : null;
  const dnsNames = checkDnsNames((san?.names.items ?? []).filter((n) => n.type === "dns").map((n) => n.value));
  return { subjectDer, subject: req.subject, localities, addresses, dnsNames, spkiDer: new Uint8Array(req.publicKey.rawData), namedCurve };
}

/** True when two requests (or a request and a stored member) carry the same public key. */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}
