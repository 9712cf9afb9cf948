// clockwork.run_now: start a job by hand (or at a given time), with parameters.
// Manual runs are not subject to the overlap policy: asking for a run is explicit.
import { checkRunParameters } from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { sqlError } from "../db/raise.ts";
import { waitingForGroupReason } from "../db/groups.ts";
import { applyPlans, startGroupRuns } from "../db/lifecycle.ts";
import { planRun, type RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { bigintResult, instantOf } from "../db/values.ts";

/**
 * Checks `params` against the job's current definition and queues a manual run of it:
 * the one way a run is started by hand (run_now, retry_run). Returns the new run's id.
 */
export function startManualRun(target: { id: string; version: number }, params: unknown, at: Date): string {
  const job = jobVersion(target.id, target.version);
  // Checked now, against the parameters' declared or default types, not at run time.
  const checked = checkRunParameters(job, params ?? {});
  if (!checked.ok) throw sqlError(checked.errors);

  const atMs = instantOf(at);
  // Not subject to the overlap policy, but to the job's concurrency group: a run of a
  // group is created waiting and takes a slot through the group's admission.
  const group = job.policies.group;
  const run = execute(SQL.insertManualRun, [
    target.id, target.version, JSON.stringify(checked.params), at,
    group, job.policies.priority, group === null ? null : waitingForGroupReason(group, null),
  ])[0] as RunRow;
  if (group === null) applyPlans([planRun(run, [], atMs)], atMs);
  else startGroupRuns([group], atMs);
  execute(SQL.notifyWakeup, ["run_now"]);
  return run.id;
}

export const run_now = sqlFunction({
  name: "run_now",
  args: "job text, params jsonb DEFAULT '{}', at timestamptz DEFAULT now()",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Starts a run of a job now (or at `at`) with parameters over the job's defaults, each checked against its declared or default type; returns the run id.",
  body: (jobName: string, params: Record<string, unknown> | null, at: Date): number => {
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    return bigintResult(startManualRun(target, params, at));
  },
});
