// The step-graph engine: one pure function, decideRun, that takes a validated job and the
// current state of one run's step instances and says what to start, what to skip (and why),
// what to retry and when, what to cancel, and whether the run is finished with which status.
// The same function drives every run, whoever executes the steps.
//
// Rules:
//  - A step instance starts when every step it depends on is settled (all instances done,
//    retries exhausted) and none of them failed for good with on_error=fail.
//  - on_error: fail → the run fails: nothing new starts, running work finishes;
//    continue → the failure is ignored (pgAgent 'i'); succeed → it counts as success ('s').
//  - A dependency that was skipped skips its dependents, unless they have a `when`, which
//    then decides (it can test `dep.status == "skipped"`).
//  - `when` sees each dependency's result: status (on_error=succeed shows "succeeded"),
//    exit_code, output, error, rows, row, attempts; and `params` (job, step, matrix values).
//  - Checks run after all steps settled without failure, one instance at a time, in order;
//    the first failing check fails the run.
//  - An SQL step skipped by its supervisor because its server was not in the expected role,
//    with on_role_mismatch skip_run, ends the run: the rest is skipped (run_skipped) and the
//    run succeeds.
//  - transaction "run": one instance at a time, in dependency order (they share one transaction).

import type { JobDefinition, StepDefinition, CheckDefinition, WorkDefinition } from "./definition.ts";
import { expandMatrix, bindNamedParameters, stepEnvironment, type MatrixInstance, type BoundSql } from "./params.ts";
import { evaluateExpression, type Scalar, type Value } from "./expression.ts";
import { decideRetry } from "./policies.ts";
import { formatInterval } from "./interval.ts";

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "timed_out" | "skipped" | "cancelled";

/** What the database knows about one step (or check) instance of a run. */
export interface StepInstanceState {
  /** Instance id as produced by expandMatrix: `name` or `name[key=value,…]`. */
  id: string;
  status: StepStatus;
  /** Attempts started so far (1 after the first start). */
  attempt: number;
  /**
   * Of the attempts before the latest, how many were handed back at a clean shutdown of
   * their supervisor (handed_back_at_shutdown): not the step's doing, so they do not count
   * against its retries.
   */
  handedBack?: number;
  startedAtMs?: number | null;
  finishedAtMs?: number | null;
  exitCode?: number | null;
  output?: string | null;
  error?: string | null;
  /** SQL steps: result rows. */
  rows?: ReadonlyArray<Record<string, Value>> | null;
}

export interface RunState {
  runId: string;
  startedAtMs: number;
  nowMs: number;
  steps: readonly StepInstanceState[];
  checks?: readonly StepInstanceState[];
  /** Someone asked to cancel the run. */
  cancelRequested?: boolean;
  /** Why, for the run's reason when it ends cancelled (default "run cancelled"). */
  cancelReason?: string | null;
}

export type Phase = "step" | "check";

export interface StartWork {
  phase: Phase;
  id: string;
  name: string;
  attempt: number;
  kind: WorkDefinition["kind"];
  /** Matrix values of this instance. */
  matrix: Record<string, Scalar>;
  /** Job parameters, overridden by step parameters, overridden by matrix values. */
  params: Record<string, Scalar>;
  /** When this attempt must be stopped (step or job time-out), or null. */
  deadlineMs: number | null;
  /** sql: the statement with :name bound to $n, and the values. */
  sql?: BoundSql;
  /**
   * shell/program: the environment to add (see stepEnvironment): parameters and matrix values
   * under their names, the step's env, and CLOCKWORK_RUN_ID, CLOCKWORK_STEP (the step's name),
   * CLOCKWORK_INSTANCE (the instance id), CLOCKWORK_ATTEMPT.
   */
  env?: Record<string, string>;
}

export interface RetryLater {
  phase: Phase;
  id: string;
  name: string;
  attempt: number;
  atMs: number;
}

export type SkipReason = "condition_false" | "dependency_skipped" | "run_failed" | "run_timed_out" | "run_cancelled" | "run_skipped";

export interface SkipWork {
  phase: Phase;
  id: string;
  name: string;
  reason: SkipReason;
}

export type CancelReason = "step_timeout" | "job_timeout" | "run_cancelled";

export interface CancelWork {
  phase: Phase;
  id: string;
  name: string;
  reason: CancelReason;
}

export type RunStatus = "running" | "succeeded" | "failed" | "timed_out" | "cancelled";

/**
 * How a finished attempt counts, where that differs from how it ended: a check that exited
 * with its expected non-zero code passed; a check that exited 0 without its expected output
 * failed; a step that failed for good with on_error "succeed" counts as a success. Whoever
 * stores attempts records this state, so history shows what the run decided.
 */
export interface AttemptVerdict {
  phase: Phase;
  id: string;
  attempt: number;
  state: "succeeded" | "failed";
  /** Why, for the attempt's row (e.g. `counted as success (on_error: succeed)`). */
  note: string;
}

export interface RunDecision {
  start: StartWork[];
  retry: RetryLater[];
  skip: SkipWork[];
  cancel: CancelWork[];
  /** Finished attempts that count otherwise than they ended (see AttemptVerdict). */
  verdicts: AttemptVerdict[];
  /** True when nothing is running or left to do. */
  finished: boolean;
  status: RunStatus;
  /** Why the run failed / timed out, for the run's row. */
  reason: string | null;
  /** Earliest time the decision may change without any event (a retry or a deadline). */
  nextWakeMs: number | null;
  /**
   * The run's own deadline (its job's time-out) while it is not finished. Nothing else
   * happens at that time (no step reports), so whoever stores runs must decide the run
   * again then; step time-outs are enforced where the step runs.
   */
  runDeadlineMs: number | null;
}

interface Instance {
  phase: Phase;
  def: WorkDefinition;
  m: MatrixInstance;
  state: StepInstanceState;
}

const expansionCache = new WeakMap<WorkDefinition, MatrixInstance[]>();
function instancesOf(def: WorkDefinition): MatrixInstance[] {
  let e = expansionCache.get(def);
  if (e === undefined) {
    e = expandMatrix(def.name, def.matrix);
    expansionCache.set(def, e);
  }
  return e;
}

/** All instance ids of a job's steps and checks, in order: what a new run starts with. */
export function runInstances(job: JobDefinition): Array<{ phase: Phase; id: string; name: string; matrix: Record<string, Scalar> }> {
  const out: Array<{ phase: Phase; id: string; name: string; matrix: Record<string, Scalar> }> = [];
  for (const s of job.steps) for (const m of instancesOf(s)) out.push({ phase: "step", id: m.id, name: s.name, matrix: m.values });
  for (const c of job.checks) for (const m of instancesOf(c)) out.push({ phase: "check", id: m.id, name: c.name, matrix: m.values });
  return out;
}

const TERMINAL = new Set<StepStatus>(["succeeded", "failed", "timed_out", "skipped", "cancelled"]);

/** Result visible to conditions for one step, aggregated over its instances. */
function stepResult(step: StepDefinition, insts: Instance[]): Record<string, Value> {
  const statuses = insts.map((i) => i.state.status);
  let status: string;
  if (statuses.every((s) => s === "skipped")) status = "skipped";
  else if (statuses.some((s) => s === "failed" || s === "timed_out" || s === "cancelled")) {
    status = step.onError === "succeed" ? "succeeded" : statuses.includes("timed_out") && !statuses.includes("failed") ? "timed_out" : "failed";
  } else status = "succeeded";
  const codes = insts.map((i) => i.state.exitCode ?? null);
  const nonZero = codes.find((x) => x !== null && x !== 0);
  const rows = insts.flatMap((i) => (i.state.rows ?? []) as Array<Record<string, Value>>);
  return {
    status,
    exit_code: nonZero ?? (codes.every((x) => x === null) ? null : 0),
    output: insts.map((i) => i.state.output ?? "").filter((o) => o !== "").join("\n"),
    error: insts.map((i) => i.state.error ?? "").filter((o) => o !== "").join("\n") || null,
    rows,
    row: rows[0] ?? null,
    attempts: Math.max(0, ...insts.map((i) => i.state.attempt)),
  };
}

function paramsFor(job: JobDefinition, def: WorkDefinition, m: MatrixInstance): Record<string, Scalar> {
  return { ...job.parameters, ...def.parameters, ...m.values };
}

function startWork(job: JobDefinition, runId: string, phase: Phase, def: WorkDefinition, m: MatrixInstance, attempt: number, deadlineMs: number | null): StartWork {
  const params = paramsFor(job, def, m);
  const w: StartWork = { phase, id: m.id, name: def.name, attempt, kind: def.kind, matrix: m.values, params, deadlineMs };
  if (def.kind === "sql" && def.sql !== null) w.sql = bindNamedParameters(def.sql, params);
  if (def.kind === "shell" || def.kind === "program") {
    w.env = stepEnvironment(params, def.env, { runId, step: def.name, instance: m.id, attempt });
  }
  return w;
}

/** Whether a finished check instance passed. */
export function checkPassed(check: CheckDefinition, state: StepInstanceState): { passed: boolean; why: string | null } {
  if (state.status === "skipped") return { passed: true, why: null };
  if (state.status === "timed_out" || state.status === "cancelled") return { passed: false, why: `check "${state.id}" ${state.status === "timed_out" ? "timed out" : "was cancelled"}` };
  if (state.exitCode != null) {
    if (state.exitCode !== check.expectedExitCode) return { passed: false, why: `check "${state.id}" exited with ${state.exitCode}, expected ${check.expectedExitCode}` };
  } else if (state.status !== "succeeded") return { passed: false, why: `check "${state.id}" failed${state.error ? `: ${state.error}` : ""}` };
  const output = state.output ?? "";
  for (const e of check.expected) if (!output.includes(e)) return { passed: false, why: `check "${state.id}" output lacks expected ${JSON.stringify(e)}` };
  for (const u of check.unexpected) if (output.includes(u)) return { passed: false, why: `check "${state.id}" output contains unexpected ${JSON.stringify(u)}` };
  return { passed: true, why: null };
}

/** Decides the next moves of one run. Pure: same inputs, same decision. */
export function decideRun(job: JobDefinition, run: RunState): RunDecision {
  const now = run.nowMs;
  const d: RunDecision = { start: [], retry: [], skip: [], cancel: [], verdicts: [], finished: false, status: "running", reason: null, nextWakeMs: null, runDeadlineMs: null };
  const wake = (t: number): void => {
    if (d.nextWakeMs === null || t < d.nextWakeMs) d.nextWakeMs = t;
  };
  const known = new Map<string, StepInstanceState>();
  for (const s of run.steps) known.set(`step:${s.id}`, s);
  for (const s of run.checks ?? []) known.set(`check:${s.id}`, s);
  const stateOf = (phase: Phase, id: string): StepInstanceState => known.get(`${phase}:${id}`) ?? { id, status: "pending", attempt: 0 };

  const byStep = new Map<string, Instance[]>();
  for (const s of job.steps) byStep.set(s.name, instancesOf(s).map((m) => ({ phase: "step", def: s, m, state: stateOf("step", m.id) })));
  const checkInstances: Array<Instance & { def: CheckDefinition }> = [];
  for (const c of job.checks) for (const m of instancesOf(c)) checkInstances.push({ phase: "check", def: c, m, state: stateOf("check", m.id) });
  const all: Instance[] = [...[...byStep.values()].flat(), ...checkInstances];
  const running = all.filter((i) => i.state.status === "running");

  const jobDeadline = job.policies.timeoutMs === null ? null : run.startedAtMs + job.policies.timeoutMs;
  const deadlineFor = (def: WorkDefinition, startedAt: number): number | null => {
    const own = def.timeoutMs === null ? null : startedAt + def.timeoutMs;
    if (own === null) return jobDeadline;
    return jobDeadline === null ? own : Math.min(own, jobDeadline);
  };
  // Pending work never starts once the run is failing, timed out or cancelled; instances
  // waiting for a retry simply are not retried.
  const skipPending = (reason: SkipReason): void => {
    for (const i of all) if (i.state.status === "pending") d.skip.push({ phase: i.phase, id: i.m.id, name: i.def.name, reason });
  };
  const finishIfIdle = (status: RunStatus, reason: string | null): RunDecision => {
    d.status = running.length === 0 ? status : "running";
    d.reason = reason;
    d.finished = running.length === 0;
    if (d.finished) d.nextWakeMs = null;
    d.runDeadlineMs = d.finished ? null : d.runDeadlineMs;
    return d;
  };

  // Retry bookkeeping: a failed attempt with attempts left is not settled.
  const maxAttempts = (i: Instance): number => {
    if (i.phase === "check") return 1;
    const s = i.def as StepDefinition;
    return s.retries !== null ? s.retries + 1 : job.policies.retry.attempts;
  };
  function retryDue(i: Instance): number | null {
    if (i.state.status !== "failed" && i.state.status !== "timed_out") return null;
    // Attempts handed back at a shutdown are not the step's: they use up no retry.
    const counted = Math.max(1, i.state.attempt - (i.state.handedBack ?? 0));
    const r = decideRetry({ ...job.policies.retry, attempts: maxAttempts(i) }, counted, i.state.finishedAtMs ?? now, `${run.runId}/${i.m.id}`);
    return r.retry ? r.atMs : null;
  }

  // 0. Verdicts: finished attempts that count otherwise than they ended.
  for (const i of all) {
    const st = i.state.status;
    if (i.phase === "check" && (st === "succeeded" || st === "failed")) {
      const verdict = checkPassed(i.def as CheckDefinition, i.state);
      if (verdict.passed && st === "failed") {
        const code = i.state.exitCode;
        d.verdicts.push({ phase: "check", id: i.m.id, attempt: i.state.attempt, state: "succeeded", note: code != null ? `check passed: exit code ${code} was expected` : "check passed" });
      } else if (!verdict.passed && st === "succeeded") {
        d.verdicts.push({ phase: "check", id: i.m.id, attempt: i.state.attempt, state: "failed", note: verdict.why ?? "check failed" });
      }
    } else if (i.phase === "step" && (st === "failed" || st === "timed_out") && (i.def as StepDefinition).onError === "succeed" && retryDue(i) === null) {
      d.verdicts.push({ phase: "step", id: i.m.id, attempt: i.state.attempt, state: "succeeded", note: "counted as success (on_error: succeed)" });
    }
  }

  // 1. Cancellation and the whole-run time-out stop everything that is left; a run whose
  // work is all done keeps the status its work earned.
  // A run whose instances were cancelled was cut short by the deadline or the request.
  const workLeft = all.some((i) => i.state.status === "pending" || i.state.status === "running" || i.state.status === "cancelled" || retryDue(i) !== null);
  // A run asked to stop ends cancelled unless all its work was done well before: a step
  // that failed or was lost after the request was stopped by it.
  const allWell = all.every((i) => i.state.status === "succeeded" || i.state.status === "skipped");
  if (run.cancelRequested === true && (workLeft || !allWell)) {
    for (const i of running) d.cancel.push({ phase: i.phase, id: i.m.id, name: i.def.name, reason: "run_cancelled" });
    // A run cancelled before anything started (held back by its overlap policy or group)
    // has no work to mark as skipped.
    if (all.some((i) => i.state.status !== "pending")) skipPending("run_cancelled");
    return finishIfIdle("cancelled", run.cancelReason ?? "run cancelled");
  }
  if (jobDeadline !== null && now >= jobDeadline && workLeft) {
    for (const i of running) d.cancel.push({ phase: i.phase, id: i.m.id, name: i.def.name, reason: "job_timeout" });
    skipPending("run_timed_out");
    return finishIfIdle("timed_out", `run exceeded its time-out of ${formatInterval(job.policies.timeoutMs!)}`);
  }
  if (jobDeadline !== null) {
    wake(jobDeadline);
    d.runDeadlineMs = jobDeadline;
  }

  // 2. Step time-outs of running instances.
  for (const i of running) {
    const deadline = deadlineFor(i.def, i.state.startedAtMs ?? now);
    if (deadline !== null && now >= deadline) d.cancel.push({ phase: i.phase, id: i.m.id, name: i.def.name, reason: "step_timeout" });
    else if (deadline !== null) wake(deadline);
  }

  // 3. Settle steps: per instance, done for good or not.
  type Outcome = "open" | "succeeded" | "ignored" | "failed" | "skipped";
  const outcomeOf = (i: Instance): Outcome => {
    const st = i.state.status;
    if (st === "succeeded") return "succeeded";
    if (st === "skipped") return "skipped";
    if (st === "failed" || st === "timed_out" || st === "cancelled") {
      if (st !== "cancelled" && retryDue(i) !== null) return "open";
      const oe = (i.def as StepDefinition).onError;
      return oe === "continue" ? "ignored" : oe === "succeed" ? "succeeded" : "failed";
    }
    return "open";
  };
  const stepOutcome = new Map<string, Outcome>();
  let failure: string | null = null;
  for (const s of job.steps) {
    const outs = byStep.get(s.name)!.map(outcomeOf);
    let o: Outcome;
    if (outs.includes("failed")) {
      o = "failed";
      const bad = byStep.get(s.name)!.find((i) => outcomeOf(i) === "failed")!;
      failure ??= `step "${bad.m.id}" ${bad.state.status === "timed_out" ? "timed out" : bad.state.status === "cancelled" ? "was cancelled" : "failed"}${bad.state.error ? `: ${bad.state.error}` : bad.state.exitCode != null ? ` with exit code ${bad.state.exitCode}` : ""}`;
    } else if (outs.includes("open")) o = "open";
    else if (outs.every((x) => x === "skipped")) o = "skipped";
    else if (outs.includes("ignored")) o = "ignored";
    else o = "succeeded";
    stepOutcome.set(s.name, o);
  }

  // A step whose server was not in the role it expected, with on_role_mismatch skip_run,
  // ends the run: nothing more starts, and the run succeeds (a PgQuartz job runs only where
  // its connections have their roles: runOnRoleError false). Only the supervisor skips a
  // step that started; the graph's own skips never start it.
  const gate = all.find((i) => i.phase === "step" && i.state.status === "skipped" && i.state.startedAtMs != null && (i.def as StepDefinition).onRoleMismatch === "skip_run");
  if (gate !== undefined) {
    skipPending("run_skipped");
    return finishIfIdle("succeeded", `step "${gate.m.id}" skipped the run (on_role_mismatch: skip_run): ${(gate.state.error ?? "its server is not in the expected role").replace(/^skipped: /, "")}`);
  }

  if (failure !== null) {
    skipPending("run_failed");
    return finishIfIdle("failed", failure);
  }

  // 4. Start, retry or skip step instances.
  const serial = job.transaction === "run";
  let busy = running.length > 0;
  const results = new Map<string, Record<string, Value>>();
  const resultOf = (name: string): Record<string, Value> => {
    let r = results.get(name);
    if (r === undefined) {
      const step = job.steps.find((s) => s.name === name)!;
      r = stepResult(step, byStep.get(name)!);
      results.set(name, r);
    }
    return r;
  };
  // Outcomes decided in this pass (skips) count for later steps in the same pass.
  for (const name of job.order) {
    const step = job.steps.find((s) => s.name === name)!;
    const insts = byStep.get(name)!;
    const depOutcomes = step.depends.map((x) => stepOutcome.get(x)!);
    if (depOutcomes.includes("open") || depOutcomes.includes("failed")) continue;
    const depSkipped = depOutcomes.includes("skipped");
    let skippedAll = true;
    let anyOpen = false;
    for (const i of insts) {
      const st = i.state.status;
      if (st === "pending") {
        let reason: SkipReason | null = null;
        if (step.whenAst !== null) {
          const params = paramsFor(job, step, i.m);
          const ok = evaluateExpression(step.whenAst, (root) => (root === "params" ? params : step.depends.includes(root) || isAncestor(job, step, root) ? resultOf(root) : undefined));
          if (!ok) reason = "condition_false";
        } else if (depSkipped) reason = "dependency_skipped";
        if (reason !== null) {
          d.skip.push({ phase: "step", id: i.m.id, name, reason });
          // Dependents later in this pass see the skip (a copy: the caller's state is not touched).
          i.state = { ...i.state, status: "skipped" };
          continue;
        }
        skippedAll = false;
        anyOpen = true;
        if (serial && busy) continue;
        d.start.push(startWork(job, run.runId, "step", step, i.m, 1, deadlineFor(step, now)));
        busy = true;
      } else if (st === "failed" || st === "timed_out") {
        skippedAll = false;
        const at = retryDue(i);
        if (at === null) continue;
        anyOpen = true;
        if (at <= now && !(serial && busy)) {
          d.start.push(startWork(job, run.runId, "step", step, i.m, i.state.attempt + 1, deadlineFor(step, now)));
          busy = true;
        } else if (at > now) {
          d.retry.push({ phase: "step", id: i.m.id, name, attempt: i.state.attempt + 1, atMs: at });
          wake(at);
        }
      } else if (st === "running") {
        skippedAll = false;
        anyOpen = true;
      } else if (st !== "skipped") skippedAll = false;
    }
    // Let dependents in this same pass see skips and settle without another round trip.
    if (!anyOpen) stepOutcome.set(name, skippedAll ? "skipped" : stepOutcome.get(name) === "open" ? "succeeded" : stepOutcome.get(name)!);
  }
  const stepsSettled = job.steps.every((s) => {
    const o = stepOutcome.get(s.name);
    return o !== "open" && byStep.get(s.name)!.every((i) => i.state.status !== "running" && (i.state.status !== "pending" || d.skip.some((k) => k.id === i.m.id && k.phase === "step")));
  });
  if (!stepsSettled || d.start.length > 0) return d;

  // 5. Checks, in series.
  for (const c of checkInstances) {
    const st = c.state.status;
    if (st === "running") return d;
    if (st === "pending") {
      d.start.push(startWork(job, run.runId, "check", c.def, c.m, 1, deadlineFor(c.def, now)));
      return d;
    }
    const verdict = checkPassed(c.def, c.state);
    if (!verdict.passed) {
      for (const rest of checkInstances) if (rest.state.status === "pending") d.skip.push({ phase: "check", id: rest.m.id, name: rest.def.name, reason: "run_failed" });
      return finishIfIdle("failed", verdict.why);
    }
  }
  return finishIfIdle("succeeded", null);
}

function isAncestor(job: JobDefinition, step: StepDefinition, name: string): boolean {
  const seen = new Set<string>();
  const stack = [...step.depends];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === name) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    const s = job.steps.find((x) => x.name === n);
    if (s !== undefined) stack.push(...s.depends);
  }
  return false;
}
