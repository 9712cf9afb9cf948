import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { fires, scheduleErrors } from "./helpers.ts";

const set = (size: number, on: number[], base = 0): boolean[] => Array.from({ length: size }, (_, i) => on.includes(i + base));
const pg = (o: { minutes?: number[]; hours?: number[]; weekdays?: number[]; monthdays?: number[]; months?: number[] }) => ({
  pgagent: {
    minutes: set(60, o.minutes ?? []),
    hours: set(24, o.hours ?? []),
    weekdays: set(7, o.weekdays ?? []), // index 0 = Sunday
    monthdays: set(32, o.monthdays ?? [], 1), // index 0 = day 1, index 31 = "last day"
    months: set(12, o.months ?? [], 1),
  },
});

const cases: Array<[string, unknown, string, number, string[]]> = [
  ["all-false arrays fire every minute", pg({}), "2026-01-01T00:00:30Z", 3, ["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z", "2026-01-01T00:03:00.000Z"]],
  ["minutes and hours", pg({ minutes: [0, 30], hours: [9] }), "2026-01-01T09:00:00Z", 3, ["2026-01-01T09:30:00.000Z", "2026-01-02T09:00:00.000Z", "2026-01-02T09:30:00.000Z"]],
  ["weekdays start at Sunday", pg({ minutes: [0], hours: [9], weekdays: [1] }), "2026-01-01T00:00:00Z", 2, ["2026-01-05T09:00:00.000Z", "2026-01-12T09:00:00.000Z"]],
  ["the 32nd monthday is the last day of the month", pg({ minutes: [0], hours: [0], monthdays: [32] }), "2026-01-01T00:00:00Z", 4, ["2026-01-31T00:00:00.000Z", "2026-02-28T00:00:00.000Z", "2026-03-31T00:00:00.000Z", "2026-04-30T00:00:00.000Z"]],
  // pgAgent 4.2.2 fires the 32nd on 29 February in a leap year (older pgAgent skipped it;
  // Clockwork copied that bug until the differential check found it).
  ["the 32nd monthday is the last day, 29 February in a leap year (pgAgent 4.2.2)", pg({ minutes: [0], hours: [0], monthdays: [32] }), "2028-01-01T00:00:00Z", 3, ["2028-01-31T00:00:00.000Z", "2028-02-29T00:00:00.000Z", "2028-03-31T00:00:00.000Z"]],
  ["the issue's case: minutes {5}, hours {18}, only monthday 32, from 2028-02-01", pg({ minutes: [5], hours: [18], monthdays: [32] }), "2028-02-01T00:00:00Z", 1, ["2028-02-29T18:05:00.000Z"]],
  ["the 32nd in a common year's February is the 28th", pg({ minutes: [0], hours: [0], monthdays: [32], months: [2] }), "2027-01-01T00:00:00Z", 2, ["2027-02-28T00:00:00.000Z", "2028-02-29T00:00:00.000Z"]],
  ["the 32nd monthday next to other days is ignored, as in pgAgent", pg({ minutes: [0], hours: [0], monthdays: [1, 32] }), "2026-01-01T00:00:00Z", 3, ["2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"]],
  ["weekdays AND monthdays: Friday the 13th", pg({ minutes: [0], hours: [0], weekdays: [5], monthdays: [13] }), "2026-01-01T00:00:00Z", 3, ["2026-02-13T00:00:00.000Z", "2026-03-13T00:00:00.000Z", "2026-11-13T00:00:00.000Z"]],
  ["months", pg({ minutes: [0], hours: [12], monthdays: [25], months: [12] }), "2026-01-01T00:00:00Z", 2, ["2026-12-25T12:00:00.000Z", "2027-12-25T12:00:00.000Z"]],
  ["weekdays with the last day", pg({ minutes: [0], hours: [0], weekdays: [6], monthdays: [32] }), "2026-01-01T00:00:00Z", 2, ["2026-01-31T00:00:00.000Z", "2026-02-28T00:00:00.000Z"]],
];

describe("pgAgent schedule sets", () => {
  for (const [name, input, after, count, expected] of cases) test(name, () => assert.deepEqual(fires(input, after, count), expected));
  test("pgAgent sets in a time zone", () => {
    assert.deepEqual(fires({ ...pg({ minutes: [0], hours: [3] }), time_zone: "Europe/Berlin" }, "2026-06-01T00:00:00Z", 1), ["2026-06-01T01:00:00.000Z"]);
  });
  test("rejects sets that never fire", () => {
    assert.deepEqual(scheduleErrors(pg({ monthdays: [31], months: [2, 4] })), ["pgagent.monthdays: these sets never fire (no selected day exists in the selected months)"]);
  });
  test("rejects arrays of the wrong size, naming the field", () => {
    assert.deepEqual(scheduleErrors({ pgagent: { minutes: [true], hours: set(24, []), bogus: 1 } }), [
      'pgagent.bogus: unknown field "bogus" (expected minutes, hours, weekdays, monthdays, months)',
      "pgagent.minutes: must be an array of exactly 60 booleans",
    ]);
  });
});
