// clockwork._replan_calendar: after a calendar's dates changed (define_calendar,
// alter_calendar, in extension/sql/47_calendars.sql), the next slot of every schedule that
// excludes it is computed again from its last handled slot, so that a date just added is
// not fired and a date just removed is. Under each job's lock,
// as every write of a job's schedules (db/lifecycle.ts, "Concurrency").
import { calendarDates, firstSlotFrom, jobVersion } from "../db/jobs.ts";
import { lockJobs } from "../db/lifecycle.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

export const replan_calendar = sqlFunction({
  name: "_replan_calendar",
  entry: "replan_calendar",
  args: "calendar text, now timestamptz",
  returns: "integer",
  volatility: "volatile",
  security: "definer",
  grant: "none",
  // define_calendar and alter_calendar call it: its errors (a lock time-out) reach people.
  front: true,
  comment: "Re-plans the next slot of every schedule of an enabled job that excludes the calendar; returns how many changed. Called by define_calendar and alter_calendar.",
  body: (calendar: string, now: Date): number => {
    const nowMs = instantOf(now);
    const jobs = execute(SQL.jobsExcludingCalendar, [calendar]) as { id: string; version: number }[];
    if (jobs.length === 0) return 0;
    lockJobs(jobs.map((j) => j.id), "wait");
    const calendars = calendarDates();
    let changed = 0;
    for (const job of jobs) {
      const schedules = jobVersion(job.id, job.version).schedules;
      for (const row of execute(SQL.schedulesOfJob, [job.id]) as { id: string; position: number; next_fire_at: Date | null; last_slot_at: Date | null }[]) {
        const schedule = schedules[row.position];
        // Waiting for an event (@after: a run's end; @reboot: a start), or not due again: left alone.
        if (schedule === undefined || row.next_fire_at === null || schedule.kind === "after" || schedule.kind === "reboot") continue;
        if (!schedule.exclude.calendars.includes(calendar)) continue;
        // From the last slot handled: a slot between it and now that the change un-excludes
        // is due now, and tick fires it (or not) under the job's misfire policy.
        const after = row.last_slot_at?.getTime() ?? Math.min(nowMs, row.next_fire_at.getTime()) - 1;
        const next = firstSlotFrom(schedule, after, nowMs, calendars);
        if (next === row.next_fire_at.getTime()) continue;
        execute(SQL.setNextFire, [row.id, next === null ? null : new Date(next)]);
        changed++;
      }
    }
    if (changed > 0) execute(SQL.notifyWakeup, ["calendar"]);
    return changed;
  },
});
