// clockwork.retry_run: start a failed (timed-out, or cancelled) run again, as a new manual run of the
// same job with the same parameters. The new run follows the job's current definition (a
// retry usually comes after a fix), and records the run it retries in runs.retry_of.
import { raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { bigintResult } from "../db/values.ts";
import { startManualRun } from "./run_now.ts";

interface RetryTarget {
  job_id: string;
  version: number;
  state: string;
  params: Record<string, unknown>;
  may_manage: boolean;
}

/** Final states that did not succeed. */
const RETRYABLE = new Set(["failed", "timed_out", "cancelled"]);

export const retry_run = sqlFunction({
  name: "retry_run",
  args: "run bigint, at timestamptz DEFAULT now()",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Starts a failed, timed-out or cancelled run again: a new manual run of the job's current definition with the same parameters; returns its id.",
  body: (runId: number | string, at: Date): number => {
    const target = execute(SQL.runForRetry, [String(runId)])[0] as RetryTarget | undefined;
    // Someone else's run is reported as missing, as cancel_run does.
    if (target === undefined || !target.may_manage) raise("not_found", "run", `run ${runId} does not exist`);
    if (!RETRYABLE.has(target.state)) {
      raise("invalid_state", "run", `run ${runId} is ${target.state}: only a failed, timed-out or cancelled run can be retried`);
    }
    const retry = startManualRun({ id: target.job_id, version: target.version }, target.params, at);
    execute(SQL.markRetryOf, [retry, String(runId)]);
    return bigintResult(retry);
  },
});
