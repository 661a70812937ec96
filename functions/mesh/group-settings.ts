import { cachedSettings, readBool, readInt } from "../lib/config";

/**
 * Ifrit's configuration keys, as the group object honours them (seed-systems.md §3.6; docs/mesh.md "Membership").
 * Every key is a MESH_* var with Ifrit's default. Intervals are in seconds, as Ifrit's are.
 *
 * Ifrit key               → setting                        default
 * gossip_interval         → MESH_GOSSIP_INTERVAL_S          10
 * monitor_interval        → MESH_MONITOR_INTERVAL_S         10
 * view_update_interval    → MESH_VIEW_UPDATE_INTERVAL_S     10
 * ping_limit              → MESH_PING_LIMIT                 3
 * pings_per_interval      → MESH_PINGS_PER_INTERVAL         3   (capped at the ring count; 0 means 1, as Ifrit does)
 * removal_timeout         → MESH_REMOVAL_TIMEOUT_S          60  (Ifrit's code reads dead_timeout by mistake; we honour this one)
 * max_concurrent_messages → MESH_MAX_CONCURRENT_MESSAGES    5   (the code's value; Ifrit's README says 50)
 * use_compression         → MESH_USE_COMPRESSION            on  (members are told; the member client then offers permessage-deflate)
 * (UDP ping deadline, 5 s) → MESH_PING_TIMEOUT_S            5
 * (message reply wait)     → MESH_MESSAGE_TIMEOUT_S         10  (ours: Ifrit waits on the gRPC call)
 * num_rings (CA side)      → read from the certificates' 2.5.13.37 extension; NUM_RINGS (10) when a record has none
 * use_ca, ca_addr, entry_addrs: member-side (tools/mesh-member.mjs options); boot_nodes: the CA's.
 */
export type MeshGroupSettings = {
  gossipIntervalS: number;
  monitorIntervalS: number;
  viewUpdateIntervalS: number;
  pingLimit: number;
  pingsPerInterval: number;
  removalTimeoutS: number;
  maxConcurrentMessages: number;
  useCompression: boolean;
  pingTimeoutS: number;
  messageTimeoutS: number;
  numRings: number;
};

export const MESH_DEFAULTS: MeshGroupSettings = {
  gossipIntervalS: 10,
  monitorIntervalS: 10,
  viewUpdateIntervalS: 10,
  pingLimit: 3,
  pingsPerInterval: 3,
  removalTimeoutS: 60,
  maxConcurrentMessages: 5,
  useCompression: true,
  pingTimeoutS: 5,
  messageTimeoutS: 10,
  numRings: 10,
};

/** The group object's settings, in the one dialect (functions/lib/config.ts). */
export const meshGroupSettings = cachedSettings((e: Env): MeshGroupSettings => {
  const d = MESH_DEFAULTS;
  return {
    gossipIntervalS: readInt(e, "MESH_GOSSIP_INTERVAL_S", { fallback: d.gossipIntervalS, min: 1, max: 86_400 }),
    monitorIntervalS: readInt(e, "MESH_MONITOR_INTERVAL_S", { fallback: d.monitorIntervalS, min: 1, max: 86_400 }),
    viewUpdateIntervalS: readInt(e, "MESH_VIEW_UPDATE_INTERVAL_S", { fallback: d.viewUpdateIntervalS, min: 1, max: 86_400 }),
    pingLimit: readInt(e, "MESH_PING_LIMIT", { fallback: d.pingLimit, min: 1, max: 1000 }),
    pingsPerInterval: readInt(e, "MESH_PINGS_PER_INTERVAL", { fallback: d.pingsPerInterval, min: 0, max: 32 }),
    removalTimeoutS: readInt(e, "MESH_REMOVAL_TIMEOUT_S", { fallback: d.removalTimeoutS, min: 1, max: 86_400 }),
    maxConcurrentMessages: readInt(e, "MESH_MAX_CONCURRENT_MESSAGES", { fallback: d.maxConcurrentMessages, min: 1, max: 10_000 }),
    useCompression: readBool(e, "MESH_USE_COMPRESSION", d.useCompression),
    pingTimeoutS: readInt(e, "MESH_PING_TIMEOUT_S", { fallback: d.pingTimeoutS, min: 1, max: 3600 }),
    messageTimeoutS: readInt(e, "MESH_MESSAGE_TIMEOUT_S", { fallback: d.messageTimeoutS, min: 1, max: 3600 }),
    // The CA's NUM_RINGS: the ring count for records whose certificate lacks the 2.5.13.37 extension.
    numRings: readInt(e, "NUM_RINGS", { fallback: d.numRings, min: 1, max: 32 }),
  };
});
