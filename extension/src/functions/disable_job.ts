// clockwork.disable_job: stop a job from firing. Runs in progress continue; runs held back
// by the overlap policy (waiting, never started) end cancelled, since nothing would be left
// to release them in a job that fires no more.
import { callerRights } from "../db/caller.ts";
import { cancelLockedRuns, lockJobs } from "../db/lifecycle.ts";
import type { RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { transactionNow } from "../db/values.ts";

export const disable_job = sqlFunction({
  name: "disable_job",
  args: "job text",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Stops a job from firing; runs in progress continue, runs held back by its overlap policy are cancelled. Returns whether it was enabled.",
  body: (jobName: string): boolean => {
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    const nowMs = transactionNow();
    lockJobs([target.id], "wait");
    execute(SQL.setJobEnabled, [target.id, false, new Date(nowMs)]);
    // No next slot while disabled; enable_job computes one from the time it is enabled.
    execute(SQL.clearNextFire, [target.id]);
    // Holding the job's lock: nobody else creates or releases its waiting runs now, and a
    // waiting run locked elsewhere is being cancelled already.
    const waiting = execute(SQL.activeRunsOfJobSkipLocked, [target.id, ["waiting"]]) as RunRow[];
    cancelLockedRuns(waiting, "terminate", `job disabled by ${callerRights().role}`, nowMs);
    return target.enabled;
  },
});
