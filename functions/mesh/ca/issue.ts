import { sha256Hex, toBase64, toHex } from "./bytes";
import type { ParsedCsr } from "./csr";
import type { CaKey } from "./key";
import { RING_OID, ringBytes } from "./ring";
import { x509 } from "./x509";

const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
/** A group's CA certificate outlives any member certificate by far; a new CA key re-issues it (store.ts). */
const CA_CERT_YEARS = 10;
/** Members' clocks may run a little behind ours. */
const BACKDATE_MS = 5 * 60_000;

/** A positive serial of 16 octets (126 random bits): top bit clear so DER needs no padding byte, second bit set so it is never short. */
export function newSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] & 0x3f) | 0x40;
  return toHex(b);
}

/** The member id: 32 random bytes, carried as the certificate's SubjectKeyId (Ifrit rejects ids of any other length). */
export function newMemberId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

const keyIds = new WeakMap<CaKey, Promise<string>>();

/** The CA certificate's key identifier: the first 20 bytes of SHA-256 over its public key. */
function caKeyId(caKey: CaKey): Promise<string> {
  let id = keyIds.get(caKey);
  if (!id) {
    id = sha256Hex(caKey.spkiDer).then((h) => h.slice(0, 40));
    keyIds.set(caKey, id);
  }
  return id;
}

// The extensions every member certificate of a group shares, encoded once per CA key and ring count.
const sharedExtensions = new Map<string, InstanceType<typeof x509.Extension>[]>();

function memberExtensions(keyId: string, numRings: number): InstanceType<typeof x509.Extension>[] {
  const key = `${keyId}:${numRings}`;
  let exts = sharedExtensions.get(key);
  if (!exts) {
    exts = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.AuthorityKeyIdentifierExtension(keyId),
      new x509.Extension(RING_OID, false, ringBytes(numRings)),
    ];
    if (sharedExtensions.size >= 256) sharedExtensions.clear();
    sharedExtensions.set(key, exts);
  }
  return exts;
}

export function caSubject(group: string): InstanceType<typeof x509.Name> {
  return new x509.Name([{ CN: [`mesh group ${group}`] }, { O: ["edge-orchestra mesh CA"] }]);
}

/** A group's self-signed CA certificate: P-256, basicConstraints CA, keyCertSign, and the group's ring count as in Ifrit. */
export async function createGroupCaCert(caKey: CaKey, group: string, numRings: number, now: Date): Promise<Uint8Array> {
  const keyId = await caKeyId(caKey);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_CERT_YEARS);
  const name = caSubject(group);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: name,
    issuer: name,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectKeyIdentifierExtension(keyId),
      new x509.Extension(RING_OID, false, ringBytes(numRings)),
    ],
  });
  return new Uint8Array(cert.rawData);
}

export type MemberCertInput = {
  caKey: CaKey;
  caCertDer: Uint8Array;
  csr: ParsedCsr;
  id: Uint8Array;
  serial: string;
  numRings: number;
  now: Date;
  ttlS: number;
};

/**
 * A member certificate as Ifrit's nodes expect it: the request's own key and subject bytes, its DNS names, the rpc
 * host's IP, SubjectKeyId = the member id, key usage for signatures, serverAuth + clientAuth (members dial each other
 * with mutual TLS rooted at the group CA), and the ring count. Unlike Ifrit it lives hours, not twenty years.
 */
export async function issueMemberCert(input: MemberCertInput): Promise<{ der: Uint8Array; notBefore: Date; notAfter: Date }> {
  const ca = parsedCa(input.caCertDer);
  const shared = memberExtensions(await caKeyId(input.caKey), input.numRings);
  const notBefore = new Date(input.now.getTime() - BACKDATE_MS);
  // X.509 times have second precision; keep the stored value equal to the encoded one.
  const notAfter = new Date(Math.floor(input.now.getTime() / 1000) * 1000 + input.ttlS * 1000);
  const names: { type: "dns" | "ip"; value: string }[] = [
    ...input.csr.dnsNames.map((value) => ({ type: "dns" as const, value })),
    { type: "ip", value: input.csr.addresses.rpcIp },
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: input.serial,
    // The issuer is the CA certificate's subject, re-encoded from its parsed form: the CA certificate was made by
    // this same encoder, so the bytes match (tested), which is how Go and OpenSSL link a certificate to its issuer.
    issuer: ca.subjectName,
    subject: new x509.Name(input.csr.subjectDer),
    notBefore,
    notAfter,
    publicKey: input.csr.spkiDer,
    signingKey: input.caKey.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      ...shared.slice(0, 3),
      new x509.SubjectKeyIdentifierExtension(toHex(input.id)),
      shared[3],
      new x509.SubjectAlternativeNameExtension(names),
      shared[4],
    ],
  });
  return { der: new Uint8Array(cert.rawData), notBefore, notAfter };
}

/** The public key a CA certificate certifies, to notice that MESH_CA_KEY changed since the group's CA cert was made. */
export function caCertSpki(caCertDer: Uint8Array): Uint8Array {
  return new Uint8Array(parsedCa(caCertDer).publicKey.rawData);
}

// Every enrolment of a group signs under the same CA certificate: parse it once per isolate, not per request.
const CA_CACHE_MAX = 64;
const caCache = new Map<string, InstanceType<typeof x509.X509Certificate>>();

function parsedCa(der: Uint8Array): InstanceType<typeof x509.X509Certificate> {
  const key = toBase64(der);
  let ca = caCache.get(key);
  if (!ca) {
    ca = new x509.X509Certificate(der);
    if (caCache.size >= CA_CACHE_MAX) caCache.delete(caCache.keys().next().value as string);
    caCache.set(key, ca);
  }
  return ca;
}
