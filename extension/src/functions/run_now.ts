// clockwork.run_now: start a job by hand (or at a given time), with parameters.
// Manual runs are not subject to the overlap policy: asking for a run is explicit.
import { didYouMean, issue, type Scalar } from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { raise, sqlError } from "../db/raise.ts";
import { applyPlans } from "../db/lifecycle.ts";
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
  const given = params ?? {};
  if (typeof given !== "object" || Array.isArray(given)) raise("invalid_parameter", "params", "params must be a JSON object of name: value");
  const problems = Object.entries(given).flatMap(([name, value]) => {
    if (!(name in job.parameters)) {
      return [issue("invalid_parameter", `params.${name}`, `job "${job.name}" has no parameter "${name}"${didYouMean(name, Object.keys(job.parameters))}`)];
    }
    if (value !== null && typeof value === "object") {
      return [issue("invalid_parameter", `params.${name}`, "parameter values must be strings, numbers, booleans or null")];
    }
    return [];
  });
  if (problems.length > 0) throw sqlError(problems);

  const atMs = instantOf(at);
  const run = execute(SQL.insertManualRun, [target.id, target.version, given as Record<string, Scalar>, at])[0] as RunRow;
  applyPlans([planRun(run, [], atMs)], atMs);
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
  comment: "Starts a run of a job now (or at `at`) with parameters over the job's defaults; returns the run id.",
  body: (jobName: string, params: Record<string, unknown> | null, at: Date): number => {
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    return bigintResult(startManualRun(target, params, at));
  },
});
