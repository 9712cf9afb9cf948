// clockwork.drop_job: remove a job. Its active runs end first, through the lifecycle like
// every other end of a run, so their supervisors are told to stop their steps. Its history
// stays (run_history, skip_history) until the retention policy prunes it, unless asked.
import { callerRights } from "../db/caller.ts";
import { cancelLockedRuns, dropJobKeepingHistory, lockJobs, lockRunsForDecision } from "../db/lifecycle.ts";
import type { RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { transactionNow } from "../db/values.ts";

export const drop_job = sqlFunction({
  name: "drop_job",
  args: "job text, keep_history boolean DEFAULT true",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Drops a job: its active runs are cancelled first (their running steps are stopped) and its name is free again. Its runs and skipped slots stay in run_history and skip_history until its retention prunes them; with keep_history => false they are deleted with it.",
  body: (jobName: string, keepHistory: boolean | null): boolean => {
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string };
    const nowMs = transactionNow();
    const reason = `job dropped by ${callerRights().role}`;
    // Run rows first, then the job's lock (the lifecycle's lock order); then, under the
    // lock, any run created meanwhile.
    const ids = (execute(SQL.activeRunIdsOfJob, [target.id]) as { id: string }[]).map((r) => r.id);
    const runs = lockRunsForDecision(ids, "wait");
    lockJobs([target.id], "wait");
    const later = execute(SQL.activeRunsOfJobSkipLocked, [target.id, ["waiting", "queued", "running"]]) as RunRow[];
    cancelLockedRuns([...runs, ...later.filter((r) => !ids.includes(r.id))], "terminate", reason, nowMs);
    if (keepHistory === false) {
      execute(SQL.deleteJob, [target.id]);
      execute(SQL.notifyWakeup, ["dropped"]);
    } else {
      dropJobKeepingHistory(target.id, reason, nowMs);
    }
    return true;
  },
});
