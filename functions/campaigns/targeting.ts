import { sql, type SQL } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { inJsonList } from "../lib/sql-lists";

/** Who a campaign reaches. Every list empty = the whole fleet; within a list any value matches; lists combine with AND. */
export type Target = {
  countries: string[];
  platforms: string[];
  asns: string[];
  network_types: string[];
  software_names: string[];
  /** The probe must support every one of these tests. */
  supported_tests: string[];
};

/** OONI's frontend sent "any" for "all": normalise to the empty list, drop duplicates. */
export function normalizeTarget(t: Partial<Target>): Target {
  const clean = (xs: string[] | undefined, f: (s: string) => string = (s) => s) =>
    [...new Set((xs ?? []).map((x) => f(x.trim())).filter((x) => x !== ""))].filter((_, __, all) => !all.some((a) => a.toLowerCase() === "any"));
  return {
    countries: clean(t.countries, (s) => s.toUpperCase()),
    platforms: clean(t.platforms, (s) => s.toLowerCase()),
    asns: clean(t.asns, (s) => s.toUpperCase()),
    network_types: clean(t.network_types),
    software_names: clean(t.software_names),
    supported_tests: clean(t.supported_tests),
  };
}

/** The tests a probe must support: the target's list plus the task's own test (never send a test the probe lacks). */
export function requiredTests(t: Target, testName: string | null): string[] {
  return [...new Set([...t.supported_tests, ...(testName ? [testName] : [])])];
}

/** The WHERE conditions selecting a campaign's probes: one bound parameter per list, whatever its length (lib/sql-lists.ts). */
export function targetConditions(t: Target, testName: string | null): SQL[] {
  const conds: SQL[] = [];
  if (t.countries.length) conds.push(inJsonList(probes.probeCc, t.countries));
  if (t.platforms.length) conds.push(inJsonList(probes.platform, t.platforms));
  if (t.asns.length) conds.push(inJsonList(probes.probeAsn, t.asns));
  if (t.network_types.length) conds.push(inJsonList(probes.networkType, t.network_types));
  if (t.software_names.length) conds.push(inJsonList(probes.softwareName, t.software_names));
  const req = requiredTests(t, testName);
  if (req.length) {
    // One bound parameter whatever the list length: every required test is in the probe's JSON array.
    conds.push(
      sql`NOT EXISTS (SELECT 1 FROM json_each(${JSON.stringify(req)}) AS r WHERE r.value NOT IN (SELECT s.value FROM json_each(${probes.supportedTests}) AS s))`,
    );
  }
  return conds;
}

/** The same rule in memory (used by tests and by anything that already holds a probe row). */
export function probeMatches(
  p: { probeCc: string; platform: string; probeAsn: string; networkType: string | null; softwareName: string; supportedTests: string },
  t: Target,
  testName: string | null,
): boolean {
  const has = (list: string[], v: string | null) => list.length === 0 || (v !== null && list.includes(v));
  const supported = JSON.parse(p.supportedTests) as string[];
  return (
    has(t.countries, p.probeCc) &&
    has(t.platforms, p.platform) &&
    has(t.asns, p.probeAsn) &&
    has(t.network_types, p.networkType) &&
    has(t.software_names, p.softwareName) &&
    requiredTests(t, testName).every((x) => supported.includes(x))
  );
}
