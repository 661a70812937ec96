import { describe, expect, it } from "vitest";
import { fromBase64, toHex, toPem } from "../../functions/mesh/ca/bytes";
import { parseCsr } from "../../functions/mesh/ca/csr";
import { caCertSpki, createGroupCaCert, issueMemberCert, newMemberId, newSerial } from "../../functions/mesh/ca/issue";
import { CaKeyError, importCaKey } from "../../functions/mesh/ca/key";
import { RING_OID, ringBytes, ringCount } from "../../functions/mesh/ca/ring";
import { x509 } from "../../functions/mesh/ca/x509";
import * as csrs from "./fixtures/csrs";

const NOW = new Date("2026-03-01T12:00:00Z");

async function newCaKeySecret(): Promise<{ pem: string; jwk: string }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return { pem: toPem(pkcs8, "PRIVATE KEY"), jwk: JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)) };
}

/** The bytes of a certificate's issuer and subject Names (TBSCertificate fields 4 and 6). */
function rawNames(der: Uint8Array): { issuer: Uint8Array; subject: Uint8Array } {
  const tlv = (at: number) => {
    let len = der[at + 1];
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
      start += n;
    }
    return { start, end: start + len };
  };
  const tbs = tlv(tlv(0).start);
  let at = tbs.start;
  const fields: { at: number; end: number }[] = [];
  while (at < tbs.end && fields.length < 6) {
    const f = tlv(at);
    fields.push({ at, end: f.end });
    at = f.end;
  }
  // [0] version, serial, signature alg, issuer, validity, subject
  return { issuer: der.slice(fields[3].at, fields[3].end), subject: der.slice(fields[5].at, fields[5].end) };
}

describe("the ring extension", () => {
  it("is exactly 4 little-endian bytes", () => {
    expect([...ringBytes(10)]).toEqual([10, 0, 0, 0]);
    expect([...ringBytes(0x01020304)]).toEqual([4, 3, 2, 1]);
    expect(ringCount(ringBytes(77))).toBe(77);
    expect(ringCount(new Uint8Array([2, 1, 10]))).toBeNull();
  });
});

describe("the CA key", () => {
  it("imports from PKCS#8 PEM (also with escaped newlines) and from a private JWK, to the same public key", async () => {
    const { pem, jwk } = await newCaKeySecret();
    const a = await importCaKey(pem);
    const b = await importCaKey(pem.replace(/\n/g, "\\n"));
    const c = await importCaKey(jwk);
    expect(toHex(a.spkiDer)).toBe(toHex(b.spkiDer));
    expect(toHex(a.spkiDer)).toBe(toHex(c.spkiDer));
  });

  it("refuses junk, a public JWK, and a key on another curve", async () => {
    await expect(importCaKey("not a key")).rejects.toThrow(CaKeyError);
    const { jwk } = await newCaKeySecret();
    const { d: _d, ...pub } = JSON.parse(jwk);
    await expect(importCaKey(JSON.stringify(pub))).rejects.toThrow(CaKeyError);
    const p384 = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign"])) as CryptoKeyPair;
    const pem = toPem(new Uint8Array((await crypto.subtle.exportKey("pkcs8", p384.privateKey)) as ArrayBuffer), "PRIVATE KEY");
    await expect(importCaKey(pem)).rejects.toThrow(CaKeyError);
  });
});

describe("certificate issuance", () => {
  it("makes a self-signed P-256 group CA carrying the ring count", async () => {
    const caKey = await importCaKey((await newCaKeySecret()).pem);
    const der = await createGroupCaCert(caKey, "alpha", 7, NOW);
    const ca = new x509.X509Certificate(der);
    expect(await ca.verify({ publicKey: caKey.publicKey, date: NOW })).toBe(true);
    expect(ca.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(ca.getExtension(x509.KeyUsagesExtension)!.usages & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
    expect(ringCount(new Uint8Array(ca.getExtension(RING_OID)!.value))).toBe(7);
    expect(ca.subject).toContain("alpha");
    expect(toHex(caCertSpki(der))).toBe(toHex(caKey.spkiDer));
    const names = rawNames(der);
    expect(names.issuer).toEqual(names.subject);
  });

  it("certifies the request's key and subject bytes, with the member id as SubjectKeyId, and verifies against the CA", async () => {
    const caKey = await importCaKey((await newCaKeySecret()).jwk);
    const caDer = await createGroupCaCert(caKey, "alpha", 10, NOW);
    const csr = await parseCsr(fromBase64(csrs.goP521));
    const id = newMemberId();
    const serial = newSerial();
    const { der, notAfter } = await issueMemberCert({ caKey, caCertDer: caDer, csr, id, serial, numRings: 10, now: NOW, ttlS: 3600 });
    const cert = new x509.X509Certificate(der);

    expect(await cert.verify({ publicKey: caKey.publicKey, date: NOW })).toBe(true);
    expect(rawNames(der).issuer).toEqual(rawNames(caDer).subject);
    expect(rawNames(der).subject).toEqual(csr.subjectDer);
    expect(new Uint8Array(cert.publicKey.rawData)).toEqual(csr.spkiDer);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(toHex(id));
    expect(id).toHaveLength(32);
    expect(cert.serialNumber).toBe(serial);
    expect(serial).toHaveLength(32);
    expect(Number.parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
    expect(cert.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    expect(notAfter.toISOString()).toBe("2026-03-01T13:00:00.000Z");
    expect(cert.notAfter.toISOString()).toBe(notAfter.toISOString());
    expect(cert.notBefore.getTime()).toBeLessThan(NOW.getTime());

    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.filter((n) => n.type === "ip").map((n) => n.value)).toEqual(["10.0.0.7"]);
    expect(san.names.items.filter((n) => n.type === "dns").map((n) => n.value)).toEqual(csr.dnsNames);

    const ring = cert.getExtension(RING_OID)!;
    expect(ring.critical).toBe(false);
    expect([...new Uint8Array(ring.value)]).toEqual([10, 0, 0, 0]);
    expect(cert.subjectName.toJSON().flatMap((r) => r.L ?? [])).toEqual(["10.0.0.7:7000", "10.0.0.7:7001", "10.0.0.7:7002"]);
  });

  it("copies OpenSSL's subject (one RDN per Locality, a CN) byte for byte, and keeps the ring and id per certificate", async () => {
    const caKey = await importCaKey((await newCaKeySecret()).pem);
    const caDer = await createGroupCaCert(caKey, "beta", 3, NOW);
    for (const fixture of [csrs.opensslP256, csrs.opensslP521, csrs.goSorted]) {
      const csr = await parseCsr(fromBase64(fixture));
      const id = newMemberId();
      const { der } = await issueMemberCert({ caKey, caCertDer: caDer, csr, id, serial: newSerial(), numRings: 3, now: NOW, ttlS: 600 });
      expect(rawNames(der).subject).toEqual(csr.subjectDer);
      const cert = new x509.X509Certificate(der);
      expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(toHex(id));
      expect([...new Uint8Array(cert.getExtension(RING_OID)!.value)]).toEqual([3, 0, 0, 0]);
      expect(await cert.verify({ publicKey: caKey.publicKey, date: NOW })).toBe(true);
    }
  });

  it("draws distinct serials and ids", () => {
    const serials = new Set(Array.from({ length: 200 }, newSerial));
    const ids = new Set(Array.from({ length: 200 }, () => toHex(newMemberId())));
    expect(serials.size).toBe(200);
    expect(ids.size).toBe(200);
  });
});
