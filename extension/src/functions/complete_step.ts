// clockwork.complete_step: a worker reports how a step it holds ended. The report is a set
// of facts; the run's lifecycle (db/lifecycle.ts) records them, fenced by the lease, and
// decides the run. A late report from a worker whose lease expired (the step was handed to
// another) or whose run was cancelled is refused, not applied.
import { recordStepEnd, type StepEnd } from "../db/lifecycle.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { instantOf } from "../db/values.ts";

export type Completion = StepEnd;

export const complete_step = sqlFunction({
  name: "complete_step",
  args: "step_run bigint, worker text, exit_code integer, stdout text DEFAULT '', stderr text DEFAULT '', error text DEFAULT NULL, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "A worker reports the end of a shell or program step it holds (exit code, remaining output, error such as \"timed out after 5000 ms\"); returns {accepted, state, run_state}, {accepted:false} when its lease was taken over or its run cancelled.",
  body: (stepRun: string | number | bigint, worker: string, exitCode: number | null, stdout: string | null, stderr: string | null, error: string | null, now: Date): Completion => {
    return recordStepEnd(String(stepRun), worker, {
      exitCode, stdout: stdout ?? "", stderr: stderr ?? "", error, sqlState: null, result: null,
    }, instantOf(now));
  },
});
