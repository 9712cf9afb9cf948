// clockwork.explain: "why didn't my job run?" — what happened to the slot at a time, or
// what will happen to it. Recorded facts come first (a run of that slot, a skipped-slots
// row covering it); otherwise the job's schedules say whether the time is a slot at all,
// which exclusion removed it, or which slots are nearest.
import { checkSlot, nextFireTime, previousFireTime, type Schedule } from "../core/index.ts";
import { calendarDates, jobVersion } from "../db/jobs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { postgresTimeZoneRules } from "../db/timezone.ts";
import { instantOf, isoOrNull } from "../db/values.ts";

interface ScheduleRow {
  id: string;
  position: number;
  kind: string;
  description: string;
  next_fire_at: Date | null;
  last_slot_at: Date | null;
}

interface SlotRun {
  id: string;
  schedule_id: string;
  state: string;
  reason: string | null;
  trigger: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

interface SkipRow {
  schedule_id: string;
  slot_at: Date;
  last_slot_at: Date;
  slots: number | null;
  reason: string;
  explanation: string;
  recorded_at: Date;
}

export type Outcome =
  | "ran" | "running" | "queued" | "waiting" | "skipped"
  | "excluded" | "out_of_bounds" | "not_a_slot"
  | "will_fire" | "will_not_fire" | "due" | "not_recorded";

export interface Explanation {
  job: string;
  at: string;
  outcome: Outcome;
  /** The schedule the slot belongs to (or would belong to). */
  schedule: { position: number; text: string; description: string } | null;
  run?: { id: number; state: string; reason: string | null; trigger: string; created_at: string; started_at: string | null; finished_at: string | null };
  skip?: { reason: string; explanation: string; slot_at: string; last_slot_at: string; slots: number | null; recorded_at: string };
  excluded_by?: string;
  nearest?: { before: { slot_at: string; schedule: number } | null; after: { slot_at: string; schedule: number } | null };
  /** The answer in one or two sentences. */
  text: string;
}

const EVENT_KINDS = new Set(["after", "reboot"]);

const RUN_STATE_WORDS: Record<string, string> = {
  succeeded: "succeeded", failed: "failed", timed_out: "timed out", cancelled: "was cancelled",
  running: "is running", queued: "is queued for a supervisor", waiting: "is waiting",
};

export function explainSlot(jobName: string, atMs: number, nowMs: number): Explanation {
  const target = execute(SQL.jobForCaller, [jobName])[0] as { id: string; version: number; enabled: boolean };
  const job = jobVersion(target.id, target.version);
  const rows = execute(SQL.schedulesForExplain, [target.id]) as ScheduleRow[];
  const at = new Date(atMs).toISOString();
  const ids = rows.map((r) => r.id);
  const info = (row: ScheduleRow | undefined) => row === undefined ? null : {
    position: row.position, text: job.schedules[row.position]?.text ?? row.kind, description: row.description,
  };
  const base = { job: job.name, at };

  // 1. What was recorded for this slot.
  const [run] = ids.length === 0 ? [] : execute(SQL.runsOfSlot, [ids, new Date(atMs)]) as SlotRun[];
  if (run !== undefined) {
    const row = rows.find((r) => r.id === run.schedule_id);
    const final = ["succeeded", "failed", "timed_out", "cancelled"].includes(run.state);
    const outcome: Outcome = final ? "ran" : run.state === "waiting" ? "waiting" : run.state === "queued" ? "queued" : "running";
    return {
      ...base, outcome, schedule: info(row),
      run: {
        id: Number(run.id), state: run.state, reason: run.reason, trigger: run.trigger, created_at: run.created_at.toISOString(),
        started_at: isoOrNull(run.started_at?.getTime()), finished_at: isoOrNull(run.finished_at?.getTime()),
      },
      text: `${at} is a slot of schedule ${row?.position ?? "?"} (${row?.description ?? "since removed"}); it became run ${run.id}, which ${RUN_STATE_WORDS[run.state] ?? run.state}${run.reason !== null ? `: ${run.reason}` : ""}.`,
    };
  }
  const calendars = calendarDates();
  const contextOf = (row: ScheduleRow) => ({ calendars, anchorMs: (row.next_fire_at ?? row.last_slot_at)?.getTime() ?? null });
  const scheduleOf = (row: ScheduleRow): Schedule | undefined => job.schedules[row.position];
  const skips = ids.length === 0 ? [] : execute(SQL.skipsCovering, [ids, new Date(atMs)]) as SkipRow[];
  for (const skip of skips) {
    const row = rows.find((r) => r.id === skip.schedule_id)!;
    const schedule = scheduleOf(row);
    // A range covers the schedule's slots inside it, not every instant.
    const single = skip.slot_at.getTime() === skip.last_slot_at.getTime();
    if (!single && schedule !== undefined && !EVENT_KINDS.has(schedule.kind) && checkSlot(schedule, atMs, postgresTimeZoneRules, contextOf(row)).kind !== "slot") continue;
    const range = single ? "" : ` It is one of ${skip.slots ?? "more than 10 000"} consecutive slots, ${skip.slot_at.toISOString()} to ${skip.last_slot_at.toISOString()}, skipped for this reason.`;
    return {
      ...base, outcome: "skipped", schedule: info(row),
      skip: {
        reason: skip.reason, explanation: skip.explanation, slot_at: skip.slot_at.toISOString(), last_slot_at: skip.last_slot_at.toISOString(),
        slots: skip.slots, recorded_at: skip.recorded_at.toISOString(),
      },
      text: `${at} is a slot of schedule ${row.position} (${row.description}); it was not run: ${skip.explanation}.${range}`,
    };
  }

  // 2. Nothing recorded: what the schedules say about this time.
  let excluded: { row: ScheduleRow; by: string } | null = null;
  let outOfBounds: { row: ScheduleRow; bound: string } | null = null;
  for (const row of rows) {
    const schedule = scheduleOf(row);
    if (schedule === undefined) continue;
    if (EVENT_KINDS.has(schedule.kind)) {
      // Event schedules have the slot the database stored, and none other.
      if (row.next_fire_at?.getTime() !== atMs) continue;
    } else {
      const check = checkSlot(schedule, atMs, postgresTimeZoneRules, contextOf(row));
      if (check.kind === "excluded") excluded ??= { row, by: check.by };
      if (check.kind === "out_of_bounds") outOfBounds ??= { row, bound: check.bound };
      if (check.kind !== "slot") continue;
    }
    const schedule0 = info(row);
    if (atMs > nowMs) {
      if (!target.enabled) {
        return { ...base, outcome: "will_not_fire", schedule: schedule0, text: `${at} is a slot of schedule ${row.position} (${row.description}), but the job is disabled: it will not fire unless enable_job is called before then.` };
      }
      return {
        ...base, outcome: "will_fire", schedule: schedule0,
        text: `${at} is a future slot of schedule ${row.position} (${row.description}); it will fire then, unless a run of the job is still going and the overlap policy (${job.policies.overlap.mode}) decides otherwise.`,
      };
    }
    if (target.enabled && row.next_fire_at !== null && atMs >= row.next_fire_at.getTime()) {
      return { ...base, outcome: "due", schedule: schedule0, text: `${at} is a slot of schedule ${row.position} (${row.description}) that is due and not decided yet: no supervisor has ticked since. The next tick fires it or records why not.` };
    }
    const pruned = execute(SQL.prunedThrough, [target.id])[0] as { through: Date | null };
    if (pruned.through !== null && atMs <= pruned.through.getTime()) {
      return {
        ...base, outcome: "not_recorded", schedule: schedule0,
        text: `${at} is a slot of schedule ${row.position} (${row.description}), and the job's history up to ${pruned.through.toISOString()} has been pruned by its retention policy (policies.retention; counts in clockwork.run_counts): what became of it is no longer recorded.`,
      };
    }
    return {
      ...base, outcome: "not_recorded", schedule: schedule0,
      text: `${at} is a slot of schedule ${row.position} (${row.description}) by the job's current definition, but nothing was recorded for it: the job was disabled then, did not have this schedule yet (it was defined, changed or enabled later), or the run's history was pruned.`,
    };
  }
  if (excluded !== null) {
    return {
      ...base, outcome: "excluded", schedule: info(excluded.row), excluded_by: excluded.by,
      text: `${at} would be a slot of schedule ${excluded.row.position} (${excluded.row.description}), but ${excluded.by} excludes it.`,
    };
  }
  if (outOfBounds !== null) {
    return {
      ...base, outcome: "out_of_bounds", schedule: info(outOfBounds.row),
      text: `${at} would be a slot of schedule ${outOfBounds.row.position} (${outOfBounds.row.description}), but it lies ${outOfBounds.bound === "starts_at" ? "before the schedule's starts_at" : "after the schedule's ends_at"}.`,
    };
  }

  // 3. Not a slot: the nearest slots of any schedule, before and after.
  let before: { slot_at: number; schedule: number } | null = null;
  let after: { slot_at: number; schedule: number } | null = null;
  for (const row of rows) {
    const schedule = scheduleOf(row);
    if (schedule === undefined) continue;
    let b: number | null;
    let a: number | null;
    if (EVENT_KINDS.has(schedule.kind)) {
      const around = execute(SQL.slotsOfRunsAround, [row.id, new Date(atMs)])[0] as { before: Date | null; after: Date | null };
      b = around.before?.getTime() ?? null;
      a = around.after?.getTime() ?? (row.next_fire_at !== null && row.next_fire_at.getTime() > atMs ? row.next_fire_at.getTime() : null);
    } else {
      b = previousFireTime(schedule, atMs, postgresTimeZoneRules, contextOf(row));
      a = nextFireTime(schedule, atMs, postgresTimeZoneRules, contextOf(row));
    }
    if (b !== null && (before === null || b > before.slot_at)) before = { slot_at: b, schedule: row.position };
    if (a !== null && (after === null || a < after.slot_at)) after = { slot_at: a, schedule: row.position };
  }
  const words = (x: { slot_at: number; schedule: number } | null) => x === null ? "none" : `${new Date(x.slot_at).toISOString()} (schedule ${x.schedule})`;
  const what = rows.length === 0 ? "the job has no schedule (it runs only when started by hand)" : `the nearest slots are ${words(before)} before and ${words(after)} after`;
  return {
    ...base, outcome: "not_a_slot", schedule: null,
    nearest: {
      before: before === null ? null : { slot_at: new Date(before.slot_at).toISOString(), schedule: before.schedule },
      after: after === null ? null : { slot_at: new Date(after.slot_at).toISOString(), schedule: after.schedule },
    },
    text: `${at} is not a slot of any schedule of the job; ${what}.`,
  };
}

export const explain = sqlFunction({
  name: "explain",
  args: "job text, at timestamptz, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "stable",
  security: "definer",
  grant: "public",
  comment:
    "What happened (or will happen) to the job's slot at a time: it ran as run N, it was skipped and why, an exclusion removed it, or it is not a slot (with the nearest slots before and after). Returns {job, at, outcome, schedule, run?, skip?, excluded_by?, nearest?, text}.",
  body: (jobName: string, at: Date, now: Date): Explanation => {
    return explainSlot(jobName, instantOf(at), instantOf(now));
  },
});
