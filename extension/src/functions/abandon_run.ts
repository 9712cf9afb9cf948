// clockwork.abandon_run: a supervisor gives up a run's transaction (transaction: run) that
// it can no longer commit: the connection holding it was lost (a restart of the server, a
// network cut), or its COMMIT failed (a deferred constraint). The transaction is gone; the
// run fails, as when its supervisor dies (db/run-transactions.ts).
import { lockRunsForDecision } from "../db/lifecycle.ts";
import { loseRunTransactions } from "../db/run-transactions.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { instantOf } from "../db/values.ts";
import { currentWorkerId } from "../db/workers.ts";

export const abandon_run = sqlFunction({
  name: "abandon_run",
  args: "worker_id bigint, run bigint, reason text, now timestamptz DEFAULT now()",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment: "A supervisor gives up the transaction of a run (transaction: run) that it holds and can no longer commit (its connection was lost, or its COMMIT failed): the run fails with the reason. Returns false when the worker held no open transaction for the run.",
  body: (workerId: string | number | bigint, run: string | number | bigint, reason: string | null, now: Date): boolean => {
    const me = currentWorkerId({ id: String(workerId) });
    if (me === null) return false;
    const nowMs = instantOf(now);
    const runs = lockRunsForDecision([String(run)], "wait");
    const why = `the run's transaction could not commit${reason ? ` (${reason})` : ""}: it was rolled back`;
    return loseRunTransactions(runs, me, () => why, nowMs).length > 0;
  },
});
