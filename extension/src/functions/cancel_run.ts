// clockwork.cancel_run: stop a run now. Its ready steps are dropped, running ones are
// stopped by their supervisors (NOTIFY clockwork_cancel, and the next heartbeat), and the
// run ends cancelled at once; late reports from its steps are refused. Like every other
// end of a run it goes through the lifecycle, so @after schedules are re-armed and runs
// held back for it are released.
import { callerRights } from "../db/caller.ts";
import { cancelRuns } from "../db/lifecycle.ts";
import { raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

export const cancel_run = sqlFunction({
  name: "cancel_run",
  args: "run bigint, now timestamptz DEFAULT now()",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Cancels a waiting, queued or running run at once: ready steps are dropped, running ones are stopped by their supervisors (NOTIFY clockwork_cancel); returns false when the run had already ended.",
  body: (run: string | number | bigint, now: Date): boolean => {
    const id = String(run);
    const rights = callerRights();
    const target = execute(SQL.runForCaller, [id])[0] as { id: string; state: string; may_manage: boolean } | undefined;
    // Someone else's run is reported as missing, like someone else's job.
    if (target === undefined || !(target.may_manage || rights.is_supervisor)) {
      raise("not_found", "run", `run ${id} does not exist`);
    }
    return cancelRuns([id], "terminate", `cancelled by ${rights.role}`, instantOf(now), "wait").length > 0;
  },
});
