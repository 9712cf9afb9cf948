// clockwork.schedule / clockwork.schedule_shell: pg_cron's one-liner, for SQL and for a
// shell command. Both build an ordinary one-step job definition, so everything else
// (history, policies, next_runs) is the same as for jobs defined in full.
import { storeJob } from "../db/jobs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { bigintResult, transactionNow } from "../db/values.ts";

function oneStepJob(name: string, schedule: string, timeZone: string, step: Record<string, string>): unknown {
  return { name, time_zone: timeZone, schedules: [schedule], steps: [{ name: "main", ...step }] };
}

export const schedule = sqlFunction({
  name: "schedule",
  args: "name text, schedule text, sql text, time_zone text DEFAULT 'UTC'",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Schedules an SQL command as a one-step job (like pg_cron's cron.schedule); returns the job id.",
  body: (name: string, scheduleText: string, sql: string, timeZone: string): number =>
    bigintResult(storeJob(oneStepJob(name, scheduleText, timeZone, { sql }), transactionNow())),
});

export const schedule_shell = sqlFunction({
  name: "schedule_shell",
  args: "name text, schedule text, command text, time_zone text DEFAULT 'UTC'",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Schedules a shell command as a one-step job run by a supervisor (needs clockwork_shell); returns the job id.",
  body: (name: string, scheduleText: string, command: string, timeZone: string): number =>
    bigintResult(storeJob(oneStepJob(name, scheduleText, timeZone, { shell: command }), transactionNow())),
});
