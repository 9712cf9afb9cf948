import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseInterval, formatInterval, parseTimestamp } from "../../extension/src/core/index.ts";

describe("intervals", () => {
  const ok: Array<[unknown, number]> = [
    ["500ms", 500], ["30s", 30_000], ["5m", 300_000], ["1h30m", 5_400_000], ["2 hours", 7_200_000],
    ["1 day 2 hours", 93_600_000], ["1 hour, 30 minutes", 5_400_000], ["1w", 604_800_000], ["PT5M", 300_000],
    ["P1DT1H", 90_000_000], ["00:05:00", 300_000], ["1:30", 5_400_000], [90, 90_000], [0.5, 500], ["1.5h", 5_400_000],
  ];
  for (const [input, msValue] of ok) test(`reads ${JSON.stringify(input)}`, () => assert.deepEqual(parseInterval(input), { ok: true, ms: msValue }));
  const bad: Array<[unknown, string]> = [
    ["", "interval is empty"],
    ["0s", 'interval must be longer than zero, got "0s"'],
    [-5, "interval must be a positive number of seconds, got -5"],
    ["3 fortnights", 'unknown interval unit "fortnights" in "3 fortnights"'],
    ["1 month", 'interval unit "month" has no fixed length; use days or a cron schedule'],
    ["soon", 'cannot read interval "soon" at "soon"; write e.g. "30s", "5m", "1h30m", "2 hours"'],
    [true, 'interval must be a string like "5m" or a number of seconds'],
  ];
  for (const [input, message] of bad) test(`refuses ${JSON.stringify(input)}`, () => assert.deepEqual(parseInterval(input), { ok: false, message }));
  test("formats intervals in words", () => {
    assert.deepEqual([60_000, 5_400_000, 86_400_000, 1500].map(formatInterval), ["1 minute", "1 hour 30 minutes", "1 day", "1 second 500 milliseconds"]);
  });
});

describe("timestamps", () => {
  test("local date-time", () => assert.deepEqual(parseTimestamp("2026-12-24T18:00"), { local: Date.UTC(2026, 11, 24, 18), offsetMs: null, dateOnly: false }));
  test("date only", () => assert.deepEqual(parseTimestamp("2028-02-29"), { local: Date.UTC(2028, 1, 29), offsetMs: null, dateOnly: true }));
  test("with an offset", () => assert.deepEqual(parseTimestamp("2026-01-01 00:00:00.25+05:45"), { local: Date.UTC(2026, 0, 1) + 250, offsetMs: 20_700_000, dateOnly: false }));
  test("with Z", () => assert.equal(parseTimestamp("2026-01-01T00:00:00Z")?.offsetMs, 0));
  test("refuses impossible dates", () => {
    for (const t of ["2026-02-29", "2026-13-01", "2026-01-01T24:00", "yesterday"]) assert.equal(parseTimestamp(t), null, t);
  });
});
