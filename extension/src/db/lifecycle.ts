// The run lifecycle: the one place where runs and step runs change state. Every way a run
// or a step ends comes here (a step's report, a check, a retry, a time-out, a lost lease,
// cancel_run, an overlap policy replacing a run, disable_job, drop_job), is decided by the
// core's decideRun, and is written by applyPlans. When a run ends, afterRunEnded re-arms
// the job's @after schedules and releases runs held back for it, here and nowhere else.
// docs/state-machine.md lists the states and transitions; a test checks it against this code.
//
// Concurrency. Two sessions must never decide about one job from views that miss each
// other's writes: a run ending while a tick fires the job's next slot must not leave that
// slot's run waiting for an end that has already happened. So whoever decides holds, in
// this order:
//   1. the run rows concerned (FOR NO KEY UPDATE, by id),
//   2. the job's row in clockwork.jobs (lockJobs; a row lock, which job owners cannot take),
//   3. then writes step, schedule and new run rows of that job.
// API calls (complete_step, cancel_run, disable_job, drop_job, run_now) wait for these
// locks. tick never waits: it skips runs and jobs that are locked (SKIP LOCKED, try-lock)
// and leaves them to its next call, which the supervisor makes at once since they stay due.
// While holding a job's lock nobody waits for a run row (SKIP LOCKED), so no cycle forms.
import { alertsAfterRunsEnded } from "./alerts.ts";
import { admitGroups, waitingForGroupReason } from "./groups.ts";
import { calendarDates, firstSlotFrom, jobVersion } from "./jobs.ts";
import { FINAL_RUN_STATES, jobForRun, planRun, type RunPlan, type RunRow, type StepRunRow } from "./runs.ts";
import { endOfRunTransaction } from "./run-transactions.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";
import { overlapLimit, runInstances, SQLSTATE, type CancelReason, type JobDefinition, type RunDecision } from "../core/index.ts";

/**
 * A lease lost (worker died) re-queues the step at most this many times; then it counts as
 * failed. A step handed back at a clean shutdown (handed_back_at_shutdown) is not counted.
 */
export const MAX_LOST_LEASES = 3;

/** API calls wait for locks; tick skips what another session holds. */
export type LockMode = "wait" | "skip";

/** How a run is stopped: at once, or by telling its running steps and waiting for them. */
export type CancelMode = "terminate" | "cancel";

// --- locks ------------------------------------------------------------------------------

/** Takes the per-job locks (sorted, so two sessions cannot deadlock); returns the jobs held. */
export function lockJobs(jobIds: readonly string[], mode: LockMode): Set<string> {
  const unique = [...new Set(jobIds)];
  if (unique.length === 0) return new Set();
  if (mode === "wait") {
    execute(SQL.lockJobs, [unique]);
    return new Set(unique);
  }
  const rows = execute(SQL.tryLockJobs, [unique]) as { job_id: string; locked: boolean }[];
  return new Set(rows.filter((r) => r.locked).map((r) => r.job_id));
}

/**
 * Locks runs and then their jobs, as every decision about a run needs. With mode "skip",
 * runs or jobs held elsewhere are left out (and stay due for the next tick).
 */
export function lockRunsForDecision(runIds: readonly string[], mode: LockMode): RunRow[] {
  if (runIds.length === 0) return [];
  const runs = execute(mode === "wait" ? SQL.lockRuns : SQL.lockRunsSkipLocked, [[...new Set(runIds)]]) as RunRow[];
  const held = lockJobs(runs.map((r) => r.job_id), mode);
  return runs.filter((r) => held.has(r.job_id));
}

// --- deciding ---------------------------------------------------------------------------

/**
 * Decides runs again from their current rows and writes what the core says: new and
 * skipped steps, retries, stopped work, verdicts, the run's end. The caller holds the
 * locks (lockRunsForDecision). A run held back (waiting) is decided only to cancel it.
 * Returns how many step runs became ready.
 */
export function decideRuns(runs: readonly RunRow[], nowMs: number, stepSucceeded: ReadonlySet<string> = NONE): number {
  const deciding = runs.filter((run) => !FINAL_RUN_STATES.has(run.state) && (run.state !== "waiting" || run.cancel_requested_at != null));
  const plans: RunPlan[] = [];
  const general: RunRow[] = [];
  for (const run of deciding) {
    const plan = stepSucceeded.has(run.id) ? succeededOneStepRun(run) : null;
    if (plan !== null) plans.push(plan);
    else general.push(run);
  }
  // The step runs of all the others in one statement, not one per run.
  const withSteps = general.filter((run) => run.state !== "waiting").map((run) => run.id);
  const rowsOf = new Map<string, StepRunRow[]>();
  if (withSteps.length > 0) {
    for (const row of execute(SQL.stepRunsOfRuns, [withSteps]) as (StepRunRow & { run_id: string })[]) {
      const list = rowsOf.get(row.run_id);
      if (list === undefined) rowsOf.set(row.run_id, [row]);
      else list.push(row);
    }
  }
  for (const run of general) plans.push(planRun(run, rowsOf.get(run.id) ?? [], nowMs));
  return applyPlans(plans, nowMs);
}

const NONE: ReadonlySet<string> = new Set();

/** Per job definition: whether a run of it is one step instance and nothing else (no matrix, no checks, no run transaction). */
const oneStepJobs = new WeakMap<JobDefinition, boolean>();

/**
 * The common case, decided without reading the run's step runs or asking the core: a run
 * whose job is one step instance (no matrix, no checks, not transaction: run), running and
 * not asked to stop, whose step the caller just recorded as succeeded (the fenced report
 * of its running, or committed, attempt: the latest). The core decides exactly this for
 * it (decideRun: nothing failed, nothing left, no check: finished, succeeded, no reason);
 * test/extension/one-step-runs.test.ts compares both. Any other run: null (the general path).
 */
function succeededOneStepRun(run: RunRow): RunPlan | null {
  if (run.state !== "running" || run.cancel_requested_at != null) return null;
  const definition = jobVersion(run.job_id, run.job_version);
  let oneStep = oneStepJobs.get(definition);
  if (oneStep === undefined) {
    oneStep = definition.transaction !== "run" && definition.checks.length === 0 && runInstances(definition).length === 1;
    oneStepJobs.set(definition, oneStep);
  }
  if (!oneStep) return null;
  const decision: RunDecision = {
    start: [], retry: [], skip: [], cancel: [], verdicts: [], finished: true, status: "succeeded", reason: null, nextWakeMs: null, runDeadlineMs: null,
  };
  return { run, job: jobForRun(run), decision, created: [] };
}

/** How work the core cancels is recorded, by the core's reason: step state and error. */
const CANCELLED_AS: readonly (readonly [CancelReason, "timed_out" | "cancelled", string])[] = [
  ["step_timeout", "timed_out", "timed out"],
  ["job_timeout", "cancelled", "run timed out"],
  ["run_cancelled", "cancelled", "run cancelled"],
];

/**
 * Writes plans: new step runs in one statement, verdicts, stopped work, deadlines, ended
 * runs (with afterRunEnded, which may release held-back runs: they are planned here too).
 * Returns how many step runs became ready.
 */
export function applyPlans(plans: readonly RunPlan[], nowMs: number): number {
  if (plans.length === 0) return 0;
  const now = new Date(nowMs).toISOString();
  const created = plans.flatMap((p) => p.created);
  if (created.length > 0) execute(SQL.insertStepRuns, [JSON.stringify(created)]);
  let ready = created.filter((c) => c.state === "ready").length;
  const again: RunPlan[] = [];
  const toStop: string[] = [];
  const ended: EndedRun[] = [];
  for (const plan of plans) {
    const { decision, run } = plan;
    if (decision.verdicts.length > 0) execute(SQL.settleAttempts, [run.id, JSON.stringify(decision.verdicts)]);
    let stoppedAny = false;
    if (decision.cancel.length > 0) {
      // A graceful cancel stops only ready steps here; running ones are told to stop and
      // end when their supervisor reports (or their lease expires).
      const graceful = run.cancel_mode === "cancel";
      for (const [reason, state, error] of CANCELLED_AS) {
        const ids = decision.cancel.filter((c) => c.reason === reason).map((c) => c.id);
        if (ids.length === 0) continue;
        const onlyReady = graceful && reason === "run_cancelled";
        const stopped = execute(SQL.cancelRunningInstances, [run.id, ids, now, error, state, onlyReady]) as { id: string; was_running: boolean }[];
        stoppedAny ||= stopped.length > 0;
        toStop.push(...stopped.filter((s) => s.was_running).map((s) => s.id));
        if (onlyReady) toStop.push(...(execute(SQL.runningStepRuns, [run.id, ids]) as { id: string }[]).map((s) => s.id));
      }
    }
    if (!decision.finished && decision.runDeadlineMs !== (run.wake_at?.getTime() ?? null)) {
      // Only runs of jobs with a time-out have one; finishRuns clears it. Kept on the row
      // so that a second plan of the same run in this call does not write it again.
      run.wake_at = decision.runDeadlineMs === null ? null : new Date(decision.runDeadlineMs);
      execute(SQL.setRunWake, [run.id, run.wake_at]);
    }
    if (decision.finished) {
      // A run with its own transaction ends with it: asked to commit first, or rolled back.
      const end = endOfRunTransaction(run, decision.status === "running" ? "failed" : decision.status, decision.reason);
      if (end === null) continue;
      ended.push({ run, state: end.state, reason: end.reason });
    } else if (plan.created.some((c) => c.state === "succeeded") || stoppedAny || decision.verdicts.length > 0) {
      // A builtin finished in place, a step timed out, or an attempt's verdict changed:
      // the graph may move on at once.
      const rows = execute(SQL.stepRunsOfRun, [run.id]) as StepRunRow[];
      again.push(planRun(run, rows, nowMs));
    }
  }
  if (ended.length > 0) again.push(...endRuns(ended, nowMs));
  if (toStop.length > 0) notifyCancel([...new Set(toStop)]);
  if (again.length > 0) ready += applyPlans(again, nowMs);
  return ready;
}

/**
 * Step run ids per NOTIFY clockwork_cancel: a payload is limited to 8000 bytes, and 300 ids
 * of a bigint's 19 digits, quoted, take 6 601. All ids in one payload made a cancel of
 * thousands of running steps (drop_job) fail with "payload string too long".
 */
export const CANCEL_IDS_PER_NOTIFY = 300;

/** Tells the supervisors holding these step runs to stop them: one NOTIFY per 300 ids. */
function notifyCancel(stepRunIds: readonly string[]): void {
  for (let i = 0; i < stepRunIds.length; i += CANCEL_IDS_PER_NOTIFY) {
    execute(SQL.notifyCancel, [JSON.stringify(stepRunIds.slice(i, i + CANCEL_IDS_PER_NOTIFY))]);
  }
}

// --- after a run ended --------------------------------------------------------------------

interface EndedRun {
  run: RunRow;
  state: string;
  reason: string | null;
}

/**
 * Records runs' ends, set-based (a tick decides many at a time: one statement for all, not
 * one per run), then what each end sets off: its job's alerts, run once, and, once per job
 * however many of its runs ended, its @after schedules and the runs held back. Returns the
 * plans of the runs released, for the caller to apply.
 */
function endRuns(ended: readonly EndedRun[], nowMs: number): RunPlan[] {
  execute(SQL.finishRuns, [JSON.stringify(ended.map((e) => ({ id: e.run.id, state: e.state, reason: e.reason }))), new Date(nowMs)]);
  for (const e of ended) e.run.state = e.state;
  // Each job's alerts (failures in a row, recovery, a long run ended) are decided here, in
  // the same transaction as the ends themselves (db/alerts.ts).
  alertsAfterRunsEnded(ended, nowMs);
  const jobs = new Map<string, RunRow>();
  const dropped = new Set<string>();
  for (const { run, state } of ended) {
    if (dropped.has(run.job_id)) continue;
    // Run once: the job drops itself (history kept) and nothing is set off for it.
    if (selfDestructs(run, state, nowMs)) dropped.add(run.job_id);
    else jobs.set(run.job_id, run);
  }
  const again: RunPlan[] = [];
  for (const [jobId, run] of jobs) {
    if (dropped.has(jobId)) continue;
    for (const released of afterRunEnded(run, nowMs)) again.push(planReleased(released, nowMs));
  }
  // The slots the ended runs held in their concurrency groups (a job that dropped itself
  // included) go to the next runs waiting there, of any job.
  for (const released of admitGroups(ended.map((e) => e.run.concurrency_group), nowMs).released) again.push(planReleased(released, nowMs));
  return again;
}

/**
 * Run once (policies.self_destruct): after a successful run ("success"), or once the job
 * has no slot left and no run going ("done"), the job is dropped with its history kept,
 * as drop_job does; its other runs are stopped. The caller holds the job's lock, so runs
 * locked elsewhere are left to end on their own (SKIP LOCKED: lock order). Returns whether
 * the job dropped itself.
 */
function selfDestructs(run: RunRow, state: string, nowMs: number): boolean {
  const mode = jobForRun(run).policies.selfDestruct;
  if (mode === null) return false;
  if (mode === "success" && state !== "succeeded") return false;
  if (mode === "done" && (execute(SQL.jobHasFuture, [run.job_id])[0] as { has_future: boolean }).has_future) return false;
  const reason = mode === "success" ? `run ${run.id} succeeded` : `run ${run.id} ended and no slot is left`;
  return dropJobKeepingHistory(run.job_id, `job dropped itself: ${reason} (self_destruct)`, nowMs);
}

/**
 * Drops a job and keeps its history (the caller holds the job's lock): its schedules stop,
 * its name is free, its runs still active and not locked elsewhere are stopped. Returns
 * false when it was already dropped.
 */
export function dropJobKeepingHistory(jobId: string, reason: string, nowMs: number): boolean {
  if (execute(SQL.markJobDropped, [jobId, new Date(nowMs)]).length === 0) return false;
  const active = execute(SQL.activeRunsOfJobSkipLocked, [jobId, ["waiting", "queued", "running"]]) as RunRow[];
  cancelLockedRuns(active, "terminate", reason, nowMs);
  execute(SQL.notifyWakeup, ["dropped"]);
  return true;
}

/** A run released from waiting starts at its slot if it was fired ahead of it, not before. */
export function planReleased(run: RunRow, nowMs: number): RunPlan {
  return planRun(run, [], Math.max(nowMs, run.slot_at?.getTime() ?? nowMs));
}

/**
 * What a run's end sets off for its job (the caller holds the job's lock): its @after
 * schedules count their delay from now, and runs held back by the overlap policy may
 * start (or go on to wait for their concurrency group). The slots ended runs held in their
 * groups are given out by endRuns. Returns the runs released (already marked queued; the
 * caller plans them).
 */
function afterRunEnded(run: RunRow, nowMs: number): RunRow[] {
  rearmAfterSchedules(run.job_id, nowMs);
  return admitWaitingRuns(run.job_id, nowMs);
}

/** @after schedules fire a fixed delay after a run of their job ends, while the job is enabled. */
function rearmAfterSchedules(jobId: string, endedAtMs: number): void {
  const rows = execute(SQL.afterSchedulesOfJob, [jobId]) as { id: string; position: number; version: number; enabled: boolean }[];
  if (rows.length === 0) return;
  const calendars = calendarDates();
  for (const row of rows) {
    if (!row.enabled) continue;
    const schedule = jobVersion(jobId, row.version).schedules[row.position];
    if (schedule === undefined) continue;
    const next = firstSlotFrom(schedule, endedAtMs, endedAtMs, calendars);
    execute(SQL.setNextFire, [row.id, next === null ? null : new Date(next)]);
  }
}

/**
 * Releases held-back runs of a job, oldest first, while its overlap policy has room (the
 * caller holds the job's lock). Each waiting run is judged by the version it follows. A
 * run of a concurrency group goes on to wait for a slot there (it now counts as one of the
 * job's instances), and those groups, with `groups`, get an admission. Returns the
 * released runs, marked queued, for the caller to plan.
 */
export function admitWaitingRuns(jobId: string, nowMs: number, groups: readonly (string | null | undefined)[] = []): RunRow[] {
  // Most jobs hold nothing back: one index probe instead of counting every active run.
  if (execute(SQL.hasWaitingRuns, [jobId]).length === 0) return admitGroups(groups, nowMs).released;
  const counts = execute(SQL.countActiveRuns, [jobId])[0] as { running: number; waiting: number };
  const released: RunRow[] = [];
  const toAdmit = [...groups];
  if (counts.waiting > 0) {
    const waiting = execute(SQL.waitingRunsOfJob, [jobId, counts.waiting]) as RunRow[];
    let running = counts.running;
    for (const run of waiting) {
      const job: JobDefinition = jobForRun(run);
      if (running >= overlapLimit(job.policies.overlap)) break;
      running++;
      if (run.concurrency_group != null) {
        execute(SQL.setWaiting, [run.id, "group", waitingForGroupReason(run.concurrency_group, null)]);
        toAdmit.push(run.concurrency_group);
        continue;
      }
      const queuedAt = new Date(Math.max(nowMs, run.slot_at?.getTime() ?? nowMs));
      execute(SQL.releaseWaitingRun, [run.id, queuedAt]);
      released.push({ ...run, state: "queued", reason: null, queued_at: queuedAt, waiting_for: null });
    }
  }
  released.push(...admitGroups(toAdmit, nowMs).released);
  return released;
}

/** Releases held-back runs and plans them at once (the caller holds the job's lock). */
export function startWaitingRuns(jobId: string, nowMs: number): number {
  return applyPlans(admitWaitingRuns(jobId, nowMs).map((r) => planReleased(r, nowMs)), nowMs);
}

/** Lets runs into these concurrency groups and plans them at once; returns how many step runs became ready. */
export function startGroupRuns(groups: Iterable<string | null | undefined>, nowMs: number): number {
  return applyPlans(admitGroups(groups, nowMs).released.map((r) => planReleased(r, nowMs)), nowMs);
}

// --- the entry points -----------------------------------------------------------------------

/**
 * How a supervisor says a step it ran was stopped (complete_step's stopped_by, a report's
 * stopped_by): "timeout" (its time-out passed and the supervisor stopped it), "cancel" (its
 * run was asked to stop and the supervisor stopped it), "none" (it ended on its own, well
 * or not). Three values rather than a nullable two: SQL cannot tell an omitted argument
 * from NULL, and NULL (or a report without the field) must keep meaning "a supervisor from
 * before this field" (see failedAttemptState).
 */
export type StopCause = "timeout" | "cancel" | "none";

/**
 * How an attempt that did not succeed counts: cancelled when its run was asked to stop
 * (the database's own record decides that, whatever stopped the step), timed_out when its
 * supervisor stopped it at its time-out, otherwise failed. The error is a human's text and
 * decides nothing: a built-in's or a statement's own "timed out waiting for …" is a
 * failure. Compatibility within 1.x (UPDATING.md: patch versions of the supervisor and
 * the extension mix): a supervisor older than stopped_by does not send it (null or
 * undefined here), and its time-outs are known, as they were then, by the error it wrote,
 * which starts with "timed out". Any other value (a newer supervisor's) counts as failed.
 */
export function failedAttemptState(cancelRequested: boolean, stoppedBy: string | null | undefined, error: string | null | undefined): "cancelled" | "timed_out" | "failed" {
  if (cancelRequested) return "cancelled";
  if (stoppedBy === null || stoppedBy === undefined) return (error ?? "").startsWith("timed out") ? "timed_out" : "failed";
  return stoppedBy === "timeout" ? "timed_out" : "failed";
}

/** What a worker reports about a step that ended: facts, decided upon by the run's lifecycle. */
export interface StepFacts {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** A message such as an SQL error or "timed out after 5000 ms", for people: it decides nothing. */
  error: string | null;
  /** How the supervisor stopped it (StopCause); null from a supervisor older than the field. */
  stoppedBy: string | null;
  sqlState: string | null;
  /** SQL steps: the rows of the last statement. */
  result: unknown[] | null;
  /** The reporter cut the output or the rows itself. */
  truncated?: boolean;
}

export interface StepEnd {
  accepted: boolean;
  /** How the attempt counts, after its run decided (see AttemptVerdict). */
  state?: string;
  run_state?: string;
}

/** Result rows kept per SQL step, for conditions and history. */
export const RESULT_ROWS_LIMIT = 100;

/**
 * Records a step's end and decides its run. Fenced: only the current worker incarnation
 * (by id) holding the lease of a running step may report; anything else (a lease taken
 * over, a run cancelled, an incarnation replaced) gets {accepted: false} and changes nothing.
 */
export function recordStepEnd(stepRunId: string, workerId: string, facts: StepFacts, nowMs: number): StepEnd {
  const found = execute(SQL.runOfStepRun, [stepRunId])[0] as { run_id: string } | undefined;
  if (found === undefined) return { accepted: false };
  const [run] = lockRunsForDecision([found.run_id], "wait");
  if (run === undefined) return { accepted: false };
  const ok = facts.error === null && facts.sqlState === null && (facts.exitCode === 0 || (facts.exitCode === null && facts.result !== null));
  const state = ok ? "succeeded" : failedAttemptState(run.cancel_requested_at != null, facts.stoppedBy, facts.error);
  const rows = facts.result === null ? null : facts.result.slice(0, RESULT_ROWS_LIMIT);
  const done = execute(SQL.completeStep, [
    stepRunId, workerId, state, new Date(nowMs), facts.exitCode, facts.sqlState, facts.error,
    rows === null ? null : JSON.stringify(rows), facts.stdout ?? "", facts.stderr ?? "",
    (facts.truncated ?? false) || (facts.result !== null && facts.result.length > RESULT_ROWS_LIMIT),
  ])[0] as { run_id: string } | undefined;
  if (done === undefined) return { accepted: false };
  const ready = decideRuns([run], nowMs);
  if (ready > 0) execute(SQL.notifyWakeup, ["ready"]);
  const after = execute(SQL.stepRunState, [stepRunId])[0] as { state: string };
  const runAfter = execute(SQL.runState, [run.id])[0] as { state: string };
  return { accepted: true, state: after.state, run_state: runAfter.state };
}

/**
 * Asks locked runs to stop (the caller holds their locks) and decides them: "terminate"
 * ends them now, "cancel" tells running steps to stop and ends each run once they have.
 * `reason` becomes the run's reason. Returns the runs that were still active.
 */
export function cancelLockedRuns(runs: readonly RunRow[], mode: CancelMode, reason: string, nowMs: number): RunRow[] {
  const active = runs.filter((r) => !FINAL_RUN_STATES.has(r.state));
  if (active.length === 0) return [];
  const now = new Date(nowMs);
  execute(SQL.requestCancel, [active.map((r) => r.id), now, mode, reason]);
  for (const run of active) {
    run.cancel_requested_at ??= now;
    run.cancel_mode = run.cancel_mode === "terminate" ? "terminate" : mode;
    run.reason = reason;
  }
  const ready = decideRuns(active, nowMs);
  if (ready > 0) execute(SQL.notifyWakeup, ["ready"]);
  return active;
}

/** Locks runs (waiting for them, or skipping busy ones) and asks them to stop. */
export function cancelRuns(runIds: readonly string[], mode: CancelMode, reason: string, nowMs: number, lock: LockMode): RunRow[] {
  return cancelLockedRuns(lockRunsForDecision(runIds, lock), mode, reason, nowMs);
}

/** Takes back steps of workers that stopped heartbeating (tick; skips busy runs). */
export function expireLeases(nowMs: number): number {
  const ids = (execute(SQL.runsWithExpiredLeases, [new Date(nowMs), 1000]) as { run_id: string }[]).map((r) => r.run_id);
  return expireLeasesOfRuns(lockRunsForDecision(ids, "skip"), nowMs);
}

/**
 * Takes back the expired leases of runs the caller has locked: each attempt becomes lost
 * and, within MAX_LOST_LEASES, attempt + 1 is queued; runs an attempt lost for good may
 * end are decided. `reasons` (step run id → why) replaces "lease expired" where the
 * supervisor said what happened (db/reports.ts: it lost the step's connection).
 */
export function expireLeasesOfRuns(runs: readonly RunRow[], nowMs: number, reasons: Record<string, string> = {}): number {
  const now = new Date(nowMs);
  let expired = 0;
  let requeued = 0;
  const settle: RunRow[] = [];
  for (const run of runs) {
    const r = execute(SQL.expireLeasesOfRun, [run.id, now, MAX_LOST_LEASES, run.cancel_requested_at != null, JSON.stringify(reasons), SQLSTATE.handed_back_at_shutdown])[0] as { expired: number; requeued: number };
    expired += r.expired;
    requeued += r.requeued;
    // An attempt lost for good (or of a run being cancelled) may end the run.
    if (r.expired > r.requeued) settle.push(run);
  }
  decideRuns(settle, nowMs);
  if (requeued > 0) execute(SQL.notifyWakeup, ["requeued"]);
  return expired;
}

/** Runs past their own deadline (a job time-out) are decided again: nothing else would. */
export function wakeRuns(nowMs: number, limit: number): number {
  const ids = (execute(SQL.runsToWake, [new Date(nowMs), limit]) as { id: string }[]).map((r) => r.id);
  const runs = lockRunsForDecision(ids, "skip");
  decideRuns(runs, nowMs);
  return runs.length;
}
