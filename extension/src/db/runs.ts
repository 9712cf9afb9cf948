// Runs and their step runs as the core sees them: rows read from the tables, and a plan
// (the core's decideRun for one run) turned into rows to write. Writing plans, and every
// other change of a run's state, is db/lifecycle.ts.
import {
  decideRun,
  SQLSTATE,
  type JobDefinition,
  type RunDecision,
  type StepInstanceState,
  type StepStatus,
} from "../core/index.ts";
import { DATABASE_BUILTINS } from "./builtins.ts";
import { jobVersion } from "./jobs.ts";

export interface RunRow {
  id: string;
  job_id: string;
  job_version: number;
  params: Record<string, unknown>;
  state: string;
  created_at: Date;
  /** NULL while the run is held back (waiting). */
  queued_at: Date | null;
  started_at: Date | null;
  /** The run's deadline as stored (runs.wake_at). */
  wake_at?: Date | null;
  /** Its schedule slot, where the statement read it (NULL for manual runs). */
  slot_at?: Date | null;
  schedule_id?: string | null;
  trigger?: string;
  reason?: string | null;
  /** Someone asked the run to stop (see runs.cancel_mode). */
  cancel_requested_at?: Date | null;
  cancel_mode?: "cancel" | "terminate" | null;
  /** The concurrency group it counts against (runs.concurrency_group). */
  concurrency_group?: string | null;
  /** While waiting: "overlap" or "group" (runs.waiting_for). */
  waiting_for?: "overlap" | "group" | null;
}

/** Run states in which nothing changes any more. */
export const FINAL_RUN_STATES: ReadonlySet<string> = new Set(["succeeded", "failed", "timed_out", "cancelled"]);

export interface StepRunRow {
  id: string;
  step: string;
  instance: string;
  phase: "step" | "check";
  kind: string;
  matrix: Record<string, unknown>;
  params: Record<string, unknown>;
  attempt: number;
  state: string;
  exit_code: number | null;
  sql_state: string | null;
  error: string | null;
  result: Record<string, unknown>[] | null;
  stdout: string;
  stderr: string;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NewStepRun {
  run_id: string;
  step: string;
  instance: string;
  phase: string;
  kind: string;
  matrix: Record<string, unknown>;
  params: Record<string, unknown>;
  attempt: number;
  state: "ready" | "skipped" | "succeeded";
  required_labels: string[];
  ready_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  stdout: string | null;
  error: string | null;
}

export interface RunPlan {
  run: RunRow;
  job: JobDefinition;
  decision: RunDecision;
  created: NewStepRun[];
}

/** The job definition a run follows, with the run's parameters over the job's defaults. */
export function jobForRun(run: Pick<RunRow, "job_id" | "job_version" | "params">): JobDefinition {
  const job = jobVersion(run.job_id, run.job_version);
  const params = run.params ?? {};
  if (Object.keys(params).length === 0) return job;
  return { ...job, parameters: { ...job.parameters, ...(params as JobDefinition["parameters"]) } };
}

const STATUS_OF_ROW: Record<string, StepStatus> = {
  // Ready rows were started by an earlier decision: for the graph they are under way.
  ready: "running",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  timed_out: "timed_out",
  skipped: "skipped",
  cancelled: "cancelled",
  // A lost attempt is either followed by a newer one, or it failed for good.
  lost: "failed",
};

/** The latest attempt of each instance, as the core sees it. */
export function instanceStates(rows: readonly StepRunRow[], phase: "step" | "check"): StepInstanceState[] {
  const latest = new Map<string, StepRunRow>();
  // Attempts handed back at a clean shutdown: they use up no retry (core: handedBack).
  const handedBack = new Map<string, number>();
  for (const row of rows) {
    if (row.phase !== phase) continue;
    const seen = latest.get(row.instance);
    if (seen === undefined || row.attempt > seen.attempt) latest.set(row.instance, row);
    if (row.state === "lost" && row.sql_state === SQLSTATE.handed_back_at_shutdown) handedBack.set(row.instance, (handedBack.get(row.instance) ?? 0) + 1);
  }
  return [...latest.values()].map((row) => ({
    id: row.instance,
    status: STATUS_OF_ROW[row.state] ?? "running",
    attempt: row.attempt,
    handedBack: (handedBack.get(row.instance) ?? 0) - (row.state === "lost" && row.sql_state === SQLSTATE.handed_back_at_shutdown ? 1 : 0),
    startedAtMs: row.started_at?.getTime() ?? null,
    finishedAtMs: row.finished_at?.getTime() ?? null,
    exitCode: row.exit_code,
    output: row.stdout,
    error: row.error,
    rows: (row.result as StepInstanceState["rows"]) ?? null,
  }));
}

function builtinOutput(args: Record<string, unknown>, builtin: string | null): string {
  return builtin === "log" && typeof args.message === "string" ? args.message : "";
}

/** What the core decides for a run, turned into rows to write. `rows` are its step runs so far. */
export function planRun(run: RunRow, rows: readonly StepRunRow[], nowMs: number): RunPlan {
  const job = jobForRun(run);
  const decision = decideRun(job, {
    runId: run.id,
    startedAtMs: (run.started_at ?? run.queued_at ?? run.created_at).getTime(),
    nowMs,
    steps: instanceStates(rows, "step"),
    checks: instanceStates(rows, "check"),
    cancelRequested: run.cancel_requested_at != null,
    cancelReason: run.cancel_requested_at != null ? run.reason ?? null : null,
  });
  const now = new Date(nowMs).toISOString();
  const labels = job.node !== null ? [...job.labels, `node:${job.node}`] : job.labels;
  const definitionOf = (phase: string, name: string) => (phase === "step" ? job.steps : job.checks).find((w) => w.name === name)!;
  const created: NewStepRun[] = [];
  for (const work of decision.start) {
    const def = definitionOf(work.phase, work.name);
    // Builtins noop and log are done by the database in the same transaction; the others
    // (sleep, http, mail, …) are claimed by a supervisor like a shell step.
    const done = def.kind === "builtin" && DATABASE_BUILTINS.includes(def.builtin ?? "");
    created.push({
      run_id: run.id, step: work.name, instance: work.id, phase: work.phase, kind: def.kind, matrix: work.matrix,
      params: work.params, attempt: work.attempt, state: done ? "succeeded" : "ready", required_labels: labels,
      ready_at: done ? null : now, started_at: done ? now : null, finished_at: done ? now : null,
      stdout: done ? builtinOutput(def.args, def.builtin) : null, error: null,
    });
  }
  for (const retry of decision.retry) {
    const def = definitionOf(retry.phase, retry.name);
    const previous = rows.find((r) => r.instance === retry.id && r.phase === retry.phase);
    created.push({
      run_id: run.id, step: retry.name, instance: retry.id, phase: retry.phase, kind: def.kind,
      matrix: previous?.matrix ?? {}, params: previous?.params ?? {}, attempt: retry.attempt, state: "ready",
      required_labels: labels, ready_at: new Date(retry.atMs).toISOString(), started_at: null, finished_at: null,
      stdout: null, error: null,
    });
  }
  for (const skip of decision.skip) {
    const def = definitionOf(skip.phase, skip.name);
    created.push({
      run_id: run.id, step: skip.name, instance: skip.id, phase: skip.phase, kind: def.kind, matrix: {}, params: {},
      attempt: 1, state: "skipped", required_labels: labels, ready_at: null, started_at: null, finished_at: now,
      stdout: null, error: skip.reason,
    });
  }
  return { run, job, decision, created };
}
