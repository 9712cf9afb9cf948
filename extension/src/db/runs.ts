// Runs and their step runs: applying the core's decisions (decideRun) to the step_runs
// table. Every change of a run's steps goes through planRun/applyPlans, so the
// step-graph rules live only in the core. Plans are written in batches: a tick that
// fires ten thousand slots writes their first steps with one statement.
import {
  decideRun,
  mayStartQueued,
  type CancelReason,
  type JobDefinition,
  type RunDecision,
  type StepInstanceState,
  type StepStatus,
} from "../core/index.ts";
import { calendarDates, firstSlotFrom, jobVersion } from "./jobs.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

/** A lease lost (worker died) re-queues the step at most this many times; then it counts as failed. */
export const MAX_LOST_LEASES = 3;

export interface RunRow {
  id: string;
  job_id: string;
  job_version: number;
  params: Record<string, unknown>;
  state: string;
  queued_at: Date;
  started_at: Date | null;
  /** The run's deadline as stored (runs.wake_at). */
  wake_at?: Date | null;
  /** Its schedule slot, where the statement read it (NULL for manual runs). */
  slot_at?: Date | null;
}

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

interface NewStepRun {
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
  skipped: "skipped",
  cancelled: "cancelled",
  // A lost attempt is either followed by a newer one, or it failed for good.
  lost: "failed",
};

/** The latest attempt of each instance, as the core sees it. */
export function instanceStates(rows: readonly StepRunRow[], phase: "step" | "check"): StepInstanceState[] {
  const latest = new Map<string, StepRunRow>();
  for (const row of rows) {
    if (row.phase !== phase) continue;
    const seen = latest.get(row.instance);
    if (seen === undefined || row.attempt > seen.attempt) latest.set(row.instance, row);
  }
  return [...latest.values()].map((row) => ({
    id: row.instance,
    status: row.state === "failed" && row.error?.startsWith("timed out") ? "timed_out" : STATUS_OF_ROW[row.state] ?? "running",
    attempt: row.attempt,
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
    startedAtMs: (run.started_at ?? run.queued_at).getTime(),
    nowMs,
    steps: instanceStates(rows, "step"),
    checks: instanceStates(rows, "check"),
  });
  const now = new Date(nowMs).toISOString();
  const labels = job.node !== null ? [...job.labels, `node:${job.node}`] : job.labels;
  const definitionOf = (phase: string, name: string) => (phase === "step" ? job.steps : job.checks).find((w) => w.name === name)!;
  const created: NewStepRun[] = [];
  for (const work of decision.start) {
    const def = definitionOf(work.phase, work.name);
    // Builtins (noop, log) are done by the database in the same transaction.
    const done = def.kind === "builtin";
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

/** How work the core cancels is recorded, by the core's reason: step state and error. */
const CANCELLED_AS: readonly (readonly [CancelReason, "failed" | "cancelled", string])[] = [
  ["step_timeout", "failed", "timed out"],
  ["job_timeout", "cancelled", "run timed out"],
  ["run_cancelled", "cancelled", "run cancelled"],
];

/**
 * Writes plans: new step runs in one statement, time-outs, finished runs (which may let a
 * run held by the overlap queue start). Returns how many step runs became ready.
 */
export function applyPlans(plans: readonly RunPlan[], nowMs: number): number {
  const now = new Date(nowMs).toISOString();
  const created = plans.flatMap((p) => p.created);
  if (created.length > 0) execute(SQL.insertStepRuns, [JSON.stringify(created)]);
  let ready = created.filter((c) => c.state === "ready").length;
  const again: RunPlan[] = [];
  for (const plan of plans) {
    const { decision, run } = plan;
    if (decision.cancel.length > 0) {
      const stopped: { id: string }[] = [];
      for (const [reason, state, error] of CANCELLED_AS) {
        const ids = decision.cancel.filter((c) => c.reason === reason).map((c) => c.id);
        if (ids.length > 0) stopped.push(...(execute(SQL.cancelRunningInstances, [run.id, ids, now, error, state]) as { id: string }[]));
      }
      if (stopped.length > 0) execute(SQL.notifyCancel, [JSON.stringify(stopped.map((s) => s.id))]);
    }
    if (!decision.finished && decision.runDeadlineMs !== (run.wake_at?.getTime() ?? null)) {
      // Only runs of jobs with a time-out have one; finishRun clears it. Kept on the row
      // so that a second plan of the same run in this call does not write it again.
      run.wake_at = decision.runDeadlineMs === null ? null : new Date(decision.runDeadlineMs);
      execute(SQL.setRunWake, [run.id, run.wake_at]);
    }
    if (decision.finished) {
      const state = decision.status === "succeeded" ? "succeeded" : decision.status === "cancelled" ? "cancelled" : "failed";
      execute(SQL.finishRun, [run.id, state, now, decision.reason]);
      rearmAfterSchedules(plan.job, run.job_id, nowMs);
      const waiting = startWaitingRun(plan.job, run.job_id);
      // A run fired ahead of its slot and held back starts at its slot, not before.
      if (waiting !== null) again.push(planRun(waiting, [], Math.max(nowMs, waiting.slot_at?.getTime() ?? nowMs)));
    } else if (plan.created.some((c) => c.state === "succeeded") || (decision.cancel.length > 0)) {
      // A builtin finished in place, or a step timed out: the graph may move on at once.
      const rows = execute(SQL.stepRunsOfRun, [run.id]) as StepRunRow[];
      again.push(planRun(run, rows, nowMs));
    }
  }
  if (again.length > 0) ready += applyPlans(again, nowMs);
  return ready;
}

/** @after schedules fire a fixed delay after a run of their job ends. */
function rearmAfterSchedules(job: JobDefinition, jobId: string, endedAtMs: number): void {
  if (!job.schedules.some((s) => s.kind === "after")) return;
  const calendars = calendarDates();
  for (const row of execute(SQL.afterSchedulesOfJob, [jobId]) as { id: string; position: number }[]) {
    const schedule = job.schedules[row.position];
    if (schedule === undefined) continue;
    const next = firstSlotFrom(schedule, endedAtMs, endedAtMs, calendars);
    execute(SQL.setNextFire, [row.id, next === null ? null : new Date(next)]);
  }
}

/** After a run of the job ended: the oldest run held back by the overlap queue, if it may start now. */
function startWaitingRun(job: JobDefinition, jobId: string): RunRow | null {
  if (job.policies.overlap.mode !== "queue") return null;
  const counts = execute(SQL.countActiveRuns, [jobId])[0] as { running: number; waiting: number };
  if (!mayStartQueued(job.policies.overlap, counts.running, counts.waiting)) return null;
  const waiting = execute(SQL.oldestWaitingRun, [jobId])[0] as RunRow | undefined;
  if (waiting === undefined) return null;
  execute(SQL.releaseWaitingRun, [waiting.id]);
  return { ...waiting, state: "queued" };
}

/** Re-decides one run from its current rows (after a step finished, a lease was lost, …). */
export function advanceRun(run: RunRow, nowMs: number): number {
  const rows = execute(SQL.stepRunsOfRun, [run.id]) as StepRunRow[];
  return applyPlans([planRun(run, rows, nowMs)], nowMs);
}
