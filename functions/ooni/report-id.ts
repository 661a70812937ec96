/**
 * OONI's report_id: `YYYYmmddTHHMMSSZ_<test name without "_">_<CC>_<ASN number>_n<collector id>_<random>`, the
 * random part being 12 bytes in base64 with "o" for both "+" and "/" (so it never holds "_" and splits into six).
 */
export function reportId(testName: string, cc: string, asn: number, collectorId: string, at: Date, random: Uint8Array): string {
  const ts = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  const rand = btoa(String.fromCharCode(...random))
    .replace(/[+/]/g, "o")
    .replace(/=+$/, "");
  return `${ts}_${testName.replace(/_/g, "")}_${cc}_${asn}_n${collectorId}_${rand}`;
}

/** A fresh report_id with 12 random bytes. */
export function newReportId(testName: string, cc: string, asn: number, collectorId: string, at: Date): string {
  return reportId(testName, cc, asn, collectorId, at, crypto.getRandomValues(new Uint8Array(12)));
}

export type ReportIdParts = { timestamp: string; testName: string; cc: string; asn: number; collector: string; random: string };

/** The parts of a report_id, or null when it is not in OONI's format (the backend's `split("_")` into six, checked). */
export function parseReportId(id: string): ReportIdParts | null {
  const parts = id.split("_");
  if (parts.length !== 6) return null;
  const [timestamp, testName, cc, asn, collector, random] = parts;
  if (!/^\d{8}T\d{6}Z$/.test(timestamp) || !/^[a-z0-9]{2,29}$/i.test(testName) || !/^[A-Z]{2}$/.test(cc) || !/^\d{1,10}$/.test(asn)) return null;
  if (!/^n[A-Za-z0-9]*$/.test(collector) || !/^[A-Za-z0-9]{1,64}$/.test(random)) return null;
  return { timestamp, testName, cc, asn: Number(asn), collector: collector.slice(1), random };
}

/** "AS1234" → 1234; anything else → 0 (OONI's backend does the same). */
export function asnNumber(asn: string): number {
  const m = /^AS(\d{1,10})$/i.exec(asn.trim());
  return m ? Number(m[1]) : 0;
}
