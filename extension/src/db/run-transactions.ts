// Whole-run transactions (transaction: run): a run's SQL steps share one transaction,
// held open by the supervisor that claimed the run's first SQL step, on an owner
// connection of its own. The database keeps one row per such run (run_transactions):
//
//   open        the first SQL step was claimed; the run's later steps are pinned to that
//               worker incarnation (claimReadySteps), and its SQL steps run in the
//               transaction, reported like steps on another server;
//   committing  every step and check succeeded: the run does not end yet, its holder is
//               asked (tick's answer) to commit, with _commit_run(run, claim) last in the
//               transaction: the mark and the run's work commit together;
//   committed   the next tick (any supervisor's) ends the run as succeeded.
//   lost        its holder ended first (killed, found gone): the server rolled the
//               transaction back with its connection; the run is stopped and fails.
//
// Any other end of the run (a step or check failed, a time-out, a cancel) deletes the row
// in the same transaction that ends the run (endOfRunTransaction, called by the run
// lifecycle): a commit after that finds no row and raises, so the work rolls back, and the
// holder rolls back as soon as a tick no longer lists the run as open.
import { jobForRun, type RunRow } from "./runs.ts";
import { cancelLockedRuns, decideRuns, lockRunsForDecision } from "./lifecycle.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

/** How a run ends, once its transaction is taken into account; null: not yet (it waits for its commit). */
export function endOfRunTransaction(run: RunRow, state: string, reason: string | null): { state: string; reason: string | null } | null {
  if (jobForRun(run).transaction !== "run") return { state, reason };
  const row = execute(SQL.lockRunTransaction, [run.id])[0] as { state: string } | undefined;
  if (row === undefined) return { state, reason };
  // The commit carried the mark: the run's work is kept, so the run succeeded (a cancel or
  // a time-out asked for after the commit was requested came too late).
  if (row.state === "committed") {
    execute(SQL.endRunTransaction, [run.id]);
    return { state: "succeeded", reason: null };
  }
  // Asked to stop (a cancel, its holder lost) before the commit: its work was done, but
  // not kept, so the run does not keep the status its work earned, as other runs do.
  const stopped = run.cancel_requested_at != null;
  if (state === "succeeded" && !stopped && (row.state === "open" || row.state === "committing")) {
    if (row.state === "open") {
      execute(SQL.askRunCommit, [run.id]);
      execute(SQL.notifyWakeup, ["commit"]);
    }
    return null;
  }
  execute(SQL.endRunTransaction, [run.id]);
  if (row.state === "lost") return { state: "failed", reason: run.reason ?? reason };
  if (state === "succeeded") return { state: "cancelled", reason: `${run.reason ?? "run cancelled"}; the run's transaction was rolled back` };
  return { state, reason: `${reason ?? state}; the run's transaction was rolled back` };
}

/** A run whose holder ended: what the run's reason says. */
function lostReason(worker: string, workerId: string): string {
  return `its transaction's supervisor "${worker}" (incarnation ${workerId}) ended before the run committed: the server rolled the run's transaction back`;
}

/**
 * tick: ends runs whose commit carried its mark (succeeded), and stops runs whose holder
 * ended before it (failed; the server rolled the transaction back when the connection
 * went). Runs another session holds locked are left for a later tick: returns true when
 * it left any, so that tick comes soon (nothing else may wake an idle supervisor).
 */
export function settleRunTransactions(nowMs: number, limit: number): boolean {
  const committed = (execute(SQL.committedRunTransactions, [limit]) as { run_id: string }[]).map((r) => r.run_id);
  const ending = lockRunsForDecision(committed, "skip");
  if (ending.length > 0) decideRuns(ending, nowMs);
  const orphaned = execute(SQL.orphanedRunTransactions, [limit]) as { run_id: string; worker_id: string; worker_name: string }[];
  const runs = lockRunsForDecision(orphaned.map((o) => o.run_id), "skip");
  loseRunTransactions(runs, null, (id) => {
    const o = orphaned.find((x) => x.run_id === id)!;
    return lostReason(o.worker_name, o.worker_id);
  }, nowMs);
  return ending.length < committed.length || runs.length < orphaned.length;
}

/** Marks the transactions of locked runs lost (of `workerId` only, when given) and stops those runs: they fail. */
export function loseRunTransactions(runs: readonly RunRow[], workerId: string | null, reasonOf: (runId: string) => string, nowMs: number): string[] {
  if (runs.length === 0) return [];
  const lost = (execute(SQL.markRunTransactionsLost, [runs.map((r) => r.id), workerId]) as { run_id: string }[]).map((r) => r.run_id);
  for (const run of runs) {
    if (lost.includes(run.id)) cancelLockedRuns([run], "terminate", reasonOf(run.id), nowMs);
  }
  return lost;
}

/** What tick tells a worker about the transactions it holds. */
export interface RunTransactionOrders {
  /** Runs whose transaction it keeps open. */
  open: string[];
  /** Runs whose transaction it is to commit now (with _commit_run). */
  commit: string[];
}

export function runTransactionOrders(workerId: string): RunTransactionOrders {
  const rows = execute(SQL.runTransactionsOf, [workerId]) as { run_id: string; state: string }[];
  return { open: rows.filter((r) => r.state === "open").map((r) => r.run_id), commit: rows.filter((r) => r.state === "committing").map((r) => r.run_id) };
}
