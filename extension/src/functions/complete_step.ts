// clockwork.complete_step: a worker reports how a step it holds ended. The report is a set
// of facts; the run's lifecycle (db/lifecycle.ts) records them, fenced by the lease, and
// decides the run. A late report from a worker whose lease expired (the step was handed to
// another) or whose run was cancelled is refused, not applied.
import { recordStepEnd, type StepEnd } from "../db/lifecycle.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { instantOf } from "../db/values.ts";
import { currentWorkerId, type WorkerRef } from "../db/workers.ts";

export type Completion = StepEnd;

const COMMENT =
  "A worker reports the end of a shell or program step it holds (exit code, remaining output, error text, stopped_by: timeout, cancel or none; without stopped_by, an older supervisor's error starting with \"timed out\" marks a time-out); returns {accepted, state, run_state}, {accepted:false} when its lease was taken over or its run cancelled.";

function completeFor(ref: WorkerRef, stepRun: string | number | bigint, exitCode: number | null, stdout: string | null, stderr: string | null, error: string | null, now: Date, stoppedBy: string | null): Completion {
  const workerId = currentWorkerId(ref);
  if (workerId === null) return { accepted: false };
  return recordStepEnd(String(stepRun), workerId, {
    exitCode, stdout: stdout ?? "", stderr: stderr ?? "", error, stoppedBy, sqlState: null, result: null,
  }, instantOf(now));
}

// stopped_by comes last, with a default, so that a supervisor older than it (its call has
// six arguments) still reaches this function: it passes NULL, and the error decides.
const ARGS_TAIL = "exit_code integer, stdout text DEFAULT '', stderr text DEFAULT '', error text DEFAULT NULL, now timestamptz DEFAULT now(), stopped_by text DEFAULT NULL";

/** complete_step(step_run, worker_id bigint, …): a supervisor's report, fenced by its incarnation. */
export const complete_step_by_id = sqlFunction({
  name: "complete_step",
  entry: "complete_step_by_id",
  args: `step_run bigint, worker_id bigint, ${ARGS_TAIL}`,
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment: `${COMMENT} Only the current incarnation holding the lease is accepted.`,
  body: (stepRun: string | number | bigint, workerId: string | number | bigint, exitCode: number | null, stdout: string | null, stderr: string | null, error: string | null, now: Date, stoppedBy: string | null): Completion =>
    completeFor({ id: String(workerId) }, stepRun, exitCode, stdout, stderr, error, now, stoppedBy),
});

/** complete_step(step_run, worker text, …): by name, the worker's current incarnation. */
export const complete_step = sqlFunction({
  name: "complete_step",
  args: `step_run bigint, worker text, ${ARGS_TAIL}`,
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment: `${COMMENT} By name: the worker's current incarnation (supervisors pass their incarnation id).`,
  body: (stepRun: string | number | bigint, worker: string, exitCode: number | null, stdout: string | null, stderr: string | null, error: string | null, now: Date, stoppedBy: string | null): Completion =>
    completeFor({ name: worker }, stepRun, exitCode, stdout, stderr, error, now, stoppedBy),
});
