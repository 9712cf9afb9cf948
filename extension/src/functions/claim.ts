// Claiming ready steps for a worker (called by tick): the lease is taken in the database,
// and the claim carries everything the supervisor needs to run the step without reading
// any table: the script or argv, environment, time-out.
import type { WorkDefinition } from "../core/index.ts";
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
}

/** A claimed row as the claim statement returns it, before the definition fills it in. */
type ClaimedRow = Pick<StepClaim, "step_run_id" | "run_id" | "job" | "step" | "instance" | "phase" | "kind" | "attempt"> & {
  params: Record<string, unknown>;
  lease_expires_at: Date;
  slot_at: Date | null;
  job_id: string;
  job_version: number;
};

/** Environment of a shell or program step: its parameters by name, then Clockwork's own. */
function environmentOf(row: ClaimedRow, def: WorkDefinition): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(row.params)) {
    env[name] = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  Object.assign(env, def.env);
  env.CLOCKWORK_JOB = row.job;
  env.CLOCKWORK_RUN_ID = row.run_id;
  env.CLOCKWORK_STEP = row.step;
  env.CLOCKWORK_INSTANCE = row.instance;
  env.CLOCKWORK_STEP_RUN_ID = row.step_run_id;
  env.CLOCKWORK_ATTEMPT = String(row.attempt);
  if (row.slot_at !== null) env.CLOCKWORK_SLOT_AT = row.slot_at.toISOString();
  return env;
}

export function claimSteps(worker: { id: string; labels: string[] }, maxClaims: number, nowMs: number): StepClaim[] {
  const rows = execute(SQL.claimReadySteps, [worker.id, maxClaims, new Date(nowMs), worker.labels]) as ClaimedRow[];
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
      env: row.kind === "sql" ? {} : environmentOf(row, def),
      timeout_ms: timeout,
      lease_expires_at: row.lease_expires_at.toISOString(),
    };
  });
}
