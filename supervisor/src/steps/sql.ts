// Runs an SQL step on a connection logged in as its owner (owner-connections.ts) and says
// what to report about it with the next tick. The messages to send are rendered from the
// claim by the core's renderer (core/sql-step.ts, renderClaimedSqlStep: the database decided
// what goes in them); this module sends them, reads what comes back, stops a step at its
// time-out with a cancel request, and leaves the connection clean or closes it.
//
//   transactional: one message; in the scheduler's own database its completion commits
//     with its work (exactly once), and the report only brings its rows;
//   autonomous: one message per statement, as psql -f runs a file, without a transaction
//     around them, stopping at the first error; recorded by the report (at least once);
//   run (transaction: run): one message in the run's transaction, on the connection that
//     holds it (run-transactions.ts); reported at once, kept only if the run commits.
import { ERROR_KINDS, OUTPUT_LIMIT_BYTES, SESSION_RESET, boundRows, cutText, renderClaimedSqlStep, type SqlStepScript } from "../../../extension/src/core/index.ts";
import type { StepClaim, StopCause } from "../api.ts";
import type { StepReport } from "../../../extension/src/db/reports.ts";
import { LoginError, ownServerRefusing, type OwnerConnections, type OwnerLease } from "./owner-connections.ts";
import { RunTransactionGone, type RunTransactions } from "./run-transactions.ts";
import { runScript, type ScriptOutcome, type StatementResult } from "./script-query.ts";

export type { StepReport };

/** How long an SQL step waits for the scheduler's own server to take connections again (a restart, a full server). */
const OWN_SERVER_WAIT_MS = 30_000;

/** How a step ended, for the log and the metrics. */
export type SqlStepEnd = "succeeded" | "failed" | "skipped" | "handed_back" | "released" | "lost" | "rolled_back" | "stopped";

export interface SqlStepResult {
  /** What to send with the next tick, or null when there is nothing to say (stopped, or its claim no longer holds). */
  readonly report: StepReport | null;
  readonly end: SqlStepEnd;
  /** Why it failed, was skipped, handed back or rolled back. */
  readonly message: string | null;
  readonly sqlState: string | null;
}

export interface RunningSqlStep {
  readonly result: Promise<SqlStepResult>;
  /** Cancels the step's statement (a cancelled run, or shutdown): nothing is reported. */
  stop(reason: "cancelled" | "shutdown"): void;
}

export interface SqlStepOptions {
  readonly connections: OwnerConnections;
  /** A connection taken while the step waited for its start (fire ahead). */
  readonly lease?: OwnerLease;
  /** How late after its start_at the step begins, by the supervisor's measure (ms). */
  readonly lateMs: number;
  /** The whole-run transactions this supervisor holds (steps of transaction: run jobs). */
  readonly runTransactions?: RunTransactions;
  /**
   * What the report may carry of the step's result rows (as JSON) and of its error: the
   * bound of a shell step's output, the supervisor's --output-limit (default 1 MiB).
   */
  readonly outputLimitBytes?: number;
}

const RESET_AFTER_ERROR = ["ROLLBACK", ...SESSION_RESET].join(";\n");
const RESET = SESSION_RESET.join(";\n");
/** A step claimed ahead reached the server early (its clock and ours disagree): tries again. */
const EARLY_RETRIES = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rows of a statement as recorded: its rows, or how many it affected. */
function rowsOf(result: StatementResult | undefined): { rows: unknown[]; truncated: boolean } {
  if (result === undefined) return { rows: [], truncated: false };
  if (result.rows !== null) return { rows: result.rows, truncated: result.truncated };
  return { rows: [{ rows_affected: result.rowCount ?? 0 }], truncated: false };
}

export function startSqlStep(claim: StepClaim, options: SqlStepOptions): RunningSqlStep {
  const work = claim.sql!;
  // Rendered when run() begins: a text that cannot be rendered (checked at definition time,
  // so a bug) fails the step with the reason instead of crashing the supervisor.
  let script: SqlStepScript;
  const startedAt = performance.now();
  let lease: OwnerLease | undefined = options.lease;
  let stopped: "cancelled" | "shutdown" | "timeout" | null = null;
  let timer: NodeJS.Timeout | undefined;

  const timing = () => ({ late_ms: Math.max(0, options.lateMs), duration_ms: performance.now() - startedAt });
  const limit = options.outputLimitBytes ?? OUTPUT_LIMIT_BYTES;
  // Every report goes through here: its rows and its error bounded as a shell step's output
  // is (core/bounds.ts), whatever the step returned or raised; its outcome is untouched.
  const report = (outcome: StepReport["outcome"], fields: Partial<StepReport> = {}): StepReport => {
    const bounded: Partial<StepReport> = { ...fields };
    if (Array.isArray(fields.rows)) {
      const rows = boundRows(fields.rows, limit);
      bounded.rows = rows.rows;
      if (rows.truncated) bounded.truncated = true;
    }
    if (typeof fields.error === "string") bounded.error = cutText(fields.error, limit).text;
    return { step_run: claim.step_run_id, claim: work.claim, outcome, ...timing(), ...bounded };
  };
  const query = (client: OwnerLease["client"], text: string) => runScript(client, text, limit);
  // stopped_by says how this supervisor stopped the step; the message is for people.
  const failed = (message: string, sqlState: string | null, stoppedBy: StopCause = "none"): SqlStepResult => {
    const failure = report("failed", { error: message, sql_state: sqlState, stopped_by: stoppedBy });
    return { report: failure, end: "failed", message: failure.error ?? message, sqlState };
  };
  const errorText = (error: NonNullable<ScriptOutcome["error"]>, statement: number | null): string => {
    const where = statement !== null && script.statements > 1 ? `statement ${statement} of ${script.statements}: ` : "";
    return `${where}${error.message}`;
  };

  const run = async (): Promise<SqlStepResult> => {
    try {
      script = renderClaimedSqlStep(claim);
    } catch (error) {
      return failed(`cannot render the step's messages: ${(error as Error).message}`, null);
    }
    try {
      // The scheduler's own server refusing connections is restarting (crash recovery) or
      // full: wait for it a while, as the supervisor's own connection does. In a run's
      // transaction only its first step connects; the others use the run's connection.
      const open = () => script.mode === "run" ? options.runTransactions!.take(work, work.claim) : options.connections.acquire(work);
      for (let pause = 100; lease === undefined; pause = Math.min(1000, 2 * pause)) {
        try {
          lease = await open();
        } catch (error) {
          if (!ownServerRefusing(work, error) || stopped !== null || performance.now() - startedAt > OWN_SERVER_WAIT_MS) throw error;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    } catch (error) {
      if (error instanceof RunTransactionGone) return failed(error.message, null);
      if (stopped !== null) return { report: null, end: "stopped", message: stopped, sqlState: null };
      const message = error instanceof LoginError ? error.message : `cannot connect: ${(error as Error).message}`;
      const sqlState = (error as { code?: string }).code ?? null;
      // Still restarting, or still full: every supervisor would meet the same, so the step,
      // not begun, goes back as it was (same attempt) for a tick after the database answers
      // again. Handed back, it would count this supervisor as unable to log in, and with no
      // other supervisor the run would fail (no_supervisor_can_log_in) because of a restart.
      // The first step of a run's transaction goes back with the transaction it opened
      // (reportReleased closes it), so that its next claim opens it again.
      if (ownServerRefusing(work, error)) {
        return { report: { step_run: claim.step_run_id, claim: work.claim, outcome: "released", due_at: claim.due_at }, end: "released", message, sqlState };
      }
      return { report: report("handed_back", { error: message }), end: "handed_back", message, sqlState };
    }
    // In a run's transaction the connection is the run's: let go only with its transaction.
    const letGo = (how: "reuse" | "destroy"): void => {
      if (script.mode === "run") void options.runTransactions!.drop(work.run_transaction!.run_id, how === "reuse" ? "rollback" : "destroy");
      else lease!.release(how);
    };
    if (stopped !== null) {
      letGo("reuse");
      return { report: null, end: "stopped", message: stopped, sqlState: null };
    }
    if (claim.timeout_ms !== null && claim.timeout_ms !== undefined) {
      const timeoutMs = Math.max(1, claim.timeout_ms - (performance.now() - startedAt));
      timer = setTimeout(() => {
        stopped = "timeout";
        lease?.cancel();
      }, timeoutMs);
    }
    if (work.target.server_role !== "any") {
      const mismatch = await roleMismatch(lease, work.target.server_role);
      if (mismatch !== null) {
        letGo(mismatch.broken ? "destroy" : "reuse");
        if (mismatch.broken) return stoppedResult() ?? { report: report("lost", { error: mismatch.text }), end: "lost", message: mismatch.text, sqlState: null };
        const message = `${lease.target.description} ${mismatch.text}`;
        // skip_run: the step graph skips the rest of the run (core/graph.ts).
        if (work.target.on_role_mismatch === "skip" || work.target.on_role_mismatch === "skip_run") {
          return { report: report("skipped", { error: `skipped: ${message}` }), end: "skipped", message, sqlState: null };
        }
        return failed(message, ERROR_KINDS.server_role_mismatch.code);
      }
    }
    return script.mode === "autonomous" ? runAutonomous(lease) : script.mode === "run" ? runInRunTransaction(lease) : runTransactional(lease);
  };

  const stoppedResult = (): SqlStepResult | null => {
    if (stopped === "timeout") return failed(`timed out after ${claim.timeout_ms} ms`, "57014", "timeout");
    // A cancelled run waits for its running steps to say they stopped (db/lifecycle.ts).
    if (stopped === "cancelled") return { ...failed("cancelled", "57014", "cancel"), end: "stopped", message: stopped };
    if (stopped !== null) return { report: null, end: "stopped", message: stopped, sqlState: null };
    return null;
  };

  async function runTransactional(connection: OwnerLease): Promise<SqlStepResult> {
    const message = script.messages[0]!;
    for (let tries = 0; ; tries++) {
      const out = await query(connection.client, message);
      if (out.error === null) {
        const last = out.results[out.results.length - script.trailing - 1];
        const { rows, truncated } = out.results.length - script.trailing - 1 >= script.leading ? rowsOf(last) : { rows: [], truncated: false };
        // A cancel that came too late to stop it is harmless, but the connection goes.
        connection.release(stopped === null ? "reuse" : "destroy");
        return { report: report("succeeded", { rows, truncated, committed: work.exactly_once }), end: "succeeded", message: null, sqlState: null };
      }
      if (out.broken) {
        connection.release("destroy");
        const message = `the connection was lost during the step (${out.error.message}); it is taken back and run again unless it committed`;
        return stoppedResult() ?? { report: report("lost", { error: message }), end: "lost", message, sqlState: null };
      }
      const failedAt = out.results.length; // the statement that raised, 0-based in the message
      const commitAt = script.leading + script.statements + (work.exactly_once ? 1 : 0);
      const committed = out.results[commitAt]?.command === "COMMIT";
      if (committed) {
        // The step committed; the reset after it failed (a setting it left made a reset
        // statement fail?). Its session is not clean: closed.
        connection.release("destroy");
        const last = out.results[commitAt - (work.exactly_once ? 1 : 0) - 1];
        return { report: report("succeeded", { ...rowsOf(last), committed: work.exactly_once }), end: "succeeded", message: null, sqlState: null };
      }
      const reset = await runScript(connection.client, RESET_AFTER_ERROR);
      const clean = reset.error === null && stopped === null;
      const code = out.error.code ?? null;
      if (work.exactly_once && failedAt === commitAt - 1 && code === ERROR_KINDS.too_early.code && tries < EARLY_RETRIES && clean) {
        const early = Number(/early_ms=(\d+)/.exec((out.error as { detail?: string }).detail ?? "")?.[1] ?? "1");
        await sleep(Math.min(1000, early));
        continue;
      }
      connection.release(clean ? "reuse" : "destroy");
      const fromStop = stoppedResult();
      if (fromStop !== null) return fromStop;
      if (work.exactly_once && failedAt === commitAt - 1 && code === ERROR_KINDS.claim_not_held.code) {
        return { report: null, end: "rolled_back", message: out.error.message, sqlState: code };
      }
      const inBody = failedAt >= script.leading && failedAt < script.leading + script.statements;
      return failed(errorText(out.error, inBody ? failedAt - script.leading + 1 : null), code);
    }
  }

  async function runInRunTransaction(connection: OwnerLease): Promise<SqlStepResult> {
    const runs = options.runTransactions!;
    const runId = work.run_transaction!.run_id;
    const out = await query(connection.client, script.messages[0]!);
    if (out.error === null && stopped === null) {
      const at = out.results.length - 1;
      const { rows, truncated } = at >= script.leading ? rowsOf(out.results[at]) : { rows: [], truncated: false };
      runs.keep(runId);
      return { report: report("succeeded", { rows, truncated }), end: "succeeded", message: null, sqlState: null };
    }
    if (out.error === null || out.broken) {
      // Stopped after its statements ran, or the connection went: the transaction goes with it.
      await runs.drop(runId, "destroy");
      return stoppedResult() ?? failed(`the connection holding the run's transaction was lost during the step (${out.error?.message}): the transaction is gone`, null);
    }
    // A failed statement aborted the run's transaction: rolled back now; the run fails.
    await runs.drop(runId, stopped === null ? "rollback" : "destroy");
    const fromStop = stoppedResult();
    if (fromStop !== null) return fromStop;
    const failedAt = out.results.length;
    const inBody = failedAt >= script.leading && failedAt < script.leading + script.statements;
    return failed(errorText(out.error, inBody ? failedAt - script.leading + 1 : null), out.error.code ?? null);
  }

  async function runAutonomous(connection: OwnerLease): Promise<SqlStepResult> {
    let last: StatementResult | undefined;
    let failure: { error: NonNullable<ScriptOutcome["error"]>; statement: number } | null = null;
    for (let i = 0; i < script.messages.length && stopped === null; i++) {
      const out = await query(connection.client, script.messages[i]!);
      if (out.broken) {
        connection.release("destroy");
        const message = `the connection was lost during the step (${out.error?.message}); it is taken back and runs again (attempt + 1)`;
        return stoppedResult() ?? { report: report("lost", { error: message }), end: "lost", message, sqlState: null };
      }
      if (out.error !== null) {
        failure = { error: out.error, statement: i }; // message 0 is the settings
        break;
      }
      last = out.results[out.results.length - 1];
    }
    // What a script may leave: an open transaction (psql rolls it back at the end of a
    // file), then the session's state.
    let clean = stopped === null;
    if (connection.client.getTransactionStatus() !== "I") clean &&= (await runScript(connection.client, "ROLLBACK")).error === null;
    clean &&= (await runScript(connection.client, RESET)).error === null;
    connection.release(clean ? "reuse" : "destroy");
    const fromStop = stoppedResult();
    if (fromStop !== null) return fromStop;
    if (failure !== null) return failed(errorText(failure.error, failure.statement > 0 ? failure.statement : null), failure.error.code ?? null);
    return { report: report("succeeded", rowsOf(last)), end: "succeeded", message: null, sqlState: null };
  }

  const result = run().finally(() => clearTimeout(timer));
  return {
    result,
    stop(reason) {
      if (stopped !== null) return;
      stopped = reason;
      lease?.cancel();
    },
  };
}

/** Whether the server is not in the role the step expects: what it is instead, or a broken connection. */
async function roleMismatch(lease: OwnerLease, expected: "primary" | "standby"): Promise<{ text: string; broken: boolean } | null> {
  const out = await runScript(lease.client, "SELECT pg_catalog.pg_is_in_recovery() AS standby");
  if (out.error !== null) return { text: `could not ask the server for its role: ${out.error.message}`, broken: true };
  const standby = out.results[0]?.rows?.[0]?.standby === true;
  if (expected === "primary" && standby) return { text: "is a standby (in recovery), and the step expects a primary", broken: false };
  if (expected === "standby" && !standby) return { text: "is a primary (not in recovery), and the step expects a standby", broken: false };
  return null;
}
