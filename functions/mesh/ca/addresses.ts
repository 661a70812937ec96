import { CsrError } from "./errors";

/** One of a member's Locality addresses, "host:port" as Go's net.JoinHostPort writes it (IPv6 hosts in brackets). */
export type HostPort = { host: string; port: number; ip: boolean };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

/** A loose IPv6 check (hex groups and colons, at most one "::"); the X.509 library parses the address itself. */
export function isIpv6(s: string): boolean {
  if (!IPV6.test(s) || !s.includes(":")) return false;
  if ((s.match(/::/g) ?? []).length > 1) return false;
  const groups = s.split(":");
  return groups.length >= 3 && groups.length <= 8 && groups.every((g) => g === "" || /^[0-9a-fA-F]{1,4}$/.test(g) || isIpv4(g));
}

export function parseHostPort(raw: string, label: string): HostPort {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(raw);
  if (v6) {
    [, host, portText] = v6;
    if (!isIpv6(host)) throw new CsrError("bad_address", `${label} address "${raw}": not an IPv6 address in brackets`);
  } else {
    const i = raw.lastIndexOf(":");
    if (i <= 0) throw new CsrError("bad_address", `${label} address "${raw}" must be host:port`);
    host = raw.slice(0, i);
    portText = raw.slice(i + 1);
    // Digits and dots only is meant as an IPv4 address, never a host name ("300.1.1.1" is a typo, not a name).
    const looksNumeric = /^[\d.]+$/.test(host);
    if (looksNumeric ? !isIpv4(host) : !HOSTNAME.test(host)) throw new CsrError("bad_address", `${label} address "${raw}": bad host`);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw new CsrError("bad_address", `${label} address "${raw}": port must be 1..65535`);
  return { host, port, ip: isIpv4(host) || isIpv6(host) };
}

export type MemberAddresses = { rpcAddr: string; pingAddr: string; httpAddr: string | null; rpcIp: string };

/**
 * Ifrit's identity: Locality = [rpc, ping, http?]. The rpc host must be an IP literal, because the certificate
 * carries it in IPAddresses and peers dial it with TLS checked against that IP (Ifrit's client refuses anything else).
 */
export function memberAddresses(localities: string[]): MemberAddresses {
  if (localities.length < 2) {
    throw new CsrError("missing_localities", `the subject must carry at least two Locality values (rpc and ping address), found ${localities.length}`);
  }
  if (localities.length > 3) throw new CsrError("too_many_localities", `the subject carries ${localities.length} Locality values; at most 3 (rpc, ping, http)`);
  const rpc = parseHostPort(localities[0], "rpc");
  if (!rpc.ip) throw new CsrError("bad_address", `rpc address "${localities[0]}": the host must be an IP address`);
  parseHostPort(localities[1], "ping");
  if (localities[2] !== undefined) parseHostPort(localities[2], "http");
  return { rpcAddr: localities[0], pingAddr: localities[1], httpAddr: localities[2] ?? null, rpcIp: rpc.host };
}

const DNS_NAME = /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function checkDnsNames(names: string[]): string[] {
  if (names.length > 16) throw new CsrError("bad_dns_name", `at most 16 DNS names, found ${names.length}`);
  for (const n of names) {
    if (n.length > 253 || !DNS_NAME.test(n)) throw new CsrError("bad_dns_name", `DNS name "${n.slice(0, 64)}" is not a host name`);
  }
  return names;
}
