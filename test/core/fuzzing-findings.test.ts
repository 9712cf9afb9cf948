// What differential checks and fuzzing found in the schedule core (issue 16), each as a
// test: out-of-range input refused with the field named, never-firing schedules found with
// a bounded search, and the DST default documented in docs/policies.md.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_EXCLUDED_CANDIDATES, neverFires, nextFireTime, nextFireTimes, parseInterval, slotsBetween,
} from "../../extension/src/core/index.ts";
import { intlRules, iso, ms, schedule, scheduleErrors } from "./helpers.ts";

describe("out-of-range input is refused with the field named", () => {
  test("an @every or @after interval longer than 100 years, or of hundreds of digits", () => {
    assert.deepEqual(scheduleErrors("@every 99999999999999999999s"), ['@every: interval "99999999999999999999s" is too long: at most 36525 days (100 years)']);
    const digits = "9".repeat(300);
    assert.match(scheduleErrors(`@after ${digits}s`)[0]!, /^@after: interval "9{37}\.\.\." is too long/);
    assert.match(scheduleErrors({ every: Number(digits) })[0]!, /^every: @every: interval "1e\+300" is too long/);
    assert.equal(parseInterval("36525 days").ok, true);
  });

  test("an interval is a whole number of milliseconds", () => {
    assert.deepEqual(scheduleErrors({ every: "0.5ms", anchor: "2026-01-01T00:00Z" }), ['every: @every: interval "0.5ms" is not a whole number of milliseconds']);
    assert.equal(parseInterval("1.5s").ok, true);
  });

  test("numeric starts_at, at and anchor are epoch milliseconds within years 1 to 9999", () => {
    assert.deepEqual(scheduleErrors({ cron: "* * * * *", starts_at: 1e16 }), [
      "starts_at: 10000000000000000 is out of range: a number is epoch milliseconds within years 1 to 9999; or write YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]",
    ]);
    assert.match(scheduleErrors({ at: 1e16 })[0]!, /^at: at: 10000000000000000 is out of range/);
    assert.match(scheduleErrors({ every: "1ms", anchor: -1e16 })[0]!, /^anchor: -10000000000000000 is out of range/);
    // Within range, a millisecond grid from a far anchor still gives distinct instants.
    const s = schedule({ every: "1ms", anchor: -6e13 });
    const next = nextFireTimes(s, ms("2026-01-01T00:00:00Z"), 6, null);
    assert.equal(new Set(next).size, 6);
  });
});

describe("a schedule whose every slot is excluded never fires, found with a bounded search", () => {
  test("the issue's case: daily at 00:00 in Berlin, excluding 00:00 every day", () => {
    const s = schedule({ cron: "0 0 * * *", time_zone: "Europe/Berlin", exclude: { times: ["00:00"] } });
    assert.match(neverFires(s, ms("2026-01-01T00:00:00Z"), intlRules)!, /never fires: its exclusions remove every slot/);
    // Searches give up after a bounded number of excluded candidates instead of a million.
    assert.equal(nextFireTime(s, ms("2026-01-01T00:00:00Z"), intlRules), null);
    assert.deepEqual(slotsBetween(s, ms("2026-01-01T00:00:00Z"), ms("2099-01-01T00:00:00Z"), intlRules, 3), []);
    assert.equal(MAX_EXCLUDED_CANDIDATES, 10_000);
  });

  test("schedules that do fire are not refused, however sparse", () => {
    for (const input of [
      { cron: "0 0 29 2 1", day_match: "and" }, // 29 February on a Monday: 2044, …
      { cron: "0 0,12 * * *", exclude: { times: ["00:00"] } },
      { cron: "0 9 * * *", exclude: { dates: ["2026-06-01"] } },
      { cron: "* * * * *", ends_at: "2020-01-01" }, // ended: not a mistake in its text
    ]) assert.equal(neverFires(schedule(input), ms("2026-01-01T00:00:00Z"), intlRules), null, JSON.stringify(input));
  });
});

describe("the DST default (docs/policies.md)", () => {
  const fallBack = ["2026-10-25T00:00:00Z", "2026-10-25T02:30:00Z"] as const;
  test("*/20 in Berlin with overlap once (the default) skips 80 minutes when clocks go back", () => {
    const slots = slotsBetween(schedule({ cron: "*/20 * * * *", time_zone: "Europe/Berlin" }), ms(fallBack[0]) - 1, ms(fallBack[1]), intlRules, 100).map(iso);
    // 02:00, 02:20, 02:40 CEST (00:00, 00:20, 00:40Z), then 03:00 CET (02:00Z).
    assert.deepEqual(slots, ["2026-10-25T00:00:00.000Z", "2026-10-25T00:20:00.000Z", "2026-10-25T00:40:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T02:20:00.000Z"]);
  });
  test("dst: {overlap: twice} keeps the interval through the repeated hour", () => {
    const slots = slotsBetween(schedule({ cron: "*/20 * * * *", time_zone: "Europe/Berlin", dst: { overlap: "twice" } }), ms(fallBack[0]) - 1, ms(fallBack[1]), intlRules, 100).map(iso);
    assert.deepEqual(slots, [
      "2026-10-25T00:00:00.000Z", "2026-10-25T00:20:00.000Z", "2026-10-25T00:40:00.000Z",
      "2026-10-25T01:00:00.000Z", "2026-10-25T01:20:00.000Z", "2026-10-25T01:40:00.000Z",
      "2026-10-25T02:00:00.000Z", "2026-10-25T02:20:00.000Z",
    ]);
  });
});
