// clockwork.complete_step: a worker reports how a step it holds ended. The report is a set
// of facts; the run's lifecycle (db/lifecycle.ts) records them, fenced by the lease, and
// decides the run. A late report from a worker whose lease expired (the step was handed to
// another) or whose run was cancelled is refused, not applied.
import { recordStepEnd, RESULT_ROWS_LIMIT, type StepEnd } from "../db/lifecycle.ts";
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

export const complete_sql_step = sqlFunction({
  name: "_complete_sql_step",
  entry: "complete_sql_step",
  args: "step_run bigint, worker text, sql_state text, error text, result jsonb, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment: "Records the outcome of an SQL step run by run_sql_step (its rows, or its SQL error); fenced like complete_step.",
  body: (stepRun: string | number | bigint, worker: string, sqlState: string | null, error: string | null, result: unknown[] | null, now: Date): Completion => {
    const rows = sqlState === null && error === null ? result ?? [] : null;
    return recordStepEnd(String(stepRun), worker, {
      exitCode: null,
      stdout: rows === null ? "" : JSON.stringify(rows.slice(0, RESULT_ROWS_LIMIT)),
      stderr: "",
      error,
      sqlState,
      result: rows,
    }, instantOf(now));
  },
});
