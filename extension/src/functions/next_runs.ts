// clockwork.next_runs: the next fire times of a job, merged over its schedules, each with
// the schedule as written and in words: a way to check a schedule before trusting it.
import { describeSchedule, nextFireTimes } from "../core/index.ts";
import { calendarDates, jobVersion } from "../db/jobs.ts";
import { raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { postgresTimeZoneRules } from "../db/timezone.ts";
import { instantOf } from "../db/values.ts";

interface ScheduleRow {
  id: string;
  position: number;
  next_fire_at: Date | null;
  last_slot_at: Date | null;
}

export const next_runs = sqlFunction({
  name: "next_runs",
  args: "job text, n integer DEFAULT 5, now timestamptz DEFAULT now()",
  returns: "TABLE (fire_at timestamptz, schedule text, description text, schedule_position integer)",
  returnsSet: true,
  volatility: "stable",
  security: "definer",
  grant: "public",
  comment: "The next n fire times of a job over all its schedules: each with its schedule as written, in words (e.g. \"at 02:30 on Monday in Europe/Berlin\"), and its position in the job's schedules. @after and @reboot schedules show the slot the database has set (when a run ends, when a scheduler starts).",
  body: (jobName: string, n: number, now: Date): void => {
    if (n === null || n < 0 || n > 10_000) raise("invalid_argument", "n", "n must be between 0 and 10000");
    const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
    const job = jobVersion(target.id, target.version);
    const nowMs = instantOf(now);
    const calendars = calendarDates();
    const rows = execute(SQL.schedulesForExplain, [target.id]) as ScheduleRow[];
    const times = job.schedules.flatMap((schedule, position) => {
      const row = rows.find((r) => r.position === position);
      const stored = row?.next_fire_at?.getTime() ?? null;
      const entry = (t: number) => ({ t, position, text: schedule.text, description: describeSchedule(schedule) });
      // Event schedules have the one slot the database set (job_status.next_fire_at shows it too).
      if (schedule.kind === "after" || schedule.kind === "reboot") return stored !== null && stored > nowMs ? [entry(stored)] : [];
      // @every counts from the grid its schedule fires on, not from the time of the question.
      const anchorMs = stored ?? row?.last_slot_at?.getTime() ?? nowMs;
      return nextFireTimes(schedule, nowMs, n, postgresTimeZoneRules, { calendars, anchorMs }).map(entry);
    });
    times.sort((a, b) => a.t - b.t || a.position - b.position);
    for (const x of times.slice(0, n)) {
      plv8.return_next({ fire_at: new Date(x.t), schedule: x.text, description: x.description, schedule_position: x.position });
    }
  },
});
