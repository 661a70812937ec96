import type { ProbeRow } from "../../schema/probes";
import type { RegisterBody, UpdateBody } from "../../schema/probes-api";

/** The metadata columns a probe reports about itself (everything but identity, times and secrets). */
export type ProbeMetadata = Pick<
  ProbeRow,
  | "probeCc"
  | "probeAsn"
  | "platform"
  | "softwareName"
  | "softwareVersion"
  | "supportedTests"
  | "networkType"
  | "availableBandwidth"
  | "language"
  | "probeFamily"
  | "probeId"
  | "pushToken"
>;

/** Map a register/update body (OONI field names and their aliases) to column values; absent fields stay absent. */
export function metadataFromBody(b: UpdateBody): Partial<ProbeMetadata> {
  const m: Partial<ProbeMetadata> = {};
  if (b.probe_cc !== undefined) m.probeCc = b.probe_cc;
  if (b.probe_asn !== undefined) m.probeAsn = b.probe_asn;
  if (b.platform !== undefined) m.platform = b.platform;
  if (b.software_name !== undefined) m.softwareName = b.software_name;
  if (b.software_version !== undefined) m.softwareVersion = b.software_version;
  if (b.supported_tests !== undefined) m.supportedTests = JSON.stringify([...new Set(b.supported_tests)]);
  if (b.network_type !== undefined) m.networkType = b.network_type || null;
  if (b.available_bandwidth !== undefined) m.availableBandwidth = String(b.available_bandwidth) || null;
  const lang = b.language ?? b.software_language;
  if (lang !== undefined) m.language = lang || null;
  if (b.probe_family !== undefined) m.probeFamily = b.probe_family || null;
  if (b.probe_id !== undefined) m.probeId = b.probe_id || null;
  // probe-cli says device_token, Orchestra said token; an empty token means "no push token" (Orchestra 0.2.5).
  const push = b.device_token ?? b.token;
  if (push !== undefined) m.pushToken = push || null;
  return m;
}

export function registrationMetadata(b: RegisterBody): ProbeMetadata {
  const m = metadataFromBody(b);
  return {
    probeCc: b.probe_cc,
    probeAsn: b.probe_asn,
    platform: b.platform,
    softwareName: b.software_name,
    softwareVersion: b.software_version,
    supportedTests: m.supportedTests ?? "[]",
    networkType: m.networkType ?? null,
    availableBandwidth: m.availableBandwidth ?? null,
    language: m.language ?? null,
    probeFamily: m.probeFamily ?? null,
    probeId: m.probeId ?? null,
    pushToken: m.pushToken ?? null,
  };
}

/** What the history keeps of a probe's metadata: everything except the push token itself (only its presence). */
export function historySnapshot(m: ProbeMetadata): Record<string, unknown> {
  return {
    probe_cc: m.probeCc,
    probe_asn: m.probeAsn,
    platform: m.platform,
    software_name: m.softwareName,
    software_version: m.softwareVersion,
    supported_tests: JSON.parse(m.supportedTests) as string[],
    network_type: m.networkType,
    available_bandwidth: m.availableBandwidth,
    language: m.language,
    probe_family: m.probeFamily,
    probe_id: m.probeId,
    has_push_token: m.pushToken !== null,
  };
}

/** A row as operators see it (never the push token or the password hash). */
export function clientView(r: ProbeRow) {
  return {
    client_id: r.id,
    probe_cc: r.probeCc,
    probe_asn: r.probeAsn,
    platform: r.platform,
    software_name: r.softwareName,
    software_version: r.softwareVersion,
    supported_tests: JSON.parse(r.supportedTests) as string[],
    network_type: r.networkType,
    available_bandwidth: r.availableBandwidth,
    language: r.language,
    probe_family: r.probeFamily,
    probe_id: r.probeId,
    token_state: r.pushTokenState,
    has_password: r.passwordHash !== null,
    creation_time: r.createdAt,
    last_updated: r.updatedAt,
    last_seen: r.lastSeenAt,
  };
}
