// Claiming ready steps for a worker (called by tick): the lease is taken in the database,
// and the claim carries everything the supervisor needs to run the step without reading
// any table: the script or argv, environment, time-out.
import { stepEnvironment, type WorkDefinition } from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";

export interface StepClaim {
  step_run_id: string;
  run_id: string;
  job: string;
  step: string;
  instance: string;
  phase: "step" | "check";
  kind: "sql" | "shell" | "program";
  attempt: number;
  script: string | null;
  argv: string[] | null;
  cwd: string | null;
  env: Record<string, string>;
  timeout_ms: number | null;
  lease_expires_at: string;
  /** When the step became due (ready). */
  due_at: string;
  /** When the step is to start: its due time, or the claim's time for a step already due. */
  start_at: string;
  /**
   * start_at as milliseconds from the moment tick's answer left, by the database's clock
   * (0 to 1000), so that a supervisor whose clock differs still starts the step on time.
   */
  start_in_ms: number;
}

/** A claimed row as the claim statement returns it, before the definition fills it in. */
type ClaimedRow = Pick<StepClaim, "step_run_id" | "run_id" | "job" | "step" | "instance" | "phase" | "kind" | "attempt"> & {
  params: Record<string, unknown>;
  lease_expires_at: Date;
  due_at: Date;
  start_at: Date;
  slot_at: Date | null;
  job_id: string;
  job_version: number;
};

/**
 * Claims up to maxClaims steps due by `horizonMs` (≥ now: steps due within it are claimed
 * ahead, to start on time). start_in_ms is stamped by tick when its answer leaves.
 */
export function claimSteps(worker: { id: string; labels: string[]; pinned_to?: string | null }, maxClaims: number, nowMs: number, horizonMs = nowMs): Omit<StepClaim, "start_in_ms">[] {
  const rows = execute(SQL.claimReadySteps, [worker.id, maxClaims, new Date(nowMs), worker.labels, new Date(Math.max(nowMs, horizonMs)), worker.pinned_to ?? null]) as ClaimedRow[];
  return rows.map((row) => {
    const job = jobVersion(row.job_id, row.job_version);
    const def: WorkDefinition = (row.phase === "step" ? job.steps : job.checks).find((w) => w.name === row.step)!;
    const timeout = def.timeoutMs ?? job.policies.timeoutMs;
    return {
      step_run_id: row.step_run_id,
      run_id: row.run_id,
      job: row.job,
      step: row.step,
      instance: row.instance,
      phase: row.phase,
      kind: row.kind,
      attempt: row.attempt,
      script: def.shell,
      argv: def.program,
      cwd: null,
      env: row.kind === "sql" ? {} : stepEnvironment(row.params, def.env, {
        job: row.job, runId: row.run_id, step: row.step, instance: row.instance, stepRunId: row.step_run_id,
        attempt: row.attempt, slotAtMs: row.slot_at?.getTime() ?? null,
      }),
      timeout_ms: timeout,
      lease_expires_at: row.lease_expires_at.toISOString(),
      due_at: row.due_at.toISOString(),
      start_at: row.start_at.toISOString(),
    };
  });
}
