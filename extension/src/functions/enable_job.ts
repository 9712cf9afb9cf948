// clockwork.enable_job: let a disabled job fire again, from now on.
import { nextFireTimes } from "../core/index.ts";
import { calendarDates, jobVersion } from "../db/jobs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { postgresTimeZoneRules } from "../db/timezone.ts";
import { instantOf } from "../db/values.ts";

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
    const context = { calendars: calendarDates(), anchorMs: nowMs };
    const rows = job.schedules.map((schedule, position) => {
      const next = schedule.kind === "after" || schedule.kind === "reboot" ? null : nextFireTimes(schedule, nowMs, 1, postgresTimeZoneRules, context)[0] ?? null;
      return { position, next_fire_at: next === null ? null : new Date(next).toISOString() };
    });
    execute(SQL.setJobEnabled, [target.id, true, now]);
    execute(SQL.setNextFireByPosition, [target.id, JSON.stringify(rows)]);
    execute(SQL.notifyWakeup, ["enabled"]);
    return true;
  },
});
