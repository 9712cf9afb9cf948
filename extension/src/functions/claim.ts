// Claiming ready steps for a worker (called by tick): the lease is taken in the database,
// and the claim carries everything the supervisor needs to run the step without reading
// any table: the script or argv, environment, time-out; for an SQL step, the role to log
// in as, where, its text and what the database decided about it (exactly once, the run's
// transaction), from which the supervisor renders the messages with the core's renderer
// (core/sql-step.ts, renderClaimedSqlStep): tick, one serial call, does not render them.
import { stepEnvironment, validateBuiltinArgs, type WorkDefinition } from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { secretsUsableBy } from "../db/secrets.ts";
import { resolveTarget, type SqlTarget } from "../db/targets.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";

/** What a supervisor needs to run an SQL step (StepClaim.sql; rendered by renderClaimedSqlStep). */
export interface SqlWork {
  /** The step's SQL as defined (checked at definition time); params are bound into it as literals. */
  text: string;
  /** Sent as psql -f sends a file, one message per statement, without a transaction around them. */
  autonomous: boolean;
  /** The role to log in as: the job's owner, unless a superuser's connection names another. */
  login: string;
  /** Where: all null for the scheduler's own database. */
  target: SqlTarget;
  /**
   * The step's completion commits with its work (the scheduler's own database, not
   * autonomous): exactly once. Otherwise the supervisor reports it afterwards: at least once.
   */
  exactly_once: boolean;
  /** The claim's secret: the supervisor proves with it that it holds the claim. */
  claim: string;
  /**
   * transaction: run — the step runs in its run's transaction, on the connection that holds
   * it; `begins`: this step opens it (the run's first SQL step), and this claim's secret is
   * the one the commit proves (_commit_run). Null for a step with its own transaction.
   */
  run_transaction: { run_id: string; begins: boolean } | null;
}

export interface StepClaim {
  step_run_id: string;
  run_id: string;
  job: string;
  step: string;
  instance: string;
  phase: "step" | "check";
  kind: "sql" | "shell" | "program" | "builtin";
  attempt: number;
  /**
   * Its run's priority (policies.priority): claims come highest first, and a supervisor
   * starts the claims it queued for a slot in that order too.
   */
  priority: number;
  /**
   * The claim's secret (its hash is stored): it proves the holder in tick's reports, e.g.
   * when a claim queued on the supervisor is given back unstarted ("released").
   */
  claim: string;
  /** builtin: its name and arguments as defined (the supervisor normalizes them with the core). */
  builtin: string | null;
  args: Record<string, unknown> | null;
  /** The job's owner: built-ins keep their files in the owner's folder of the working area. */
  owner: string;
  /**
   * builtin and sql: the parameters of this instance (the queue built-in sends them as the
   * job's data; an SQL step's renderer binds them into its text).
   */
  params: Record<string, unknown> | null;
  /** The run's schedule slot (ISO), for scheduled runs: an SQL step sees it as clockwork.slot_at. */
  slot_at: string | null;
  script: string | null;
  argv: string[] | null;
  cwd: string | null;
  env: Record<string, string>;
  /** SQL steps: how to run it (null for other kinds). */
  sql: SqlWork | null;
  /**
   * copy_from, copy_to, queue: where the built-in logs in as the job's owner (its own
   * database, or the queue step's named connection), resolved as for an SQL step.
   */
  owner_work: Pick<SqlWork, "login" | "target"> | null;
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
  /**
   * Shell and program steps after attempt 1: the step runs of the earlier attempts, whose
   * processes (if they ran on this host) must have ended before this one starts.
   */
  earlier_attempts: string[] | null;
}

/** Built-ins that run on a connection logged in as the job's owner, like an SQL step. */
const OWNER_BUILTINS: readonly string[] = ["copy_from", "copy_to", "queue"];

/** A claimed row as the claim statement returns it, before the definition fills it in. */
type ClaimedRow = Pick<StepClaim, "step_run_id" | "run_id" | "job" | "step" | "instance" | "phase" | "kind" | "attempt" | "priority"> & {
  params: Record<string, unknown>;
  lease_expires_at: Date;
  due_at: Date;
  start_at: Date;
  slot_at: Date | null;
  job_id: string;
  job_version: number;
  owner: string;
  claim: string;
  earlier_attempts: string[] | null;
};

/** A claim the database refuses to hand out (its target may no longer be used): failed at once. */
export interface RefusedClaim {
  step_run_id: string;
  run_id: string;
  error: string;
}

/**
 * Claims up to maxClaims steps due by `horizonMs` (≥ now: steps due within it are claimed
 * ahead, to start on time). start_in_ms is stamped by tick when its answer leaves. An SQL
 * step whose target its owner may no longer use is not handed out but returned in `refused`.
 */
export function claimSteps(
  worker: { id: string; labels: string[]; pinned_to?: string | null },
  maxClaims: number,
  nowMs: number,
  horizonMs = nowMs,
): { claimed: Omit<StepClaim, "start_in_ms">[]; refused: RefusedClaim[] } {
  const rows = execute(SQL.claimReadySteps, [worker.id, maxClaims, new Date(nowMs), worker.labels, new Date(Math.max(nowMs, horizonMs)), worker.pinned_to ?? null]) as ClaimedRow[];
  const claimed: Omit<StepClaim, "start_in_ms">[] = [];
  const refused: RefusedClaim[] = [];
  let database: string | undefined;
  const secretsOf = new Map<string, (name: string) => boolean>();
  for (const row of rows) {
    const job = jobVersion(row.job_id, row.job_version);
    const def: WorkDefinition = (row.phase === "step" ? job.steps : job.checks).find((w) => w.name === row.step)!;
    const timeout = def.timeoutMs ?? job.policies.timeoutMs;
    let sql: SqlWork | null = null;
    let ownerWork: Pick<SqlWork, "login" | "target"> | null = null;
    if (row.kind === "builtin" && (def.builtin === "http" || def.builtin === "download")) {
      // The owner's grant of each secret the step names is checked again: one revoked since
      // the job was defined stops the step here, before the supervisor reads the secret.
      const checked = validateBuiltinArgs(def.builtin, def.args, "args");
      const named = checked.ok && (checked.args.builtin === "http" || checked.args.builtin === "download")
        ? Object.values(checked.args.secretHeaders).map((h) => h.env) : [];
      if (named.length > 0) {
        let mayUse = secretsOf.get(row.owner);
        if (mayUse === undefined) secretsOf.set(row.owner, (mayUse = secretsUsableBy(row.owner)));
        const missing = named.filter((name) => !mayUse!(name));
        if (missing.length > 0) {
          refused.push({ step_run_id: row.step_run_id, run_id: row.run_id,
            error: `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} no longer granted to role "${row.owner}" (clockwork.grant_secret)` });
          continue;
        }
      }
    }
    if (row.kind === "builtin" && OWNER_BUILTINS.includes(def.builtin ?? "")) {
      database ??= (execute(SQL.currentDatabase)[0] as { name: string }).name;
      const args = def.args as { connection?: unknown };
      const connection = def.builtin === "queue" && typeof args.connection === "string" ? args.connection : null;
      const target = resolveTarget({ ...def, database: null, conninfo: null, connection }, row.owner, database);
      if ("refusal" in target) {
        refused.push({ step_run_id: row.step_run_id, run_id: row.run_id, error: target.refusal });
        continue;
      }
      ownerWork = { login: target.login, target: target.target };
    }
    if (row.kind === "sql") {
      database ??= (execute(SQL.currentDatabase)[0] as { name: string }).name;
      const target = resolveTarget(def, row.owner, database);
      if ("refusal" in target) {
        refused.push({ step_run_id: row.step_run_id, run_id: row.run_id, error: target.refusal });
        continue;
      }
      let runTransaction: SqlWork["run_transaction"] = null;
      if (job.transaction === "run") {
        // A role mismatch can only fail a step of a run's transaction: skipping it would let
        // the run go on with its transaction on a server in the wrong role. The step's own
        // skip is refused at definition time; its connection's may be set later, so here.
        target.target.on_role_mismatch = "fail";
        // SQL steps of such a run cannot be retried (definition time): a second attempt
        // means the first was lost, and what it did may sit in the run's transaction.
        if (row.attempt > 1) {
          refused.push({ step_run_id: row.step_run_id, run_id: row.run_id,
            error: `attempt ${row.attempt - 1} of this step was lost inside the run's transaction (transaction: run), which cannot go on: the run fails and its transaction is rolled back` });
          continue;
        }
        const opened = execute(SQL.openRunTransaction, [row.run_id, worker.id, row.step_run_id, new Date(nowMs)]).length > 0;
        runTransaction = { run_id: row.run_id, begins: opened };
      }
      const local = target.target.database === null && target.target.connection === null && target.target.conninfo === null;
      const exactlyOnce = local && !def.autonomous && runTransaction === null;
      sql = { text: def.sql!, autonomous: def.autonomous, login: target.login, target: target.target, exactly_once: exactlyOnce, claim: row.claim, run_transaction: runTransaction };
    }
    claimed.push({
      step_run_id: row.step_run_id,
      run_id: row.run_id,
      job: row.job,
      step: row.step,
      instance: row.instance,
      phase: row.phase,
      kind: row.kind,
      attempt: row.attempt,
      priority: row.priority,
      claim: row.claim,
      builtin: def.builtin,
      args: def.kind === "builtin" ? def.args : null,
      owner: row.owner,
      params: def.kind === "builtin" || row.kind === "sql" ? row.params : null,
      slot_at: row.slot_at?.toISOString() ?? null,
      script: def.shell,
      argv: def.program,
      cwd: null,
      env: row.kind === "sql" ? {} : stepEnvironment(row.params, def.env, {
        job: row.job, runId: row.run_id, step: row.step, instance: row.instance, stepRunId: row.step_run_id,
        attempt: row.attempt, slotAtMs: row.slot_at?.getTime() ?? null,
      }),
      sql,
      owner_work: ownerWork,
      timeout_ms: timeout,
      lease_expires_at: row.lease_expires_at.toISOString(),
      due_at: row.due_at.toISOString(),
      start_at: row.start_at.toISOString(),
      earlier_attempts: row.earlier_attempts,
    });
  }
  return { claimed, refused };
}
