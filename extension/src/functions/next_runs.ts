// clockwork.next_runs: the next fire times of a job, merged over its schedules, each with
// the schedule's description: a way to check a schedule before trusting it.
import { describeSchedule, nextFireTimes } from "../core/index.ts";
import { calendarDates, jobVersion } from "../db/jobs.ts";
import { raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { postgresTimeZoneRules } from "../db/timezone.ts";
import { instantOf } from "../db/values.ts";

export const next_runs = sqlFunction({
  name: "next_runs",
  args: "job text, n integer DEFAULT 5, now timestamptz DEFAULT now()",
  returns: "TABLE (fire_at timestamptz, schedule integer, description text)",
  returnsSet: true,
  volatility: "stable",
  security: "definer",
  grant: "public",
  comment: "The next n fire times of a job over all its schedules, with each schedule in words (e.g. \"at 02:30 on Monday in Europe/Berlin\").",
  body: (jobName: string, n: number, now: Date): void => {
    if (n === null || n < 0 || n > 10_000) raise("invalid_argument", "n", "n must be between 0 and 10000");
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    const job = jobVersion(target.id, target.version);
    const nowMs = instantOf(now);
    const context = { calendars: calendarDates(), anchorMs: nowMs };
    const times = job.schedules.flatMap((schedule, position) =>
      nextFireTimes(schedule, nowMs, n, postgresTimeZoneRules, context).map((t) => ({ t, position, description: describeSchedule(schedule) })),
    );
    times.sort((a, b) => a.t - b.t || a.position - b.position);
    for (const x of times.slice(0, n)) {
      plv8.return_next({ fire_at: new Date(x.t), schedule: x.position, description: x.description });
    }
  },
});
