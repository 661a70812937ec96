/** @jsxImportSource hono/jsx */
import { Time } from "../console/components/layout";
import { DataTable } from "../console/components/table";
import { utcMinute } from "../console/lib/format";
import type { RunReach } from "./campaign-reach";

type Row = RunReach["measurements"][number] & { run: string };

/**
 * The campaign page's OONI section: check-ins that joined each run and the measurements the run produced
 * (measurement_uid links to OONI Explorer, where the upstream published them).
 */
export function CampaignMeasurements({ runs, reach }: { runs: { id: string; run_no: number | null }[]; reach: Map<string, RunReach> }) {
  const rows: Row[] = runs.flatMap((r) => (reach.get(r.id)?.measurements ?? []).map((m) => ({ ...m, run: r.run_no === null ? "missed" : `#${r.run_no}` })));
  const checkins = runs.reduce((n, r) => n + (reach.get(r.id)?.checkins ?? 0), 0);
  return (
    <>
      <h2 id="measurements-h">OONI measurements</h2>
      <p>
        {checkins} check-in{checkins === 1 ? "" : "s"} joined these runs; {rows.length} measurement{rows.length === 1 ? "" : "s"} recorded.
      </p>
      <DataTable
        id="measurements"
        caption="Measurements submitted through this service for this campaign, newest first"
        rows={rows}
        empty="No measurements yet: probes submit after their run, through the hand-off (PROBE_SERVICES_UPSTREAM)."
        columns={[
          { label: "Run", header: true, cell: (m) => m.run },
          { label: "Submitted", cell: (m) => <Time iso={m.submitted_at} text={utcMinute(m.submitted_at)} /> },
          { label: "URL", cell: (m) => m.input ?? "—" },
          { label: "Network", cell: (m) => `${m.probe_cc} ${m.probe_asn}` },
          { label: "Measurement", cell: (m) => <a href={`https://explorer.ooni.org/m/${encodeURIComponent(m.measurement_uid)}`}>{m.measurement_uid}</a> },
        ]}
      />
    </>
  );
}
