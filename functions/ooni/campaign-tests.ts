import { ApiError } from "../lib/errors";
import { ooniSettings } from "./settings";

/**
 * A campaign may ask probes to run only the tests in CAMPAIGN_TESTS (default: the tests OONI's apps ship), as
 * OONI asked of silent pushes (ooni/ooni.org#643). Per-test arguments are checked by the request schema
 * (schema/campaigns-api.ts). Either failing is a 400 at creation.
 */
export function assertCampaignTest(env: Env, body: { task?: { test_name: string } | null }): void {
  const name = body.task?.test_name;
  if (name === undefined) return;
  const allowed = ooniSettings(env).campaignTests;
  if (!allowed.includes(name)) {
    const message = `test ${name} is not one a campaign may ask probes to run (CAMPAIGN_TESTS: ${allowed.join(", ")})`;
    throw new ApiError("validation_failed", `invalid request: task.test_name: ${message}`, [{ path: "task.test_name", message }]);
  }
}
