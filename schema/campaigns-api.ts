import { z } from "@hono/zod-openapi";
import { JOB_STATES, TASK_STATES } from "./campaigns";
import { CampaignFeatures, CampaignMeasurement, WebConnectivityArguments } from "./ooni-api";
import { MAX_LIST_VALUES } from "../functions/lib/sql-lists";
import { Asn, CountryCode, Platform, TestName } from "./probes-api";

// Request/response schemas of the campaign surface (OONI Orchestra's orchestrate API, extended).
const any = z.literal("any");
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(z.union([any, item]))
    .max(MAX_LIST_VALUES, `at most ${MAX_LIST_VALUES} values`)
    .default([]);

export const TargetBody = z
  .object({
    countries: list(CountryCode),
    platforms: list(Platform),
    asns: list(Asn),
    network_types: list(z.string().trim().min(1).max(32)),
    software_names: list(z.string().trim().min(1).max(100)),
    supported_tests: list(TestName),
  })
  .openapi("Target", { description: 'Who the campaign reaches. An empty list (or "any") means all; lists combine with AND.' });

const JsonObject = z.record(z.string(), z.unknown());

export const JobBody = z
  .object({
    schedule: z.string().trim().min(1).max(200).openapi({
      description: "ISO 8601 `R[n]/<start>/<period>` (empty start = now, R = forever) or 5-field cron (UTC)",
      example: "R/2017-05-01T00:00:00Z/P1D",
    }),
    delay: z.number().int().min(0).max(86_400).default(0).openapi({ description: "Seconds over which each run's pushes are spread at random" }),
    comment: z.string().trim().min(1).max(1000),
    task: z.object({ test_name: TestName, arguments: JsonObject.default({}) }).nullish(),
    alert: z.object({ message: z.string().trim().min(1).max(1000), extra: JsonObject.default({}) }).nullish(),
    target: TargetBody.default({ countries: [], platforms: [], asns: [], network_types: [], software_names: [], supported_tests: [] }),
    rollout_per_minute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullish()
      .openapi({ description: "Max pushes per minute; a large run is spread instead of sent at once" }),
    starting_deadline_s: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(900)
      .openapi({ description: "A run missed while the service was down still fires if it is at most this late" }),
    task_timeout_s: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(86_400)
      .openapi({ description: "A task unanswered (not accepted/rejected) this long after its run expires" }),
    // OONI check-in (functions/ooni): feature flags for the probes this campaign targets.
    features: CampaignFeatures.nullish(),
  })
  .refine((b) => b.task || b.alert, { message: "task or alert must be defined", path: ["task"] })
  // Per-test arguments (functions/ooni/campaign-tests.ts checks the test name against CAMPAIGN_TESTS).
  .superRefine((b, ctx) => {
    if (b.task?.test_name !== "web_connectivity") return;
    const r = WebConnectivityArguments.safeParse(b.task.arguments);
    for (const i of r.success ? [] : r.error.issues)
      ctx.addIssue({ code: "custom", message: i.message, path: ["task", "arguments", ...i.path] as (string | number)[] });
  })
  .openapi("JobRequest", {
    example: {
      schedule: "R/2017-05-01T00:00:00Z/P1D",
      delay: 0,
      comment: "daily web_connectivity in Italy",
      task: { test_name: "web_connectivity", arguments: {} },
      target: { countries: ["IT"], platforms: ["android", "ios"], asns: [], network_types: [], software_names: [], supported_tests: [] },
    } as never,
  });
export type JobBody = z.infer<typeof JobBody>;

export const JobIdParam = z.object({
  job_id: z
    .string()
    .uuid("must be a job id this service issued")
    .openapi({ param: { name: "job_id", in: "path" } }),
});

export const JobCreated = z.object({ id: z.string() }).openapi("JobCreated");
export const JobStatus = z.object({ status: z.string() });

const TargetOut = z.object({
  countries: z.array(z.string()),
  platforms: z.array(z.string()),
  asns: z.array(z.string()),
  network_types: z.array(z.string()),
  software_names: z.array(z.string()),
  supported_tests: z.array(z.string()),
});

export const Job = z
  .object({
    id: z.string(),
    schedule: z.string(),
    delay: z.number(),
    comment: z.string(),
    task: z.object({ test_name: z.string(), arguments: JsonObject }).nullable(),
    alert: z.object({ message: z.string(), extra: JsonObject }).nullable(),
    target: TargetOut,
    state: z.enum(JOB_STATES),
    rollout_per_minute: z.number().nullable(),
    starting_deadline_s: z.number(),
    task_timeout_s: z.number(),
    times_run: z.number(),
    next_run_at: z.string().nullable(),
    last_run_at: z.string().nullable(),
    creation_time: z.string(),
    created_by: z.string(),
    features: z.record(z.string(), z.boolean()).nullable(),
  })
  .openapi("Job");

export const JobList = z.object({ jobs: z.array(Job) }).openapi("JobList");

export const Run = z.object({
  id: z.string(),
  run_no: z.number().nullable(),
  scheduled_at: z.string(),
  fired_at: z.string().nullable(),
  state: z.string(),
  targets: z.number(),
  missed_count: z.number(),
  finished_at: z.string().nullable(),
  // OONI check-in (functions/ooni/campaign-reach.ts): check-ins that joined the run, measurements it produced.
  checkins: z.number().optional(),
  measurements: z.array(CampaignMeasurement).optional(),
  tasks: z.record(z.enum(TASK_STATES), z.number()).openapi({ description: "the run's tasks by state (counters: unchanged when old tasks are pruned)" }),
});

export const JobDetail = Job.extend({
  runs: z.array(Run),
  task_counts: z.record(z.enum(TASK_STATES), z.number()),
  delivery: z
    .object({
      sent: z.number(),
      accepted: z.number(),
      failed: z.number(),
      token_expired: z.number(),
      deferred: z.number(),
      skipped: z.number(),
      retried: z.number(),
    })
    .openapi({ description: "push attempts by outcome, from the delivery log (push.* events); accepted = queued by a gateway that does not report delivery" }),
  upcoming_runs: z.array(z.string()),
}).openapi("JobDetail");

const Breakdown = z.array(z.object({ key: z.string(), count: z.number() }));
export const DryRun = z
  .object({
    targets: z.number(),
    with_push_token: z.number(),
    projected_pushes_per_run: z.number(),
    by_country: Breakdown,
    by_asn: Breakdown,
    by_platform: Breakdown,
    rollout_minutes: z.number().nullable(),
    upcoming_runs: z.array(z.string()),
  })
  .openapi("DryRun");

export const TaskIdParam = z.object({
  task_id: z
    .string()
    .uuid("must be a task id this service issued")
    .openapi({ param: { name: "task_id", in: "path" } }),
});

export const TasksQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Only tasks created at or after this time (RFC 3339)" }),
});

export const Task = z
  .object({ id: z.string(), test_name: z.string(), arguments: JsonObject, state: z.enum(TASK_STATES), creation_time: z.string() })
  .openapi("Task");
export const TaskList = z.object({ tasks: z.array(Task) }).openapi("TaskList");

export const TaskDoneBody = z
  .object({
    result: z
      .object({ measurement_id: z.string().max(300).optional(), report_id: z.string().max(300).optional() })
      .catchall(z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
      .optional(),
  })
  .openapi("TaskDone");

export const PingbackParam = z.object({
  token: z
    .string()
    .min(10)
    .max(2048)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "not a pingback link")
    .openapi({ param: { name: "token", in: "path" } }),
});
export const PingbackActionParam = PingbackParam.extend({
  action: z.enum(["accept", "reject", "done"]).openapi({ param: { name: "action", in: "path" } }),
});

export const PingbackTask = z
  .object({
    type: z.literal("task"),
    id: z.string(),
    test_name: z.string(),
    arguments: JsonObject,
    state: z.enum(TASK_STATES),
    accept_url: z.string(),
    reject_url: z.string(),
    done_url: z.string(),
  })
  .openapi("PingbackTask");
export const PingbackAlert = z.object({ type: z.literal("alert"), job_id: z.string(), message: z.string(), extra: JsonObject }).openapi("PingbackAlert");
