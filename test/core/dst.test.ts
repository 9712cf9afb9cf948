import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { nextFireTimes, slotsBetween, ZoneView } from "../../extension/src/core/index.ts";
import { fires, schedule, ms, iso } from "./helpers.ts";
import { countingRules, intlRules } from "./tz.ts";

// 2026 transitions used below:
//   Europe/Berlin      Mar 29 02:00 CET → 03:00 CEST (01:00Z);  Oct 25 03:00 CEST → 02:00 CET (01:00Z)
//   America/New_York   Mar 8 02:00 EST → 03:00 EDT (07:00Z);    Nov 1 02:00 EDT → 01:00 EST (06:00Z)
//   Australia/Lord_Howe Apr 5 02:00 +11 → 01:30 +10:30 (Apr 4 15:00Z); Oct 4 02:00 +10:30 → 02:30 +11 (Oct 3 15:30Z)
//   Asia/Kathmandu     +05:45 all year

type Case = [string, unknown, string, number, string[]];
const cases: Case[] = [
  ["fires at local 02:30 in Berlin winter", { cron: "30 2 * * *", time_zone: "Europe/Berlin" }, "2026-01-10T00:00:00Z", 2, ["2026-01-10T01:30:00.000Z", "2026-01-11T01:30:00.000Z"]],
  ["fires at local 02:30 in Berlin summer", { cron: "30 2 * * *", time_zone: "Europe/Berlin" }, "2026-07-10T00:00:00Z", 1, ["2026-07-10T00:30:00.000Z"]],
  ["shifts a nonexistent local time to the end of the gap in Berlin", { cron: "30 2 * * *", time_zone: "Europe/Berlin" }, "2026-03-28T12:00:00Z", 2, ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]],
  ["skips a nonexistent local time when dst=skip", { cron: "30 2 * * *", time_zone: "Europe/Berlin", dst: { gap: "skip" } }, "2026-03-28T12:00:00Z", 2, ["2026-03-30T00:30:00.000Z", "2026-03-31T00:30:00.000Z"]],
  ["fires once for all slots inside one gap", { cron: "*/20 * * * *", time_zone: "Europe/Berlin" }, "2026-03-29T00:30:00Z", 4, ["2026-03-29T00:40:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T01:20:00.000Z", "2026-03-29T01:40:00.000Z"]],
  ["fires an ambiguous local time once, at its first occurrence", { cron: "30 2 * * *", time_zone: "Europe/Berlin" }, "2026-10-24T12:00:00Z", 2, ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]],
  ["fires an ambiguous local time twice when dst.overlap=twice", { cron: "30 2 * * *", time_zone: "Europe/Berlin", dst: { overlap: "twice" } }, "2026-10-24T12:00:00Z", 3, ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z", "2026-10-26T01:30:00.000Z"]],
  ["does not repeat the first pass when starting inside the second", { cron: "*/30 * * * *", time_zone: "Europe/Berlin" }, "2026-10-25T01:10:00Z", 2, ["2026-10-25T02:00:00.000Z", "2026-10-25T02:30:00.000Z"]],
  ["continues the second pass when starting inside it with overlap=twice", { cron: "*/30 * * * *", time_zone: "Europe/Berlin", dst: { overlap: "twice" } }, "2026-10-25T01:10:00Z", 2, ["2026-10-25T01:30:00.000Z", "2026-10-25T02:00:00.000Z"]],
  ["an hourly schedule keeps counting absolute hours across fall back", { cron: "0 * * * *", time_zone: "Europe/Berlin", dst: { overlap: "twice" } }, "2026-10-24T23:30:00Z", 4, ["2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]],
  ["an hourly schedule loses the repeated hour with overlap=once", { cron: "0 * * * *", time_zone: "Europe/Berlin" }, "2026-10-24T23:30:00Z", 3, ["2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]],
  ["New York spring forward shifts 02:30 to 03:00 EDT", { cron: "30 2 * * *", time_zone: "America/New_York" }, "2026-03-07T12:00:00Z", 3, ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"]],
  ["New York fall back fires 01:30 once", { cron: "30 1 * * *", time_zone: "America/New_York" }, "2026-10-31T12:00:00Z", 2, ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]],
  ["New York fall back fires 01:30 twice when asked", { cron: "30 1 * * *", time_zone: "America/New_York", dst: { overlap: "twice" } }, "2026-10-31T12:00:00Z", 3, ["2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z", "2026-11-02T06:30:00.000Z"]],
  ["New York weekday mornings across the change", { cron: "0 9 * * MON-FRI", time_zone: "America/New_York" }, "2026-03-06T15:00:00Z", 2, ["2026-03-09T13:00:00.000Z", "2026-03-10T13:00:00.000Z"]],
  ["Lord Howe half-hour fall back: 01:45 occurs twice, fires once", { cron: "45 1 * * *", time_zone: "Australia/Lord_Howe" }, "2026-04-04T00:00:00Z", 2, ["2026-04-04T14:45:00.000Z", "2026-04-05T15:15:00.000Z"]],
  ["Lord Howe half-hour fall back with overlap=twice", { cron: "45 1 * * *", time_zone: "Australia/Lord_Howe", dst: { overlap: "twice" } }, "2026-04-04T00:00:00Z", 3, ["2026-04-04T14:45:00.000Z", "2026-04-04T15:15:00.000Z", "2026-04-05T15:15:00.000Z"]],
  ["Lord Howe half-hour gap shifts 02:15 to 02:30", { cron: "15 2 * * *", time_zone: "Australia/Lord_Howe" }, "2026-10-03T00:00:00Z", 2, ["2026-10-03T15:30:00.000Z", "2026-10-04T15:15:00.000Z"]],
  ["Lord Howe half-hour gap skipped when dst=skip", { cron: "15 2 * * *", time_zone: "Australia/Lord_Howe", dst: { gap: "skip" } }, "2026-10-03T00:00:00Z", 1, ["2026-10-04T15:15:00.000Z"]],
  ["Kathmandu +05:45", { cron: "0 9 * * *", time_zone: "Asia/Kathmandu" }, "2026-06-01T00:00:00Z", 2, ["2026-06-01T03:15:00.000Z", "2026-06-02T03:15:00.000Z"]],
  ["Kathmandu quarter-hour offset with minute steps", { cron: "*/30 * * * *", time_zone: "Asia/Kathmandu" }, "2026-06-01T00:00:00Z", 2, ["2026-06-01T00:15:00.000Z", "2026-06-01T00:45:00.000Z"]],
  ["leap day at local midnight in Berlin", { cron: "0 0 29 2 *", time_zone: "Europe/Berlin" }, "2026-01-01T00:00:00Z", 2, ["2028-02-28T23:00:00.000Z", "2032-02-28T23:00:00.000Z"]],
  ["@every counts absolute time across DST", { every: "1h", time_zone: "Europe/Berlin" }, "2026-10-25T00:30:00Z", 3, ["2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]],
  ["six-field seconds schedule inside an overlap", { cron: "0 0,30 2 * * *", time_zone: "Europe/Berlin", dst: { overlap: "twice" } }, "2026-10-25T00:00:00Z", 4, ["2026-10-25T00:00:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T01:30:00.000Z"].slice(1).concat(["2026-10-26T01:00:00.000Z"])],
];

describe("time zones and DST", () => {
  for (const [name, input, after, count, expected] of cases) test(name, () => assert.deepEqual(fires(input, after, count), expected));
});

test("slotsBetween over a whole fall-back day counts the repeated hour once by default", () => {
  const s = schedule({ cron: "0 * * * *", time_zone: "Europe/Berlin" });
  const slots = slotsBetween(s, ms("2026-10-24T22:00:00Z"), ms("2026-10-25T23:00:00Z"), intlRules, 1000);
  assert.equal(slots.length, 24); // 25 hours of absolute time, 24 distinct wall-clock hours
});

test("slotsBetween over a spring-forward day has 23 hourly slots", () => {
  const s = schedule({ cron: "0 * * * *", time_zone: "Europe/Berlin" });
  const slots = slotsBetween(s, ms("2026-03-28T23:00:00Z"), ms("2026-03-29T22:00:00Z"), intlRules, 1000);
  assert.equal(slots.length, 23);
  assert.equal(iso(slots[1]), "2026-03-29T01:00:00.000Z");
});

test("asks the time-zone rules a few times per fire time, not per candidate", () => {
  const rules = countingRules();
  const s = schedule({ cron: "*/5 * * * *", time_zone: "Europe/Berlin" });
  nextFireTimes(s, ms("2026-01-01T00:00:00Z"), 1000, rules);
  assert.ok(rules.calls < 200, `${rules.calls} calls for 1000 fire times`);
});

test("ZoneView resolves gaps and overlaps", () => {
  const zv = new ZoneView("Europe/Berlin", intlRules);
  const gap = zv.resolve(Date.UTC(2026, 2, 29, 2, 30));
  assert.equal(gap.kind, "gap");
  assert.equal(gap.kind === "gap" && iso(gap.transition), "2026-03-29T01:00:00.000Z");
  const overlap = zv.resolve(Date.UTC(2026, 9, 25, 2, 30));
  assert.equal(overlap.kind, "overlap");
  assert.deepEqual(overlap.kind === "overlap" && [iso(overlap.first), iso(overlap.second)], ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z"]);
  const plain = zv.resolve(Date.UTC(2026, 5, 1, 12, 0));
  assert.deepEqual(plain, { kind: "unique", instant: ms("2026-06-01T10:00:00Z"), offsetMs: 7_200_000 });
});
