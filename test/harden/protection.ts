/**
 * The authorization matrix, generated from the app's route table: every route is either listed here as public
 * (with the reason) or carries a protection, and each protection is tried with every kind of wrong credential.
 * A route that is in neither list fails the first test, so a new route cannot ship without a decision.
 */
export type Protection =
  | { public: string }
  | { operator: "viewer" | "operator" | "admin" }
  /** PUT /api/v1/update/:client_id: the probe itself (or nobody, for a passwordless probe). */
  | { probeSelf: true }
  /** A probe token; the handler then acts only on the probe's own tasks. */
  | { probeTasks: true }
  /** An agent's WebSocket: only the probe/agent named in the path. */
  | { agentSelf: true }
  /** Mesh members authenticate HTTP calls with a signed request; `viewer` means an operator token also works. */
  | { meshSigned: { operatorToo: boolean } }
  /** Authenticated inside the protocol, not by a bearer token (reason given). */
  | { inBand: string }
  /** A benchmark-only route: hidden (404 for everyone) unless its setting enables it, then admin only. */
  | { benchOnly: "admin" };

const PUBLIC_CONSOLE = "the console's login page and its stylesheet are served before a session exists";
const SCHOOL = "school client protocol (sugar/OLPC): machines identify by serial/uuid, answers are signed leases";
const OONI = "OONI collector and probe-services: stock probe-cli calls them anonymously";

export const PROTECTION: Record<string, Protection> = {
  "GET /health": { public: "liveness probe for load balancers" },
  "GET /openapi.json": { public: "the API's own description" },
  "POST /api/v1/login": { public: "exchanges credentials for a token" },
  "POST /api/v1/register": { public: "probes enrol themselves (orchestra protocol)" },
  "GET /api/v1/test-helpers": { public: OONI },
  "POST /api/v1/check-in": { public: `${OONI}; a token, when sent, only names the probe` },
  "GET /api/v1/test-list/urls": { public: OONI },
  "POST /api/v1/submit_measurement": { public: OONI },
  "POST /report": { public: OONI },
  "POST /report/:report_id": { public: OONI },
  "POST /report/:report_id/close": { public: OONI },
  "GET /api/v1/manifest": { public: OONI },
  "GET /api/v1/measurement_meta": { public: OONI },
  "GET /api/v1/pingback/:token": { public: "push pingback: the unguessable token in the link is the credential" },
  "POST /api/v1/pingback/:token/:action": { public: "push pingback: the unguessable token in the link is the credential" },
  "POST /client/register": { public: SCHOOL },
  "GET /client/status": { public: SCHOOL },
  "GET /client/backup": { public: SCHOOL },
  "GET /backup/uuid/available/:uuid": { public: SCHOOL },
  "POST /activation": { public: SCHOOL },
  "GET /client/lease": { public: SCHOOL },
  "POST /RPC2": { public: `${SCHOOL} (XML-RPC)` },
  "POST /": { public: `${SCHOOL} (XML-RPC at the root, as the stock client posts)` },
  "GET /": { public: "redirects to the console" },
  "GET /.well-known/jwks.json": { public: "public keys that verify leases" },
  "POST /mesh/:group/certificateRequest": { public: "mesh CA: open enrolment where the group allows it; the CSR's key is the identity" },
  "POST /mesh/:group/enrol/:token/certificateRequest": { public: "mesh CA: the enrolment token in the path is the credential" },
  "GET /mesh/:group/members/:id/connect": { inBand: "the group sends a challenge that the member signs with its certificate key" },
  "GET /console/login": { public: PUBLIC_CONSOLE },
  "POST /console/login": { public: PUBLIC_CONSOLE },
  "GET /console/assets/console.css": { public: PUBLIC_CONSOLE },

  "POST /api/v1/admin/operators": { operator: "admin" },
  "GET /api/v1/admin/operators": { operator: "admin" },
  "DELETE /api/v1/admin/operators/:username": { operator: "admin" },
  "POST /api/v1/admin/operators/:username/password": { operator: "admin" },
  "POST /api/v1/password": { operator: "viewer" },
  "PUT /api/v1/update/:client_id": { probeSelf: true },
  "GET /api/v1/admin/clients": { operator: "viewer" },
  "GET /api/v1/admin/clients/:client_id": { operator: "viewer" },
  "GET /api/v1/admin/events": { operator: "viewer" },
  "POST /api/v1/admin/clients/:client_id/disable": { operator: "operator" },
  "POST /api/v1/admin/clients/:client_id/enable": { operator: "operator" },
  "POST /api/v1/admin/minions/:id/approve": { operator: "admin" },
  "POST /api/v1/admin/minions/:id/disable": { operator: "operator" },
  "POST /api/v1/admin/minions/:id/enable": { operator: "operator" },
  "POST /api/v1/admin/mesh/groups/:group/members/:id/disable": { operator: "operator" },
  "POST /api/v1/admin/mesh/groups/:group/members/:id/enable": { operator: "operator" },
  "GET /api/v1/admin/audit": { operator: "admin" },
  "GET /api/v1/admin/audit/verify": { operator: "admin" },
  "POST /api/v1/logout": { inBand: "revokes the very token it is called with (any kind); no token is a 401 (test/auth/abuse.test.ts)" },
  "POST /api/v1/agents/register": { public: "agents enrol themselves; AGENT_ENROLMENT decides whether a secret or an approval is needed" },
  "POST /api/v1/agents/login": { public: "exchanges an agent's credentials for a token" },
  "GET /agents/:id/connect": { agentSelf: true },
  "GET /minions": { operator: "viewer" },
  "GET /minions/buckets": { operator: "viewer" },
  "GET /minions/buckets/:bucket": { operator: "viewer" },
  "GET /minions/:id": { operator: "viewer" },
  "ALL /proxy/*": { operator: "viewer" },
  "POST /minions/_bench/seed": { benchOnly: "admin" },
  "POST /api/v1/admin/job": { operator: "operator" },
  "POST /api/v1/admin/job/dry-run": { operator: "viewer" },
  "GET /api/v1/admin/jobs": { operator: "viewer" },
  "GET /api/v1/admin/job/:job_id": { operator: "viewer" },
  "DELETE /api/v1/admin/job/:job_id": { operator: "operator" },
  "POST /api/v1/admin/job/:job_id/pause": { operator: "operator" },
  "POST /api/v1/admin/job/:job_id/resume": { operator: "operator" },
  "GET /api/v1/tasks": { probeTasks: true },
  "GET /api/v1/task/:task_id": { probeTasks: true },
  "POST /api/v1/task/:task_id/accept": { probeTasks: true },
  "POST /api/v1/task/:task_id/reject": { probeTasks: true },
  "POST /api/v1/task/:task_id/done": { probeTasks: true },
  "POST /api/v1/admin/test-lists": { operator: "operator" },
  "GET /api/v1/admin/test-lists": { operator: "viewer" },
  "GET /api/v1/admin/test-lists/:country": { operator: "viewer" },
  "DELETE /api/v1/admin/test-lists": { operator: "operator" },
  "GET /api/v1/admin/school/machines": { operator: "viewer" },
  "POST /api/v1/admin/school/machines": { operator: "operator" },
  "POST /api/v1/admin/school/stolen": { operator: "operator" },
  "DELETE /api/v1/admin/school/stolen/:serial": { operator: "operator" },
  "POST /api/v1/admin/school/stamp": { operator: "operator" },
  "POST /api/v1/admin/school/delegations": { operator: "operator" },
  "GET /api/v1/admin/school/bundle": { operator: "viewer" },
  "POST /api/v1/admin/mesh/groups": { operator: "operator" },
  "GET /api/v1/admin/mesh/groups": { operator: "viewer" },
  "GET /api/v1/admin/mesh/groups/:group": { operator: "viewer" },
  "POST /api/v1/admin/mesh/groups/:group/enrolment-tokens": { operator: "operator" },
  "POST /api/v1/admin/mesh/groups/:group/members/:id/revoke": { operator: "operator" },
  "GET /mesh/:group/members": { meshSigned: { operatorToo: true } },
  "POST /mesh/:group/members/:id/messages": { meshSigned: { operatorToo: false } },
};
