import { canonicalStatus, md5Hex, minionChecksum, type MinionStatus } from "./checksum";

/**
 * Benchmark-only: deterministic minion ids and realistic status objects (shaped like the seed's stormflash status),
 * so bench/minions.mjs can fill the registry with 10,000 minions without 10,000 sockets. Used only by the route
 * enabled with MINIONS_BENCH_SEED = "1".
 */
export function benchId(i: number): string {
  const h = md5Hex(`bench-minion-${i}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function benchStatus(id: string, round: number): MinionStatus {
  return canonicalStatus(
    {
      id,
      instance: md5Hex(`instance-${id}`),
      activated: true,
      running: true,
      env: {
        provider: "openstack",
        tracker: "https://stormtracker.example.net/",
        id,
        bolt: { beaconValidity: 45, beaconRetry: 3, beaconInterval: 10, allowedPorts: [5000] },
      },
      haveCredentials: true,
      config: { repeatInterval: 25000, allowedPorts: [5000], beaconInterval: 10, beaconRetry: 3, beaconValidity: 45, port: 5000 },
      os: { hostname: `kvm-${id.slice(0, 6)}`, type: "Linux", platform: "linux", arch: "x64", uptime: round * 15, loadavg: [0.1, 0.05, 0] },
      uplink: { host: "stormtower.example.net", port: 443 },
      clients: [],
      packages: [
        { name: "stormflash", version: "*", source: "builtin", type: "npm", status: { installed: true } },
        { name: "corenova", version: `1.4.${round}`, source: "builtin", type: "dpkg", status: { installed: true } },
        { name: "openvpn", version: "2.1.3", source: "builtin", type: "dpkg", status: { installed: true } },
      ],
      services: [],
      instances: [],
    },
    id,
  );
}

export function benchItem(i: number, round: number) {
  const id = benchId(i);
  const status = benchStatus(id, round);
  return { id, seq: round + 1, checksum: minionChecksum(status), status: JSON.stringify(status) };
}
