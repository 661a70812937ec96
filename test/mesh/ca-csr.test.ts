import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../functions/mesh/ca/bytes";
import { parseCsr, rawSubject } from "../../functions/mesh/ca/csr";
import { CsrError } from "../../functions/mesh/ca/errors";
import { memberAddresses, parseHostPort } from "../../functions/mesh/ca/addresses";
import { x509 } from "../../functions/mesh/ca/x509";
import * as csrs from "./fixtures/csrs";

const der = (b64: string) => fromBase64(b64);

async function rejection(body: Uint8Array): Promise<string> {
  try {
    await parseCsr(body);
  } catch (e) {
    if (e instanceof CsrError) return e.reason;
    throw e;
  }
  throw new Error("the request was accepted");
}

describe("parseCsr", () => {
  it("reads Go's single multi-valued Locality RDN in order, with its DNS names, from a P-521 request", async () => {
    const csr = await parseCsr(der(csrs.goP521));
    expect(csr.namedCurve).toBe("P-521");
    expect(csr.localities).toEqual(["10.0.0.7:7000", "10.0.0.7:7001", "10.0.0.7:7002"]);
    expect(csr.addresses).toEqual({ rpcAddr: "10.0.0.7:7000", pingAddr: "10.0.0.7:7001", httpAddr: "10.0.0.7:7002", rpcIp: "10.0.0.7" });
    expect(csr.dnsNames).toHaveLength(1);
  });

  it("reads a P-256 request from Go with two addresses and no http address", async () => {
    const csr = await parseCsr(der(csrs.goP256));
    expect(csr.namedCurve).toBe("P-256");
    expect(csr.addresses.httpAddr).toBeNull();
    expect(csr.addresses.rpcAddr).toBe("192.0.2.10:8300");
  });

  it("takes Go's addresses in the order the DER carries them, as Ifrit's Go peers read them back", async () => {
    // Go sorted the SET: "10.0.0.7:9000" encodes shorter than "10.0.0.7:10000", so it comes first.
    const csr = await parseCsr(der(csrs.goSorted));
    expect(csr.localities).toEqual(["10.0.0.7:9000", "10.0.0.7:10000"]);
  });

  it("collects OpenSSL's one-RDN-per-value Localities in order, from DER and from PEM", async () => {
    for (const body of [der(csrs.opensslP256), new TextEncoder().encode(csrs.opensslP256Pem)]) {
      const csr = await parseCsr(body);
      expect(csr.localities).toEqual(["127.0.0.1:7100", "127.0.0.1:7101", "127.0.0.1:7102"]);
      expect(csr.dnsNames).toEqual(["member.example.org"]);
    }
    expect((await parseCsr(der(csrs.opensslP521))).namedCurve).toBe("P-521");
  });

  it("keeps the subject's own bytes, so the certificate copies them exactly", async () => {
    const body = der(csrs.opensslP256);
    const csr = await parseCsr(body);
    expect(csr.subjectDer).toEqual(rawSubject(body));
    expect(csr.subjectDer[0]).toBe(0x30);
  });

  it("verifies requests signed with SHA-384 and SHA-512 as well", async () => {
    for (const [curve, hash] of [
      ["P-384", "SHA-384"],
      ["P-521", "SHA-512"],
    ] as const) {
      const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
      const req = await x509.Pkcs10CertificateRequestGenerator.create({
        name: [{ L: ["10.0.0.1:1", "10.0.0.1:2"] }],
        keys,
        signingAlgorithm: { name: "ECDSA", hash },
      });
      expect((await parseCsr(new Uint8Array(req.rawData))).namedCurve).toBe(curve);
    }
  });

  it("refuses a body that is not DER, not PEM, or not a request", async () => {
    expect(await rejection(new Uint8Array())).toBe("not_der");
    expect(await rejection(new TextEncoder().encode("hello"))).toBe("not_der");
    expect(await rejection(new TextEncoder().encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"))).toBe("not_der");
    expect(await rejection(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toBe("not_a_csr");
  });

  it("refuses a request whose signature does not verify", async () => {
    const body = der(csrs.goP256);
    body[body.length - 3] ^= 0x55;
    expect(await rejection(body)).toBe("bad_signature");
  });

  it("refuses a request whose subject was altered after signing", async () => {
    const body = der(csrs.opensslP256);
    const i = new TextDecoder("latin1").decode(body).indexOf("7101");
    body[i + 3] = "9".charCodeAt(0);
    expect(await rejection(body)).toBe("bad_signature");
  });

  it("refuses an RSA key", async () => {
    expect(await rejection(der(csrs.opensslRsa))).toBe("unsupported_key");
  });

  it("refuses fewer than two Localities, a host name as rpc host, and a port out of range", async () => {
    expect(await rejection(der(csrs.opensslOneLocality))).toBe("missing_localities");
    expect(await rejection(der(csrs.opensslRpcHostname))).toBe("bad_address");
    expect(await rejection(der(csrs.opensslBadPort))).toBe("bad_address");
  });
});

describe("addresses", () => {
  it("accepts IPv4, bracketed IPv6 and host names with a port", () => {
    expect(parseHostPort("10.1.2.3:80", "rpc")).toEqual({ host: "10.1.2.3", port: 80, ip: true });
    expect(parseHostPort("[2001:db8::1]:443", "rpc")).toEqual({ host: "2001:db8::1", port: 443, ip: true });
    expect(parseHostPort("node-1.example.org:8300", "ping")).toEqual({ host: "node-1.example.org", port: 8300, ip: false });
  });

  it("refuses a missing port, port 0, a bad IPv4 and junk", () => {
    for (const bad of ["10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "300.1.1.1:80", "a b:80", ":80", "[zz::1]:80", "10.0.0.1:8a"]) {
      expect(() => parseHostPort(bad, "rpc"), bad).toThrow(CsrError);
    }
  });

  it("allows at most three Localities", () => {
    expect(() => memberAddresses(["1.1.1.1:1", "1.1.1.1:2", "1.1.1.1:3", "1.1.1.1:4"])).toThrow(/at most 3/);
  });
});
