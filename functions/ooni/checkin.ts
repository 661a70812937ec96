import type { FeatureMap } from "./features";
import { newReportId, asnNumber } from "./report-id";

/** The tests OONI's backend hands a report_id at check-in (ooni/backend probe_services.py), web_connectivity included. */
export const CHECKIN_TEST_NAMES = [
  "bridge_reachability",
  "dash",
  "dns_consistency",
  "dnscheck",
  "facebook_messenger",
  "http_header_field_manipulation",
  "http_host",
  "http_invalid_request_line",
  "http_requests",
  "meek_fronted_requests_test",
  "multi_protocol_traceroute",
  "ndt",
  "psiphon",
  "riseupvpn",
  "tcp_connect",
  "telegram",
  "tor",
  "urlgetter",
  "vanilla_tor",
  "web_connectivity",
  "whatsapp",
] as const;

/** Where the probe is: what it says, unless it says "don't know" (ZZ / AS0), then what the edge saw (OONI uses GeoIP). */
export function locate(
  sent: { probeCc: string; probeAsn: string },
  edge: { country?: string | null; asn?: number | null; asOrganization?: string | null },
): { probeCc: string; probeAsn: string; networkName: string | null } {
  const edgeCc = edge.country && /^[A-Z]{2}$/.test(edge.country) && edge.country !== "T1" ? edge.country : null;
  const edgeAsn = typeof edge.asn === "number" && edge.asn > 0 ? `AS${edge.asn}` : null;
  const probeCc = sent.probeCc === "ZZ" && edgeCc ? edgeCc : sent.probeCc;
  const probeAsn = sent.probeAsn === "AS0" && edgeAsn ? edgeAsn : sent.probeAsn;
  return { probeCc, probeAsn, networkName: edgeAsn !== null && edgeAsn === probeAsn ? (edge.asOrganization ?? null) : null };
}

/** The `tests` object of a check-in answer: a fresh report_id per test, web_connectivity's with its URLs. */
export function testsAnswer(probeCc: string, probeAsn: string, collectorId: string, at: Date, urls: unknown[], webConnectivityReportId: string) {
  const asn = asnNumber(probeAsn);
  const tests: Record<string, { report_id: string; urls?: unknown[] }> = {};
  for (const tn of CHECKIN_TEST_NAMES)
    tests[tn] = { report_id: tn === "web_connectivity" ? webConnectivityReportId : newReportId(tn, probeCc, asn, collectorId, at) };
  tests.web_connectivity.urls = urls;
  return tests;
}

export type CheckInAnswer = {
  v: 1;
  probe_cc: string;
  probe_asn: string;
  probe_network_name: string | null;
  utc_time: string;
  conf: { features: FeatureMap; test_helpers: Record<string, { address: string; type: string; front?: string }[]> };
  tests: Record<string, { report_id: string; urls?: unknown[] }>;
};
