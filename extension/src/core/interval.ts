// Durations as users write them: "30s", "5m", "1h30m", "500ms", "2 hours", "1 day 2 hours",
// "PT5M", "00:05:00", or a number of seconds. Only fixed-length units: a day is 24 hours
// of absolute time, months and years are refused because their length varies.

import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "./time.ts";

const UNITS: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: SECOND_MS, sec: SECOND_MS, secs: SECOND_MS, second: SECOND_MS, seconds: SECOND_MS,
  m: MINUTE_MS, min: MINUTE_MS, mins: MINUTE_MS, minute: MINUTE_MS, minutes: MINUTE_MS,
  h: HOUR_MS, hr: HOUR_MS, hrs: HOUR_MS, hour: HOUR_MS, hours: HOUR_MS,
  d: DAY_MS, day: DAY_MS, days: DAY_MS,
  w: 7 * DAY_MS, week: 7 * DAY_MS, weeks: 7 * DAY_MS,
};

export type IntervalResult = { ok: true; ms: number } | { ok: false; message: string };

/** The longest interval accepted: 100 years of 365.25 days. Beyond, arithmetic on instants loses precision. */
export const MAX_INTERVAL_MS = 100 * 36525 * DAY_MS / 100;

/** Whole milliseconds between 1 ms and MAX_INTERVAL_MS, or why not. */
function bounded(ms: number, input: unknown): IntervalResult {
  const shown = typeof input === "string" && input.length > 40 ? `${input.slice(0, 37)}...` : String(input);
  if (!Number.isFinite(ms) || ms > MAX_INTERVAL_MS) return { ok: false, message: `interval "${shown}" is too long: at most ${MAX_INTERVAL_MS / DAY_MS} days (100 years)` };
  if (!(ms > 0)) return { ok: false, message: `interval must be longer than zero, got "${shown}"` };
  if (Math.abs(ms - Math.round(ms)) > 1e-6) return { ok: false, message: `interval "${shown}" is not a whole number of milliseconds` };
  return { ok: true, ms: Math.round(ms) };
}

/** Parses a duration into milliseconds. Numbers are seconds. Zero and negative durations are refused. */
export function parseInterval(input: unknown): IntervalResult {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input <= 0) return { ok: false, message: `interval must be a positive number of seconds, got ${input}` };
    return bounded(input * SECOND_MS, input);
  }
  if (typeof input !== "string") return { ok: false, message: `interval must be a string like "5m" or a number of seconds` };
  const text = input.trim().toLowerCase();
  if (text === "") return { ok: false, message: "interval is empty" };
  let ms: number | null = null;
  // hh:mm[:ss]
  const clock = /^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$/.exec(text);
  if (clock !== null) ms = Number(clock[1]) * HOUR_MS + Number(clock[2]) * MINUTE_MS + Number(clock[3] ?? 0) * SECOND_MS;
  // ISO 8601 PnDTnHnMnS (no years/months)
  const iso = ms === null ? /^p(?:(\d+(?:\.\d+)?)w)?(?:(\d+(?:\.\d+)?)d)?(?:t(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?)?$/.exec(text) : null;
  if (iso !== null && text !== "p" && text !== "pt") {
    ms = Number(iso[1] ?? 0) * 7 * DAY_MS + Number(iso[2] ?? 0) * DAY_MS + Number(iso[3] ?? 0) * HOUR_MS + Number(iso[4] ?? 0) * MINUTE_MS + Number(iso[5] ?? 0) * SECOND_MS;
  }
  if (ms === null) {
    const re = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y;
    let pos = 0;
    let total = 0;
    const compact = text.replace(/\s*,\s*|\s+and\s+/g, " ");
    while (pos < compact.length) {
      re.lastIndex = pos;
      const m = re.exec(compact);
      if (m === null) return { ok: false, message: `cannot read interval "${input}" at "${compact.slice(pos)}"; write e.g. "30s", "5m", "1h30m", "2 hours"` };
      const unit = m[2]!;
      const factor = UNITS[unit];
      if (factor === undefined) {
        if (/^(mon|month|months|y|yr|year|years)$/.test(unit)) return { ok: false, message: `interval unit "${unit}" has no fixed length; use days or a cron schedule` };
        return { ok: false, message: `unknown interval unit "${unit}" in "${input}"` };
      }
      total += Number(m[1]) * factor;
      pos = re.lastIndex;
    }
    ms = total;
  }
  return bounded(ms, input);
}

const NAMED: Array<[number, string]> = [
  [7 * DAY_MS, "week"],
  [DAY_MS, "day"],
  [HOUR_MS, "hour"],
  [MINUTE_MS, "minute"],
  [SECOND_MS, "second"],
  [1, "millisecond"],
];

/** "5 minutes", "1 hour 30 minutes", "1 day". */
export function formatInterval(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [size, name] of NAMED) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
    }
  }
  return parts.length === 0 ? "0 seconds" : parts.join(" ");
}
