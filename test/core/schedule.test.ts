import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { describeSchedule, nextFireTime, slotsBetween, parseSchedule, formatIssue, SQLSTATE } from "../../extension/src/core/index.ts";
import { fires, schedule, scheduleErrors, ms, iso, intlRules, isValidTimeZone } from "./helpers.ts";

describe("fixed-interval and one-shot schedules", () => {
  test("@every counts from the epoch by default", () => {
    assert.deepEqual(fires("@every 10m", "2026-01-01T00:03:00Z"), ["2026-01-01T00:10:00.000Z", "2026-01-01T00:20:00.000Z", "2026-01-01T00:30:00.000Z"]);
  });
  test("@every counts from the caller's anchor (creation time)", () => {
    assert.deepEqual(fires("@every 10m", "2026-01-01T00:03:00Z", 2, { anchorMs: ms("2026-01-01T00:01:30Z") }), ["2026-01-01T00:11:30.000Z", "2026-01-01T00:21:30.000Z"]);
  });
  test("@every counts from starts_at and not before it", () => {
    assert.deepEqual(fires({ every: "90s", starts_at: "2026-01-01T00:00:10Z" }, "2025-12-31T00:00:00Z", 2), ["2026-01-01T00:00:10.000Z", "2026-01-01T00:01:40.000Z"]);
  });
  test("@every with an explicit anchor in the schedule's zone", () => {
    assert.deepEqual(fires({ every: "1 day", anchor: "2026-01-01T06:00", time_zone: "Europe/Berlin" }, "2026-01-01T06:00:00Z", 1), ["2026-01-02T05:00:00.000Z"]);
  });
  test("@after fires one interval after the previous run ended", () => {
    assert.deepEqual(fires("@after 1h", "2026-01-01T00:00:00Z", 3, { lastRunEndMs: ms("2026-01-01T00:30:00Z") }), ["2026-01-01T01:30:00.000Z"]);
  });
  test("@after without a previous run fires at the anchor", () => {
    assert.deepEqual(fires("@after 1h", "2026-01-01T00:00:00Z", 3, { anchorMs: ms("2026-01-01T00:00:05Z") }), ["2026-01-01T00:00:05.000Z"]);
  });
  test("@after without a previous run or an anchor has no slot", () => {
    assert.deepEqual(fires("@after 1h", "2026-01-01T00:00:00Z"), []);
  });
  test("@reboot fires once at the scheduler's start", () => {
    assert.deepEqual(fires("@reboot", "2026-01-01T00:00:00Z", 3, { schedulerStartedAtMs: ms("2026-01-01T00:00:01Z") }), ["2026-01-01T00:00:01.000Z"]);
    assert.deepEqual(fires("@reboot", "2026-01-01T00:00:02Z", 3, { schedulerStartedAtMs: ms("2026-01-01T00:00:01Z") }), []);
  });
  test("at a local time in the schedule's zone", () => {
    assert.deepEqual(fires({ at: "2026-12-24T18:00", time_zone: "Europe/Berlin" }, "2026-01-01T00:00:00Z"), ["2026-12-24T17:00:00.000Z"]);
  });
  test("at with an explicit offset ignores the zone", () => {
    assert.deepEqual(fires("at 2026-12-24T18:00:00-05:00", "2026-01-01T00:00:00Z"), ["2026-12-24T23:00:00.000Z"]);
  });
  test("at in the past has no slot", () => {
    assert.deepEqual(fires("at 2020-01-01T00:00Z", "2026-01-01T00:00:00Z"), []);
  });
  test("TZ= prefix sets the zone of a cron line", () => {
    assert.deepEqual(fires("CRON_TZ=America/New_York 0 9 * * *", "2026-01-01T00:00:00Z", 1), ["2026-01-01T14:00:00.000Z"]);
  });
});

describe("bounds and exclusions", () => {
  test("starts_at and ends_at bound the slots, inclusive", () => {
    assert.deepEqual(fires({ cron: "0 * * * *", starts_at: "2026-01-01T02:00:00Z", ends_at: "2026-01-01T04:00:00Z" }, "2026-01-01T00:00:00Z", 10), ["2026-01-01T02:00:00.000Z", "2026-01-01T03:00:00.000Z", "2026-01-01T04:00:00.000Z"]);
  });
  test("local starts_at is read in the schedule's zone", () => {
    assert.deepEqual(fires({ cron: "0 * * * *", time_zone: "Asia/Kathmandu", starts_at: "2026-01-01T06:00" }, "2025-12-31T00:00:00Z", 1), ["2026-01-01T00:15:00.000Z"]);
  });
  test("excluded whole dates are local dates", () => {
    assert.deepEqual(fires({ cron: "0 23 * * *", time_zone: "America/New_York", exclude: { dates: ["2026-01-02"] } }, "2026-01-01T12:00:00Z", 2), ["2026-01-02T04:00:00.000Z", "2026-01-04T04:00:00.000Z"]);
  });
  test("excluded date-times skip one slot", () => {
    assert.deepEqual(fires({ cron: "0 * * * *", exclude: { datetimes: ["2026-01-01T02:00"] } }, "2026-01-01T00:30:00Z", 3), ["2026-01-01T01:00:00.000Z", "2026-01-01T03:00:00.000Z", "2026-01-01T04:00:00.000Z"]);
  });
  test("excluded date-times with an offset are exact instants", () => {
    assert.deepEqual(fires({ cron: "0 * * * *", time_zone: "Europe/Berlin", exclude: { datetimes: ["2026-01-01T02:00:00+01:00"] } }, "2026-01-01T00:30:00Z", 2), ["2026-01-01T02:00:00.000Z", "2026-01-01T03:00:00.000Z"]);
  });
  test("excluded times of day skip that time every day (pgAgent exceptions)", () => {
    assert.deepEqual(fires({ cron: "0 9,10 * * *", exclude: { times: ["09:00"] } }, "2026-01-01T00:00:00Z", 2), ["2026-01-01T10:00:00.000Z", "2026-01-02T10:00:00.000Z"]);
  });
  test("named calendars exclude their dates, supplied as data", () => {
    const s = schedule({ cron: "0 9 * * MON-FRI", exclude: { calendars: ["holidays"] } });
    const slots = slotsBetween(s, ms("2026-12-23T00:00:00Z"), ms("2026-12-31T00:00:00Z"), intlRules, 10, { calendars: { holidays: ["2026-12-24", "2026-12-25"] } });
    assert.deepEqual(slots.map(iso), ["2026-12-23T09:00:00.000Z", "2026-12-28T09:00:00.000Z", "2026-12-29T09:00:00.000Z", "2026-12-30T09:00:00.000Z"]);
  });
  test("an excluded day of a minutely schedule is jumped at once", () => {
    const s = schedule({ cron: "* * * * *", exclude: { dates: ["2026-01-02"] } });
    assert.equal(iso(nextFireTime(s, ms("2026-01-01T23:59:00Z"), intlRules)), "2026-01-03T00:00:00.000Z");
  });
  test("slotsBetween is (from, to] and stops at the limit", () => {
    const s = schedule("*/10 * * * *");
    assert.deepEqual(slotsBetween(s, ms("2026-01-01T00:00:00Z"), ms("2026-01-01T00:30:00Z"), intlRules, 10).map(iso), ["2026-01-01T00:10:00.000Z", "2026-01-01T00:20:00.000Z", "2026-01-01T00:30:00.000Z"]);
    assert.equal(slotsBetween(s, ms("2026-01-01T00:00:00Z"), ms("2026-01-02T00:00:00Z"), intlRules, 5).length, 5);
  });
});

test("refuses an instant that is not a number instead of looping", () => {
  assert.throws(() => nextFireTime(schedule("* * * * *"), Number.NaN, intlRules), /expected an instant in epoch milliseconds, got NaN/);
});

describe("describeSchedule", () => {
  const cases: Array<[unknown, string]> = [
    ["*/5 * * * *", "every 5 minutes"],
    ["* * * * *", "every minute"],
    ["*/10 * * * * *", "every 10 seconds"],
    ["0 * * * *", "every hour"],
    ["@daily", "at 00:00"],
    [{ cron: "30 2 * * 1", time_zone: "Europe/Berlin" }, "at 02:30 on Monday in Europe/Berlin"],
    ["0 9 * * 1-5", "at 09:00 on weekdays"],
    ["0 8,17 * * *", "at 08:00 and 17:00"],
    ["0 0 1 * *", "at 00:00 on the 1st of the month"],
    ["0 0 L * *", "at 00:00 on the last day of the month"],
    ["0 6 * 1,7 *", "at 06:00 in January or July"],
    // A slot fires on any one of the listed days, months: "or" (it said "and").
    ["0 9 * * 1,3", "at 09:00 on Monday or Wednesday"],
    ["0 9 1,15 * *", "at 09:00 on the 1st or 15th of the month"],
    ["0 9 1,15 * 1,3", "at 09:00 on the 1st or 15th of the month or on a Monday or Wednesday"],
    ["@every 5m", "every 5 minutes"],
    ["@every 1h", "every hour"],
    ["@after 30s", "30 seconds after the previous run ends"],
    ["@reboot", "once when the scheduler starts"],
    [{ at: "2026-12-24T18:00", time_zone: "Europe/Berlin" }, "once at 2026-12-24 18:00 in Europe/Berlin"],
    ["0 0 * * 5#3", 'cron "0 0 * * 5#3"'],
  ];
  for (const [input, text] of cases) test(`describes ${JSON.stringify(input)} as "${text}"`, () => assert.equal(describeSchedule(schedule(input)), text));
});

describe("schedule errors", () => {
  const cases: Array<[unknown, string[]]> = [
    [{ cron: "* * * * *", tim_zone: "UTC" }, ['tim_zone: unknown field "tim_zone" (did you mean "time_zone"?)']],
    [{ cron: "* * * * *", every: "5m" }, ["a schedule object takes one of cron, every, not several"]],
    [{ time_zone: "UTC" }, ["a schedule object needs one of cron, every, after, at, reboot, pgagent"]],
    [{ cron: "* * * * *", time_zone: "Europe/Berlinn" }, ['time_zone: unknown time zone "Europe/Berlinn"']],
    [{ cron: "* * * * *", dst: { gap: "later" } }, ['dst.gap: must be "shift" or "skip", got "later"']],
    [{ cron: "* * * * *", starts_at: "tomorrow" }, ['starts_at: "tomorrow" is not a timestamp; write YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]']],
    [{ cron: "* * * * *", starts_at: "2026-02-01T00:00Z", ends_at: "2026-01-01T00:00Z" }, ["ends_at: ends_at is before starts_at"]],
    [{ cron: "* * * * *", exclude: { dates: ["2026-02-30"] } }, ['exclude.dates[0]: "2026-02-30" is not a date YYYY-MM-DD']],
    ["@every 0s", ['@every: interval must be longer than zero, got "0s"']],
    ["@every 1 month", ['@every: interval unit "month" has no fixed length; use days or a cron schedule']],
    ["at next tuesday", ['at: "next tuesday" is not a timestamp; write YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]']],
    [42, ["a schedule must be a string (cron, @every, @after, @reboot, at …) or an object"]],
  ];
  for (const [input, messages] of cases) test(`rejects ${JSON.stringify(input)}`, () => assert.deepEqual(scheduleErrors(input), messages));
  test("unknown calendars are errors when the known names are given", () => {
    const r = parseSchedule({ cron: "* * * * *", exclude: { calendars: ["holidys"] } }, { calendars: ["holidays"], isValidTimeZone });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.errors.map((e) => [e.code, formatIssue(e)]), [[SQLSTATE.unknown_calendar, 'exclude.calendars[0]: unknown calendar "holidys" (did you mean "holidays"?)']]);
  });
});
