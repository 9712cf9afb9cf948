// What supervisors report about the SQL steps they ran, in batches with their next tick:
// rows, failures, skips, hand-backs. Every report is fenced by the claim's secret (only
// its hash is stored): a report about an attempt that is no longer the holder's changes
// nothing. The facts are written set-based, one statement per kind of outcome; the runs
// they touch are then decided together (advanceRuns).
//
// An SQL step in the scheduler's own database has already committed its completion with
// its work (awaiting_report); its report brings its result rows. Every other SQL step
// (another database or server, autonomous) is recorded here: at least once.
import { ERROR_KINDS, OUTPUT_LIMIT_BYTES, boundRows, cutText } from "../core/index.ts";
import { decideRuns, expireLeasesOfRuns, failedAttemptState, lockRunsForDecision, type StopCause } from "./lifecycle.ts";
import { raise } from "./raise.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";
import { rowsToJson } from "./values.ts";

/** Result rows kept per SQL step, for conditions and history. */
export const RESULT_ROWS_LIMIT = 100;

export type ReportOutcome = "succeeded" | "failed" | "skipped" | "handed_back" | "lost" | "released";

export interface StepReport {
  step_run: string;
  /** The claim's secret, as tick handed it out. */
  claim: string;
  /**
   * succeeded: the step's statements succeeded (committed in its transaction, or done);
   * failed: an SQL error, a time-out, a role mismatch (with sql_state and error);
   * skipped: its connection's server was not in the expected role and the connection says skip;
   * handed_back: this supervisor cannot log in or reach the target (error says why), another may;
   * lost: the connection was lost and the outcome is unknown: the step is taken back as a lost lease;
   * released: any kind of step, claimed ahead and never started (it waited on the supervisor
   * for a slot too long): ready again, same attempt, for any worker, with no trace.
   */
  outcome: ReportOutcome;
  /** succeeded: the first rows of the step's last statement. */
  rows?: unknown[] | null;
  /** succeeded: more rows (or a larger result) than kept. */
  truncated?: boolean;
  sql_state?: string | null;
  /** For people; it decides nothing (stopped_by does). */
  error?: string | null;
  /**
   * failed: how the supervisor stopped the step (db/lifecycle.ts, StopCause): "timeout"
   * makes the attempt timed_out. A report without it comes from a supervisor older than
   * the field: its time-out is known by an error starting with "timed out", as before.
   */
  stopped_by?: StopCause | null;
  /** For steps recorded here: how late after its start_at the step began, and how long it ran (ms). */
  late_ms?: number;
  duration_ms?: number;
  /**
   * succeeded, for a step that committed its own completion (claim.sql.exactly_once): the
   * report only brings its rows. If its completion is not recorded, the commit the
   * supervisor saw was lost (a crash with synchronous_commit off): the step is taken back.
   */
  committed?: boolean;
  /**
   * released: the due time the claim carried (StepClaim.due_at). The step is ready again
   * from then, not from its claim, so it keeps its place among steps of its priority.
   */
  due_at?: string;
}

interface ReportRow {
  id: string;
  claim: string;
  result: string | null;
  stdout: string;
  truncated: boolean;
  sql_state: string | null;
  error: string | null;
  late_ms: number;
  duration_ms: number;
}

/**
 * Reports as rows to record. What a report brings is bounded as a shell step's output is
 * (core/bounds.ts: the rows' JSON and the error at most OUTPUT_LIMIT_BYTES, output_limit()),
 * whoever sent it: a supervisor bounds them already, by its --output-limit.
 */
function reportRows(reports: readonly StepReport[]): ReportRow[] {
  return reports.map((r) => {
    const rows = Array.isArray(r.rows) ? boundRows(r.rows.slice(0, RESULT_ROWS_LIMIT), OUTPUT_LIMIT_BYTES) : null;
    const result = rows === null ? null : rowsToJson(rows.rows);
    return {
      id: String(r.step_run),
      claim: String(r.claim),
      result,
      stdout: result ?? "",
      truncated: r.truncated === true || (Array.isArray(r.rows) && r.rows.length > RESULT_ROWS_LIMIT) || rows?.truncated === true,
      sql_state: r.sql_state ?? null,
      error: typeof r.error === "string" ? cutText(r.error, OUTPUT_LIMIT_BYTES).text : null,
      late_ms: Math.max(0, Number(r.late_ms) || 0),
      duration_ms: Math.max(0, Number(r.duration_ms) || 0),
    };
  });
}

/**
 * Records a batch of reports from one worker and decides the runs they touch, in the
 * lifecycle's lock order (db/lifecycle.ts): the runs, then their jobs, then the step rows.
 * Like complete_step, this waits for runs another session is deciding (briefly). Returns
 * the step runs whose report was accepted; a report left out was refused: its claim no
 * longer holds (a late report after a lease passed, a terminated run).
 */
export function recordReports(worker: { id: string }, reports: readonly StepReport[], nowMs: number): { accepted: string[] } {
  if (reports.length === 0) return { accepted: [] };
  const now = new Date(nowMs);
  const runIds = (execute(SQL.runsOfStepRuns, [reports.map((r) => String(r.step_run))]) as { run_id: string }[]).map((r) => r.run_id);
  const runs = lockRunsForDecision(runIds, "wait");
  const cancelling = new Set(runs.filter((r) => r.cancel_requested_at != null).map((r) => r.id));
  const touched = new Set<string>();
  const accepted: string[] = [];
  const take = (rows: { id: string; run_id: string | null }[]): void => {
    for (const r of rows) {
      accepted.push(r.id);
      if (r.run_id !== null) touched.add(r.run_id);
    }
  };
  const rowsOf = (outcome: ReportOutcome) => reportRows(reports.filter((r) => r.outcome === outcome));
  // Runs whose step this batch recorded as succeeded: a run of one step ends without its
  // step runs being read again (decideRuns' common case).
  const stepSucceeded = new Set<string>();
  const takeSucceeded = (rows: { id: string; run_id: string }[]): void => {
    take(rows);
    for (const r of rows) stepSucceeded.add(r.run_id);
  };
  const succeeded = reportRows(reports.filter((r) => r.outcome === "succeeded" && r.committed !== true));
  if (succeeded.length > 0) takeSucceeded(execute(SQL.reportSucceeded, [JSON.stringify(succeeded), worker.id, now, false]));
  // A step whose completion committed with its work: succeeded if that commit is recorded;
  // otherwise the commit was lost with the server (an acknowledged commit survives a crash
  // only with synchronous_commit on) and the step is taken back like a lost one.
  const committed = reports.filter((r) => r.outcome === "succeeded" && r.committed === true);
  if (committed.length > 0) {
    const recordedRows = execute(SQL.reportSucceeded, [JSON.stringify(reportRows(committed)), worker.id, now, true]) as { id: string; run_id: string }[];
    takeSucceeded(recordedRows);
    const recorded = new Set(recordedRows.map((r) => r.id));
    const vanished = reportRows(committed.filter((r) => !recorded.has(String(r.step_run))));
    if (vanished.length > 0) take(execute(SQL.reportLost, [JSON.stringify(vanished), worker.id, now]));
  }
  // An attempt that failed counts as cancelled when its run was asked to stop, as timed
  // out when its supervisor stopped it at its time-out, as in recordStepEnd.
  const failed = reports.filter((r) => r.outcome === "failed");
  if (failed.length > 0) {
    const stepRuns = new Map((execute(SQL.runsOfStepRuns, [failed.map((r) => String(r.step_run))]) as { id: string; run_id: string }[]).map((r) => [r.id, r.run_id]));
    const stateOf = (r: StepReport): string => failedAttemptState(cancelling.has(stepRuns.get(String(r.step_run)) ?? ""), r.stopped_by, r.error);
    for (const state of ["failed", "timed_out", "cancelled"]) {
      const rows = reportRows(failed.filter((r) => stateOf(r) === state));
      if (rows.length > 0) take(execute(SQL.reportFailed, [JSON.stringify(rows), worker.id, now, state]));
    }
  }
  const skipped = rowsOf("skipped");
  if (skipped.length > 0) take(execute(SQL.reportFailed, [JSON.stringify(skipped), worker.id, now, "skipped"]));
  // Unknown outcome: a step that committed (awaiting its report) succeeded, without its
  // rows; one that did not is taken back like an expired lease (lost, then attempt + 1),
  // here, under the runs' locks, with what the supervisor said happened: if its
  // transaction is still alive somewhere, its finish no longer finds its claim.
  const losing = reports.filter((r) => r.outcome === "lost");
  if (losing.length > 0) {
    const rows = execute(SQL.reportLost, [JSON.stringify(reportRows(losing)), worker.id, now]) as { id: string; run_id: string | null }[];
    take(rows);
    const takenBack = new Set(rows.filter((r) => r.run_id === null).map((r) => r.id));
    if (takenBack.size > 0) {
      const reasons = Object.fromEntries(losing.filter((r) => takenBack.has(String(r.step_run))).map((r) => [String(r.step_run),
        `its supervisor lost the step's connection: ${typeof r.error === "string" && r.error !== "" ? r.error : "the outcome is unknown"}`]));
      const runOf = new Map((execute(SQL.runsOfStepRuns, [[...takenBack]]) as { id: string; run_id: string }[]).map((r) => [r.run_id, r.id]));
      expireLeasesOfRuns(runs.filter((r) => runOf.has(r.id)), nowMs, reasons);
    }
  }
  const back = rowsOf("handed_back");
  if (back.length > 0) {
    execute(SQL.releaseRunTransactions, [back.map((r) => r.id)]);
    const rows = execute(SQL.handBack, [JSON.stringify(back), worker.id, now]) as { id: string; run_id: string; someone_else: boolean; reasons: string }[];
    accepted.push(...rows.map((r) => r.id));
    const nobody = rows.filter((r) => !r.someone_else);
    if (nobody.length > 0) {
      const unrunnable = nobody.map((r) => ({ id: r.id, error: `no live supervisor can run this step: ${r.reasons}` }));
      for (const r of execute(SQL.failUnrunnable, [JSON.stringify(unrunnable), now, ERROR_KINDS.no_supervisor_can_log_in.code]) as { run_id: string }[]) touched.add(r.run_id);
    }
    if (rows.some((r) => r.someone_else)) execute(SQL.notifyWakeup, ["handed back"]);
  }
  // Claims given back unstarted: nothing happened, so nothing is decided about their runs.
  const releasing = reports.filter((r) => r.outcome === "released");
  const released = reportRows(releasing).map((row, i) => {
    const due = releasing[i]!.due_at;
    return { ...row, due_at: typeof due === "string" && Number.isFinite(Date.parse(due)) ? due : null };
  });
  if (released.length > 0) {
    const rows = execute(SQL.releaseClaims, [JSON.stringify(released), worker.id]) as { id: string }[];
    accepted.push(...rows.map((r) => r.id));
    // Ready again: an idle supervisor asleep until its next due time takes them now.
    if (rows.length > 0) execute(SQL.notifyWakeup, ["released"]);
  }
  decideRuns(runs.filter((r) => touched.has(r.id)), nowMs, stepSucceeded);
  return { accepted };
}

/**
 * SQL steps that committed but were never reported (their supervisor died in between):
 * once a lease has passed, their runs are decided without their rows. Busy runs wait for
 * the next tick. Returns how many runs were decided.
 */
export function settleUnreported(nowMs: number, limit: number): number {
  const now = new Date(nowMs);
  const ids = (execute(SQL.runsWithUnreportedSteps, [now, limit]) as { run_id: string }[]).map((r) => r.run_id);
  const runs = lockRunsForDecision(ids, "skip");
  if (runs.length === 0) return 0;
  execute(SQL.settleUnreported, [runs.map((r) => r.id), now]);
  decideRuns(runs, nowMs);
  return runs.length;
}

/** Claims the database will not hand out (their target may no longer be used): failed, and their runs decided. */
export function refuseClaims(refused: readonly { step_run_id: string; run_id: string; error: string }[], nowMs: number): void {
  const runs = lockRunsForDecision(refused.map((r) => r.run_id), "wait");
  execute(SQL.failUnrunnable, [JSON.stringify(refused.map((r) => ({ id: r.step_run_id, error: r.error }))), new Date(nowMs), ERROR_KINDS.invalid_state.code]);
  decideRuns(runs, nowMs);
}

/** Reads tick's `reports` argument; raises invalid_argument on anything else. */
export function readReports(value: unknown): StepReport[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) raise("invalid_argument", "reports", "reports must be a JSON array");
  const outcomes: readonly string[] = ["succeeded", "failed", "skipped", "handed_back", "lost", "released"];
  return value.map((r, i) => {
    const report = r as Partial<StepReport> | null;
    if (report === null || typeof report !== "object" || !/^[0-9]+$/.test(String(report.step_run)) || typeof report.claim !== "string" || !outcomes.includes(String(report.outcome))) {
      raise("invalid_argument", `reports[${i}]`, "a report is {step_run, claim, outcome: succeeded|failed|skipped|handed_back|lost|released, …}");
    }
    if (report.sql_state != null && !/^[0-9A-Z]{5}$/.test(String(report.sql_state))) report.sql_state = null;
    return report as StepReport;
  });
}
