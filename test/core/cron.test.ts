import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseCron, nextLocalMatch, matchesLocal } from "../../extension/src/core/index.ts";
import { fires, scheduleErrors } from "./helpers.ts";

// 2026-01-01 is a Thursday; 2028 is a leap year.
const cases: Array<[string, string, string, string[]]> = [
  ["every minute", "* * * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z", "2026-01-01T00:03:00.000Z"]],
  ["strictly after an exact match", "0 * * * *", "2026-01-01T01:00:00Z", ["2026-01-01T02:00:00.000Z", "2026-01-01T03:00:00.000Z", "2026-01-01T04:00:00.000Z"]],
  ["milliseconds after a match", "0 * * * *", "2026-01-01T00:59:59.999Z", ["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z", "2026-01-01T03:00:00.000Z"]],
  ["step over minutes", "*/15 * * * *", "2026-01-01T00:07:00Z", ["2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z", "2026-01-01T00:45:00.000Z"]],
  ["range with step", "10-30/10 * * * *", "2026-01-01T00:25:00Z", ["2026-01-01T00:30:00.000Z", "2026-01-01T01:10:00.000Z", "2026-01-01T01:20:00.000Z"]],
  ["value with step runs to the end", "50/5 * * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:50:00.000Z", "2026-01-01T00:55:00.000Z", "2026-01-01T01:50:00.000Z"]],
  ["lists", "0 8,12,18 * * *", "2026-01-01T12:00:00Z", ["2026-01-01T18:00:00.000Z", "2026-01-02T08:00:00.000Z", "2026-01-02T12:00:00.000Z"]],
  ["weekday range", "0 9 * * 1-5", "2026-01-02T10:00:00Z", ["2026-01-05T09:00:00.000Z", "2026-01-06T09:00:00.000Z", "2026-01-07T09:00:00.000Z"]],
  ["day names", "0 9 * * MON,fri", "2026-01-01T00:00:00Z", ["2026-01-02T09:00:00.000Z", "2026-01-05T09:00:00.000Z", "2026-01-09T09:00:00.000Z"]],
  ["7 is Sunday", "0 0 * * 7", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00.000Z", "2026-01-11T00:00:00.000Z", "2026-01-18T00:00:00.000Z"]],
  ["range ending on 7", "0 0 * * 6-7", "2026-01-01T00:00:00Z", ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z", "2026-01-10T00:00:00.000Z"]],
  ["month names", "0 0 1 jan,JUL *", "2026-01-01T00:00:00Z", ["2026-07-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", "2027-07-01T00:00:00.000Z"]],
  ["question mark is any", "0 0 ? * MON", "2026-01-01T00:00:00Z", ["2026-01-05T00:00:00.000Z", "2026-01-12T00:00:00.000Z", "2026-01-19T00:00:00.000Z"]],
  ["six fields have seconds first", "*/20 * * * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:00:20.000Z", "2026-01-01T00:00:40.000Z", "2026-01-01T00:01:00.000Z"]],
  ["seconds field fixed", "30 0 12 * * *", "2026-01-01T12:00:30Z", ["2026-01-02T12:00:30.000Z", "2026-01-03T12:00:30.000Z", "2026-01-04T12:00:30.000Z"]],
  ["@yearly", "@yearly", "2026-03-01T00:00:00Z", ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000Z"]],
  ["@annually", "@annually", "2026-03-01T00:00:00Z", ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000Z"]],
  ["@monthly", "@monthly", "2026-01-15T00:00:00Z", ["2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"]],
  ["@weekly", "@weekly", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00.000Z", "2026-01-11T00:00:00.000Z", "2026-01-18T00:00:00.000Z"]],
  ["@daily", "@daily", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"]],
  ["@midnight", "@midnight", "2026-01-01T23:59:59Z", ["2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"]],
  ["@hourly", "@hourly", "2026-01-01T00:30:00Z", ["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z", "2026-01-01T03:00:00.000Z"]],
  ["L is the last day of the month", "0 0 L * *", "2026-01-31T00:00:00Z", ["2026-02-28T00:00:00.000Z", "2026-03-31T00:00:00.000Z", "2026-04-30T00:00:00.000Z"]],
  ["L in a leap February", "0 0 L 2 *", "2027-03-01T00:00:00Z", ["2028-02-29T00:00:00.000Z", "2029-02-28T00:00:00.000Z", "2030-02-28T00:00:00.000Z"]],
  ["L-2 counts back from the last day", "0 0 L-2 * *", "2026-01-01T00:00:00Z", ["2026-01-29T00:00:00.000Z", "2026-02-26T00:00:00.000Z", "2026-03-29T00:00:00.000Z"]],
  ["W moves Saturday to Friday and Sunday to Monday", "0 0 14W * *", "2026-02-01T00:00:00Z", ["2026-02-13T00:00:00.000Z", "2026-03-13T00:00:00.000Z", "2026-04-14T00:00:00.000Z"]],
  ["1W never leaves the month", "0 0 1W * *", "2026-02-01T00:00:00Z", ["2026-02-02T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "2026-04-01T00:00:00.000Z"]],
  ["LW is the last weekday", "0 0 LW * *", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00.000Z", "2026-02-27T00:00:00.000Z", "2026-03-31T00:00:00.000Z"]],
  ["# is the nth weekday", "0 0 * * 5#3", "2026-01-01T00:00:00Z", ["2026-01-16T00:00:00.000Z", "2026-02-20T00:00:00.000Z", "2026-03-20T00:00:00.000Z"]],
  ["#5 skips months without a fifth", "0 0 * * MON#5", "2026-01-01T00:00:00Z", ["2026-03-30T00:00:00.000Z", "2026-06-29T00:00:00.000Z", "2026-08-31T00:00:00.000Z"]],
  ["5L is the last Friday", "0 0 * * 5L", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00.000Z", "2026-02-27T00:00:00.000Z", "2026-03-27T00:00:00.000Z"]],
  ["restricted day of month OR day of week (Vixie)", "0 0 13 * 5", "2026-02-01T00:00:00Z", ["2026-02-06T00:00:00.000Z", "2026-02-13T00:00:00.000Z", "2026-02-20T00:00:00.000Z"]],
  ["a starred step in a day field makes the two day fields AND (Vixie)", "0 0 */10 * 1", "2026-01-01T00:00:00Z", ["2026-05-11T00:00:00.000Z", "2026-06-01T00:00:00.000Z", "2026-08-31T00:00:00.000Z"]],
  ["a starred step in day of week with a star day of month", "0 0 * * */3", "2026-01-01T00:00:00Z", ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z", "2026-01-07T00:00:00.000Z"]],
  ["value/step in day of week runs through 7 (Sunday)", "0 0 * * 3/2", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00.000Z", "2026-01-04T00:00:00.000Z", "2026-01-07T00:00:00.000Z"]],
  ["overlapping list items are fine", "0,0-1 0 * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:01:00.000Z", "2026-01-02T00:00:00.000Z", "2026-01-02T00:01:00.000Z"]],
  ["leap day every four years", "0 0 29 2 *", "2024-03-01T00:00:00Z", ["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z", "2036-02-29T00:00:00.000Z"]],
  ["31st skips short months", "0 0 31 * *", "2026-01-31T00:00:00Z", ["2026-03-31T00:00:00.000Z", "2026-05-31T00:00:00.000Z", "2026-07-31T00:00:00.000Z"]],
  ["year carry at the end of December", "59 23 31 12 *", "2026-12-31T23:59:00Z", ["2027-12-31T23:59:00.000Z", "2028-12-31T23:59:00.000Z", "2029-12-31T23:59:00.000Z"]],
  ["before 1970", "0 12 * * *", "1969-12-31T00:00:00Z", ["1969-12-31T12:00:00.000Z", "1970-01-01T12:00:00.000Z", "1970-01-02T12:00:00.000Z"]],
];

describe("cron expressions in UTC", () => {
  for (const [name, expr, after, expected] of cases) {
    test(`${name}: ${expr}`, () => assert.deepEqual(fires(expr, after), expected));
  }
  test("day of month AND day of week when day_match is 'and'", () => {
    // Friday the 13th.
    assert.deepEqual(fires({ cron: "0 0 13 * 5", day_match: "and" }, "2026-01-01T00:00:00Z", 2), ["2026-02-13T00:00:00.000Z", "2026-03-13T00:00:00.000Z"]);
  });
});

const errorCases: Array<[string, string]> = [
  ["* * * *", 'cron expression "* * * *" has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)'],
  ["* * * * * * *", 'cron expression "* * * * * * *" has 7 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)'],
  ["60 * * * *", 'field 1 (minute) "60": value 60 out of range 0–59'],
  ["0 24 * * *", 'field 2 (hour) "24": value 24 out of range 0–23'],
  ["0 0 0 * *", 'field 3 (day of month) "0": value 0 out of range 1–31'],
  ["0 0 1 13 *", 'field 4 (month) "13": value 13 out of range 1–12'],
  ["0 0 * * 8", 'field 5 (day of week) "8": value 8 out of range 0–7'],
  ["0 0 * FOO *", 'field 4 (month) "FOO": unknown name "FOO" (expected JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC or a number)'],
  ["*/0 * * * *", 'field 1 (minute) "*/0": step must be at least 1'],
  ["30-10 * * * *", 'field 1 (minute) "30-10": range 30-10 goes backwards'],
  ["1,,2 * * * *", 'field 1 (minute) "1,,2": empty list item'],
  ["0 0 * * 5#6", 'field 5 (day of week) "5#6": "5#6": the occurrence after # must be 1–5'],
  ["61 * * * * *", 'field 1 (second) "61": value 61 out of range 0–59'],
  ["0 0 30 2 *", 'cron expression "0 0 30 2 *" never fires (no such day in any month)'],
  ["@fortnightly", 'unknown macro "@fortnightly" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every, @after or @reboot)'],
  ["a * * * *", 'field 1 (minute) "a": "a" is not a number'],
];

describe("cron errors name the offending field", () => {
  for (const [expr, message] of errorCases) {
    test(`rejects ${JSON.stringify(expr)}`, () => assert.deepEqual(scheduleErrors(expr), [message]));
  }
});

test("nextLocalMatch and matchesLocal agree on a match", () => {
  const r = parseCron("15 10 * * *");
  assert.ok(r.ok);
  const t = nextLocalMatch(r.spec, Date.UTC(2026, 0, 1));
  assert.equal(t, Date.UTC(2026, 0, 1, 10, 15));
  assert.equal(matchesLocal(r.spec, t!), true);
  assert.equal(matchesLocal(r.spec, t! + 60_000), false);
});
