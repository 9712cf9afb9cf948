// Shared helpers for the core's tests.
import { parseSchedule, nextFireTimes, formatIssue, type Schedule, type ScheduleContext } from "../../extension/src/core/index.ts";
import { intlRules, isValidTimeZone, ms, iso } from "./tz.ts";

export { ms, iso, intlRules, isValidTimeZone };

export function schedule(input: unknown): Schedule {
  const r = parseSchedule(input, { isValidTimeZone });
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join("; "));
  return r.schedule;
}

/** The next `count` fire times after `after` (ISO with Z), as ISO strings. */
export function fires(input: unknown, after: string, count = 3, context: ScheduleContext = {}): string[] {
  return nextFireTimes(schedule(input), ms(after), count, intlRules, context).map((t) => iso(t)!);
}

/** Error messages (path: message) of a schedule that must not parse. */
export function scheduleErrors(input: unknown, options: Parameters<typeof parseSchedule>[1] = { isValidTimeZone }): string[] {
  const r = parseSchedule(input, options);
  if (r.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return r.errors.map(formatIssue);
}
