// clockwork.enable_job: let a disabled job fire again, from now on.
import { calendarDates, firstSlotFrom, jobVersion } from "../db/jobs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf, isoOrNull } from "../db/values.ts";

export const enable_job = sqlFunction({
  name: "enable_job",
  args: "job text, now timestamptz DEFAULT now()",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Lets a disabled job fire again from now on (slots passed while disabled are not caught up); returns whether it was disabled.",
  body: (jobName: string, now: Date): boolean => {
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    if (target.enabled) return false;
    const job = jobVersion(target.id, target.version);
    const nowMs = instantOf(now);
    const calendars = calendarDates();
    const rows = job.schedules.map((schedule, position) => ({
      position,
      next_fire_at: isoOrNull(firstSlotFrom(schedule, nowMs, nowMs, calendars)),
    }));
    execute(SQL.setJobEnabled, [target.id, true, now]);
    // A job enabled again gets a whole dead-man period before it counts as silent.
    execute(SQL.rewatchJob, [target.id, now]);
    execute(SQL.setNextFireByPosition, [target.id, JSON.stringify(rows)]);
    execute(SQL.notifyWakeup, ["enabled"]);
    return true;
  },
});
