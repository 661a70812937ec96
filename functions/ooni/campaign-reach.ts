import { and, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { jobRuns, jobs, tasks } from "../../schema/campaigns";
import { campaignMeasurements, campaignReports } from "../../schema/ooni";
import { probeMatches, type Target } from "../campaigns/targeting";
import { taskTransition } from "../campaigns/task-store";
import { eventInsert } from "../events/store";
import type { Statements } from "../lib/d1-commit";
import type { Db } from "../lib/db";
import type { FeatureMap } from "./features";

/**
 * How campaigns reach probes through check-in (stock probe-cli never calls /tasks), and how the measurements
 * they produce are tied back to their runs. Reads jobs, runs and tasks through drizzle; owns no campaign policy
 * beyond "which open run does this check-in belong to".
 */

/** A campaign run a check-in can join: the campaign is not paused or deleted, and the run fired within its task timeout. */
export type OpenRun = {
  jobId: string;
  runId: string;
  testName: string;
  target: Target;
  urls: string[];
  features: FeatureMap | null;
  createdAt: string;
};

/** The probe as its check-in describes it (and, when it sent its own token, as the registry knows it). */
export type CheckInProbe = {
  probeId: string | null;
  probeCc: string;
  probeAsn: string;
  platform: string;
  softwareName: string;
  softwareVersion: string;
  networkType: string | null;
  supportedTests: string[];
};

/** Open runs of task campaigns, newest run per campaign, oldest campaign first. */
export async function openRuns(db: Db, now: Date): Promise<OpenRun[]> {
  const nowIso = now.toISOString();
  const rows = await db
    .select({
      jobId: jobs.id,
      runId: jobRuns.id,
      testName: jobs.testName,
      arguments: jobs.arguments,
      target: jobs.target,
      features: jobs.features,
      createdAt: jobs.createdAt,
    })
    .from(jobRuns)
    .innerJoin(jobs, eq(jobs.id, jobRuns.jobId))
    .where(
      and(
        // "done" = no run left to fire; its last run stays open until its tasks time out.
        inArray(jobs.state, ["active", "done"]),
        eq(jobs.kind, "task"),
        isNotNull(jobRuns.firedAt),
        inArray(jobRuns.state, ["dispatching", "dispatched"]),
        sql`julianday(${jobRuns.firedAt}) + ${jobs.taskTimeoutS} / 86400.0 > julianday(${nowIso})`,
      ),
    )
    .orderBy(jobs.createdAt, desc(jobRuns.firedAt))
    .limit(200)
    .all();
  const seen = new Set<string>();
  const out: OpenRun[] = [];
  for (const r of rows) {
    if (seen.has(r.jobId)) continue;
    seen.add(r.jobId);
    const args = JSON.parse(r.arguments ?? "{}") as { urls?: unknown };
    out.push({
      jobId: r.jobId,
      runId: r.runId,
      testName: r.testName ?? "",
      target: JSON.parse(r.target) as Target,
      urls: Array.isArray(args.urls) ? args.urls.filter((u): u is string => typeof u === "string") : [],
      features: r.features ? (JSON.parse(r.features) as FeatureMap) : null,
      createdAt: r.createdAt,
    });
  }
  return out;
}

/**
 * The runs a check-in joins. A web_connectivity campaign reaches the probes its target matches; a campaign of
 * another test reaches them only through its features. What a check-in does not say (network type, supported
 * tests) comes from the registry when the probe sent its token; otherwise on_wifi stands for "wifi"/"mobile" and
 * the probe is taken to support web_connectivity, the test it is checking in for.
 */
export function runsReaching(runs: readonly OpenRun[], p: CheckInProbe): OpenRun[] {
  const row = {
    probeCc: p.probeCc,
    probeAsn: p.probeAsn,
    platform: p.platform.toLowerCase(),
    networkType: p.networkType,
    softwareName: p.softwareName,
    supportedTests: JSON.stringify(p.supportedTests),
  };
  return runs.filter(
    (r) => (r.testName === "web_connectivity" || r.features !== null) && probeMatches(row, r.target, r.testName === "web_connectivity" ? r.testName : null),
  );
}

/**
 * The writes of a check-in that joined runs, for one `db.batch()`: the report_id tied to each web_connectivity
 * run, the probe's ready task of that run moved to `notified` (when the probe is known), and one event per run.
 */
export function checkInWrites(db: Db, joined: readonly OpenRun[], p: CheckInProbe, reportId: string, at: string) {
  const writes = [];
  for (const r of joined) {
    if (r.testName === "web_connectivity") {
      writes.push(
        db
          .insert(campaignReports)
          .values({
            reportId,
            jobId: r.jobId,
            runId: r.runId,
            source: "checkin",
            probeId: p.probeId,
            probeCc: p.probeCc,
            probeAsn: p.probeAsn,
            softwareName: p.softwareName,
            softwareVersion: p.softwareVersion,
            createdAt: at,
          })
          .onConflictDoNothing(),
      );
    }
    writes.push(
      eventInsert(db, {
        at,
        type: "ooni.checkin",
        actor: p.probeId ? `probe:${p.probeId}` : "probe:anonymous",
        subject: { kind: "job", id: r.jobId },
        jobId: r.jobId,
        probeId: p.probeId,
        data: { run_id: r.runId, report_id: reportId, probe_cc: p.probeCc, probe_asn: p.probeAsn, software_name: p.softwareName, urls: r.urls.length },
      }),
    );
  }
  return writes;
}

/** The probe's ready tasks in the joined runs (to move to `notified`). */
export async function readyTasksOf(db: Db, probeId: string, runIds: string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const rows = await db
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.probeId, probeId), eq(tasks.state, "ready"), sql`${tasks.runId} IN (SELECT value FROM json_each(${JSON.stringify(runIds)}))`))
    .all();
  return rows.map((r) => r.id);
}

export function notifyWrites(db: Db, taskIds: string[], probeId: string, at: string) {
  return taskIds.flatMap((id) => taskTransition(db, id, "notify", at, `probe:${probeId}`, { notifiedAt: at }, { via: "check-in" }));
}

/** A report opened through the relay by a probe that checked in for a run: the same cc, ASN and software, lately. */
export async function runsForOpenedReport(
  db: Db,
  t: { probeCc: string; probeAsn: string; softwareName: string; softwareVersion: string },
  since: string,
): Promise<{ jobId: string; runId: string; urls: string[] }[]> {
  const rows = await db
    .selectDistinct({ jobId: campaignReports.jobId, runId: campaignReports.runId, arguments: jobs.arguments })
    .from(campaignReports)
    .innerJoin(jobs, eq(jobs.id, campaignReports.jobId))
    .where(
      and(
        eq(campaignReports.probeCc, t.probeCc),
        eq(campaignReports.probeAsn, t.probeAsn),
        eq(campaignReports.softwareName, t.softwareName),
        eq(campaignReports.softwareVersion, t.softwareVersion),
        eq(campaignReports.source, "checkin"),
        sql`${campaignReports.createdAt} >= ${since}`,
      ),
    )
    .limit(20)
    .all();
  return rows.map((r) => ({ jobId: r.jobId, runId: r.runId, urls: urlsOf(r.arguments) }));
}

const urlsOf = (args: string | null): string[] => {
  const a = JSON.parse(args ?? "{}") as { urls?: unknown };
  return Array.isArray(a.urls) ? a.urls.filter((u): u is string => typeof u === "string") : [];
};

/** The runs a report_id is tied to, with each campaign's URLs (to check that a measurement's input is one of them). */
export async function runsOfReport(db: Db, reportId: string): Promise<{ jobId: string; runId: string; urls: string[] }[]> {
  const rows = await db
    .select({ jobId: campaignReports.jobId, runId: campaignReports.runId, arguments: jobs.arguments })
    .from(campaignReports)
    .innerJoin(jobs, eq(jobs.id, campaignReports.jobId))
    .where(eq(campaignReports.reportId, reportId))
    .all();
  return rows.map((r) => ({ jobId: r.jobId, runId: r.runId, urls: urlsOf(r.arguments) }));
}

/**
 * Which of a report's runs a measurement belongs to: a campaign that named URLs claims only measurements of
 * those URLs; one that named none (the test list's URLs) claims any of its probes' web_connectivity measurements.
 */
export function runsClaiming<T extends { urls: string[] }>(runs: readonly T[], input: string | null): T[] {
  return runs.filter((r) => r.urls.length === 0 || (input !== null && r.urls.includes(input)));
}

export function measurementWrites(
  db: Db,
  runs: readonly { jobId: string; runId: string }[],
  m: { measurementUid: string; reportId: string; input: string | null; probeCc: string; probeAsn: string },
  at: string,
) {
  return runs.flatMap((r) => [
    db
      .insert(campaignMeasurements)
      .values({
        measurementUid: m.measurementUid,
        jobId: r.jobId,
        runId: r.runId,
        reportId: m.reportId,
        input: m.input,
        probeCc: m.probeCc,
        probeAsn: m.probeAsn,
        submittedAt: at,
      })
      .onConflictDoNothing(),
    eventInsert(db, {
      at,
      type: "ooni.measurement.recorded",
      actor: "probe:anonymous",
      subject: { kind: "job", id: r.jobId },
      jobId: r.jobId,
      data: { run_id: r.runId, report_id: m.reportId, measurement_uid: m.measurementUid, input: m.input },
    }),
  ]);
}

export type RunReach = {
  checkins: number;
  measurements: { measurement_uid: string; report_id: string; input: string | null; probe_cc: string; probe_asn: string; submitted_at: string }[];
};

/** Per run of one campaign: check-ins that joined it and the measurements it produced (newest first, 100 per run at most). */
export async function campaignReach(db: Db, jobId: string, runIds: string[]): Promise<Map<string, RunReach>> {
  const out = new Map<string, RunReach>(runIds.map((id) => [id, { checkins: 0, measurements: [] }]));
  if (runIds.length === 0) return out;
  const [checkins, measurements] = await db.batch([
    db
      .select({ runId: campaignReports.runId, n: sql<number>`count(*)` })
      .from(campaignReports)
      .where(and(eq(campaignReports.jobId, jobId), eq(campaignReports.source, "checkin")))
      .groupBy(campaignReports.runId),
    db.select().from(campaignMeasurements).where(eq(campaignMeasurements.jobId, jobId)).orderBy(desc(campaignMeasurements.submittedAt)).limit(1000),
  ]);
  for (const c of checkins) {
    const r = out.get(c.runId);
    if (r) r.checkins = c.n;
  }
  for (const m of measurements) {
    const r = out.get(m.runId);
    if (r && r.measurements.length < 100)
      r.measurements.push({
        measurement_uid: m.measurementUid,
        report_id: m.reportId,
        input: m.input,
        probe_cc: m.probeCc,
        probe_asn: m.probeAsn,
        submitted_at: m.submittedAt,
      });
  }
  return out;
}

/** A built list of writes as the commit's non-empty statement tuple (callers only commit when there is something to write). */
export function statements(list: readonly unknown[]): Statements {
  if (list.length === 0) throw new Error("nothing to commit");
  return list as unknown as Statements;
}
