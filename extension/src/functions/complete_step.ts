// clockwork.complete_step: a worker reports how a step it holds ended. Fencing: only the
// worker holding the lease of a running step may report; a late report from a worker
// whose lease expired (the step was handed to another) is refused, not applied.
import { advanceRun, type RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

/** Result rows kept per SQL step, for conditions and history. */
const RESULT_ROWS_LIMIT = 100;

export interface Completion {
  accepted: boolean;
  state?: "succeeded" | "failed";
  run_state?: string;
}

export function recordCompletion(
  stepRun: string,
  worker: string,
  outcome: {
    exitCode: number | null;
    stdout: string;
    stderr: string;
    error: string | null;
    sqlState: string | null;
    result: unknown[] | null;
  },
  nowMs: number,
): Completion {
  const now = new Date(nowMs);
  const state = outcome.error === null && outcome.sqlState === null && (outcome.exitCode === 0 || outcome.exitCode === null && outcome.result !== null)
    ? "succeeded"
    : "failed";
  const result = outcome.result === null ? null : JSON.stringify(outcome.result.slice(0, RESULT_ROWS_LIMIT));
  const done = execute(SQL.completeStep, [
    stepRun, worker, state, now, outcome.exitCode, outcome.sqlState, outcome.error, result,
    outcome.stdout ?? "", outcome.stderr ?? "",
  ])[0] as { run_id: string } | undefined;
  if (done === undefined) return { accepted: false };
  const run = execute(SQL.runForUpdate, [done.run_id])[0] as RunRow;
  if (run.state === "cancelled" || run.state === "succeeded" || run.state === "failed") {
    return { accepted: true, state, run_state: run.state };
  }
  const ready = advanceRun(run, nowMs);
  if (ready > 0) execute(SQL.notifyWakeup, ["ready"]);
  const after = execute(SQL.runState, [run.id])[0] as { state: string };
  return { accepted: true, state, run_state: after.state };
}

export const complete_step = sqlFunction({
  name: "complete_step",
  args: "step_run bigint, worker text, exit_code integer, stdout text DEFAULT '', stderr text DEFAULT '', error text DEFAULT NULL, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "A worker reports the end of a shell or program step it holds (exit code, remaining output, error such as \"timed out after 5000 ms\"); returns {accepted:false} when its lease was taken over.",
  body: (stepRun: string | number | bigint, worker: string, exitCode: number | null, stdout: string | null, stderr: string | null, error: string | null, now: Date): Completion => {
    return recordCompletion(String(stepRun), worker, {
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
    return recordCompletion(String(stepRun), worker, {
      exitCode: null,
      stdout: rows === null ? "" : JSON.stringify(rows.slice(0, RESULT_ROWS_LIMIT)),
      stderr: "",
      error,
      sqlState,
      result: rows,
    }, instantOf(now));
  },
});
