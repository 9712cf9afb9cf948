// Cron expressions and the wall-clock matcher.
//
// Why our own matcher instead of croner: croner computes in the host's local time or,
// with `timezone`, through Intl — which a PL/v8 build may lack and which would take time
// zones out of our hands. Driving it in UTC as a wall clock works but costs a Date object per
// step and gives no place for pgAgent's day semantics or our DST policies. This matcher works
// on plain numbers: each field is a "next allowed value" table, days are a 31-bit mask per
// month, and the search carries field-wise (second → minute → hour → day → month → year).

import { daysFromCivil, civilFromDays, daysInMonth, weekdayOfDays, DAY_MS, isLeapYear } from "./time.ts";

/** Which days of a month are allowed, in the vocabulary of both cron and pgAgent. */
export interface DaySpec {
  /** Day-of-month field starts with '*' or is '?': Vixie's DOM_STAR, which makes the day match an AND. */
  domStar: boolean;
  /** Bits 1..31: plain days of month. */
  domMask: number;
  /** 'L' (0) and 'L-n' (n): days counted back from the last day. */
  domFromLast: number[];
  /** 'nW': nearest weekday to day n, within the month. */
  domNearestWeekday: number[];
  /** 'LW': last weekday (Mon–Fri) of the month. */
  domLastWeekday: boolean;
  dowStar: boolean;
  /** Bits 0..6 (0 = Sunday). */
  dowMask: number;
  /** 'd#n': nth weekday d of the month. */
  dowNth: Array<[weekday: number, nth: number]>;
  /** 'dL': last weekday d of the month, bits 0..6. */
  dowLastMask: number;
  /** How a restricted day of month combines with a restricted day of week. */
  combine: "or" | "and";
  /** pgAgent's "32nd day" (last day of month), with pgAgent's quirks, see pgagent.ts. */
  pgagentLastDay: boolean;
}

export interface CronSpec {
  /** The text as written (macros kept). */
  source: string;
  /** Whether the seconds field was given (6 fields). */
  hasSeconds: boolean;
  // "next allowed value ≥ index" tables; -1 means none (carry). Length max+2 so max+1 → -1.
  nextSecond: Int8Array;
  nextMinute: Int8Array;
  nextHour: Int8Array;
  nextMonth: Int8Array;
  seconds: number[];
  minutes: number[];
  hours: number[];
  months: number[];
  days: DaySpec;
  /** Raw field texts after macro expansion (6 entries, seconds first) for descriptions. */
  fields: string[];
  // One-entry cache of the day mask of the last (year, month) asked for.
  cacheKey: number;
  cacheMask: number;
}

export type CronResult = { ok: true; spec: CronSpec } | { ok: false; message: string };

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

export const CRON_MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

interface FieldInfo {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesBase?: number;
}

const FIELDS: FieldInfo[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES, namesBase: 1 },
  { name: "day of week", min: 0, max: 7, names: DAY_NAMES, namesBase: 0 },
];

class FieldError extends Error {}

function parseValue(text: string, f: FieldInfo): number {
  if (/^\d+$/.test(text)) {
    const v = Number(text);
    if (v < f.min || v > f.max) throw new FieldError(`value ${v} out of range ${f.min}–${f.max}`);
    return v;
  }
  if (f.names !== undefined) {
    const i = f.names.indexOf(text.toUpperCase());
    if (i >= 0) return i + f.namesBase!;
    throw new FieldError(`unknown name "${text}" (expected ${f.names.join(", ")} or a number)`);
  }
  throw new FieldError(`"${text}" is not a number`);
}

function parseStep(text: string): number {
  if (!/^\d+$/.test(text)) throw new FieldError(`step "${text}" is not a positive number`);
  const s = Number(text);
  if (s === 0) throw new FieldError("step must be at least 1");
  return s;
}

/** Plain list/range/step syntax into a boolean set. */
function parsePlain(item: string, f: FieldInfo, set: Uint8Array): void {
  let body = item;
  let step = 1;
  const slash = item.indexOf("/");
  if (slash >= 0) {
    body = item.slice(0, slash);
    step = parseStep(item.slice(slash + 1));
    if (body === "") throw new FieldError(`"${item}" has a step but nothing to step over`);
  }
  let lo: number;
  let hi: number;
  if (body === "*" || body === "?") {
    lo = f.min;
    hi = f.max;
  } else {
    const dash = body.indexOf("-", 1);
    if (dash > 0) {
      lo = parseValue(body.slice(0, dash), f);
      hi = parseValue(body.slice(dash + 1), f);
      if (lo > hi) throw new FieldError(`range ${body} goes backwards`);
    } else {
      lo = parseValue(body, f);
      // 'n/step' runs to the field's maximum; for day of week that is 7 (Sunday again), as in Vixie.
      hi = slash >= 0 ? f.max : lo;
    }
  }
  for (let v = lo; v <= hi; v += step) set[v === 7 && f.max === 7 ? 0 : v] = 1;
}

function nextTable(set: Uint8Array, max: number): Int8Array {
  const t = new Int8Array(max + 2).fill(-1);
  let next = -1;
  for (let v = max; v >= 0; v--) {
    if (set[v] === 1) next = v;
    t[v] = next;
  }
  return t;
}

function members(set: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < set.length; i++) if (set[i] === 1) out.push(i);
  return out;
}

function parseSimpleField(text: string, f: FieldInfo): Uint8Array {
  const set = new Uint8Array(f.max + 1);
  for (const item of text.split(",")) {
    if (item === "") throw new FieldError("empty list item");
    parsePlain(item, f, set);
  }
  return set;
}

function emptyDays(combine: "or" | "and"): DaySpec {
  return {
    domStar: true, domMask: 0, domFromLast: [], domNearestWeekday: [], domLastWeekday: false,
    dowStar: true, dowMask: 0, dowNth: [], dowLastMask: 0, combine, pgagentLastDay: false,
  };
}

function parseDayOfMonth(text: string, days: DaySpec): void {
  const f = FIELDS[3]!;
  days.domStar = text[0] === "*" || text === "?";
  const set = new Uint8Array(32);
  for (const raw of text.split(",")) {
    const item = raw.toUpperCase();
    if (item === "") throw new FieldError("empty list item");
    if (item === "L") days.domFromLast.push(0);
    else if (/^L-\d+$/.test(item)) {
      const n = Number(item.slice(2));
      if (n > 30) throw new FieldError(`"${raw}" reaches before the first day of any month`);
      days.domFromLast.push(n);
    } else if (item === "LW") days.domLastWeekday = true;
    else if (/^\d+W$/.test(item)) days.domNearestWeekday.push(parseValue(item.slice(0, -1), f));
    else parsePlain(item, f, set);
  }
  for (let d = 1; d <= 31; d++) if (set[d] === 1) days.domMask |= 1 << d;
}

function parseDayOfWeek(text: string, days: DaySpec): void {
  const f = FIELDS[5]!;
  days.dowStar = text[0] === "*" || text === "?";
  const set = new Uint8Array(8);
  for (const raw of text.split(",")) {
    const item = raw.toUpperCase();
    if (item === "") throw new FieldError("empty list item");
    const hash = item.indexOf("#");
    if (hash > 0) {
      const d = parseValue(item.slice(0, hash), f) % 7;
      const nth = item.slice(hash + 1);
      if (!/^[1-5]$/.test(nth)) throw new FieldError(`"${raw}": the occurrence after # must be 1–5`);
      days.dowNth.push([d, Number(nth)]);
    } else if (item.length > 1 && item.endsWith("L")) {
      days.dowLastMask |= 1 << (parseValue(item.slice(0, -1), f) % 7);
    } else parsePlain(item, f, set);
  }
  for (let d = 0; d <= 6; d++) if (set[d] === 1) days.dowMask |= 1 << d;
}

export interface CronOptions {
  /** Combine a restricted day of month with a restricted day of week with AND instead of OR (Vixie). */
  dayMatch?: "or" | "and";
}

/** Parses a 5- or 6-field cron expression or a macro. Errors name the offending field. */
export function parseCron(input: string, options: CronOptions = {}): CronResult {
  const source = input.trim();
  let text = source;
  if (text.startsWith("@")) {
    const expanded = CRON_MACROS[text.toLowerCase()];
    if (expanded === undefined) return { ok: false, message: `unknown macro "${text}" (expected ${Object.keys(CRON_MACROS).join(", ")}, @every, @after or @reboot)` };
    text = expanded;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return { ok: false, message: `cron expression "${source}" has ${parts.length} field${parts.length === 1 ? "" : "s"}; expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)` };
  }
  const hasSeconds = parts.length === 6;
  const fields = hasSeconds ? parts : ["0", ...parts];
  const days = emptyDays(options.dayMatch ?? "or");
  let index = 0;
  try {
    const seconds = parseSimpleField(fields[0]!, FIELDS[0]!);
    index = 1;
    const minutes = parseSimpleField(fields[1]!, FIELDS[1]!);
    index = 2;
    const hours = parseSimpleField(fields[2]!, FIELDS[2]!);
    index = 3;
    parseDayOfMonth(fields[3]!, days);
    index = 4;
    const monthSet = parseSimpleField(fields[4]!, FIELDS[4]!);
    index = 5;
    parseDayOfWeek(fields[5]!, days);
    const spec = makeSpec(source, hasSeconds, seconds, minutes, hours, monthSet, days, fields);
    if (!everMatches(spec)) return { ok: false, message: `cron expression "${source}" never fires (no such day in any month)` };
    return { ok: true, spec };
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    const position = hasSeconds ? index + 1 : index;
    const what = hasSeconds || index > 0 ? `field ${position} (${FIELDS[index]!.name})` : "seconds";
    return { ok: false, message: `${what} "${fields[index]}": ${e.message}` };
  }
}

export function makeSpec(source: string, hasSeconds: boolean, seconds: Uint8Array, minutes: Uint8Array, hours: Uint8Array, months: Uint8Array, days: DaySpec, fields: string[]): CronSpec {
  return {
    source,
    hasSeconds,
    nextSecond: nextTable(seconds, 59),
    nextMinute: nextTable(minutes, 59),
    nextHour: nextTable(hours, 23),
    nextMonth: nextTable(months, 12),
    seconds: members(seconds),
    minutes: members(minutes),
    hours: members(hours),
    months: members(months),
    days,
    fields,
    cacheKey: -1,
    cacheMask: 0,
  };
}

/** Whether the spec fires at all: the calendar repeats every 400 years. */
export function everMatches(spec: CronSpec): boolean {
  for (let year = 2000; year < 2400; year++) {
    for (const m of spec.months) if (dayMask(spec, year, m) !== 0) return true;
  }
  return false;
}

/** Bits 1..31 of the days of (year, month) that the spec allows. */
export function dayMask(spec: CronSpec, year: number, month: number): number {
  const key = year * 16 + month;
  if (key === spec.cacheKey) return spec.cacheMask;
  const mask = computeDayMask(spec.days, year, month);
  spec.cacheKey = key;
  spec.cacheMask = mask;
  return mask;
}

function isWeekday(w: number): boolean {
  return w !== 0 && w !== 6;
}

export function computeDayMask(s: DaySpec, year: number, month: number): number {
  const n = daysInMonth(year, month);
  const monthMask = n === 31 ? 0xfffffffe | 0 : ((1 << (n + 1)) - 2);
  const first = daysFromCivil(year, month, 1);
  const firstWeekday = weekdayOfDays(first);
  let dom = s.domMask & monthMask;
  if (s.pgagentLastDay) {
    // pgAgent counts day 32 only when it is the only day selected; it is the month's last
    // day, 29 February in a leap year (pgAgent 4.2.2; see pgagent.ts).
    dom |= 1 << n;
  } else {
    for (const k of s.domFromLast) if (n - k >= 1) dom |= 1 << (n - k);
    for (const d of s.domNearestWeekday) {
      if (d > n) continue; // e.g. 31W in a 30-day month never fires
      const w = (firstWeekday + d - 1) % 7;
      let target = d;
      if (w === 6) target = d === 1 ? 3 : d - 1; // Saturday → Friday, or Monday the 3rd
      else if (w === 0) target = d === n ? d - 2 : d + 1; // Sunday → Monday, or Friday
      dom |= 1 << target;
    }
    if (s.domLastWeekday) {
      let d = n;
      while (!isWeekday((firstWeekday + d - 1) % 7)) d--;
      dom |= 1 << d;
    }
  }
  let dow = 0;
  if (s.dowMask === 0x7f) dow = monthMask;
  else {
    for (let d = 1; d <= n; d++) {
      const w = (firstWeekday + d - 1) % 7;
      if ((s.dowMask >> w) & 1) dow |= 1 << d;
      else if ((s.dowLastMask >> w) & 1 && d + 7 > n) dow |= 1 << d;
    }
    for (const [w, nth] of s.dowNth) {
      const d = 1 + ((w - firstWeekday + 7) % 7) + (nth - 1) * 7;
      if (d <= n) dow |= 1 << d;
    }
  }
  // Vixie cron: when either field starts with '*' the two sets are ANDed (a plain '*' is all
  // days, so the other field decides; '*\/2' still restricts); otherwise they are ORed.
  if (s.domStar || s.dowStar || s.combine === "and") return dom & dow;
  return dom | dow;
}

/**
 * The first wall-clock time (ms, second precision) strictly after `local` that the spec allows,
 * or null if none within 400 years (which, for a spec that ever fires, cannot happen).
 */
export function nextLocalMatch(spec: CronSpec, local: number): number | null {
  let secs = Math.floor(local / 1000) + 1;
  let days = Math.floor(secs / 86400);
  let sod = secs - days * 86400;
  const c = civilFromDays(days);
  let year = c.year;
  let month = c.month;
  let day = c.day;
  let hour = Math.floor(sod / 3600);
  let minute = Math.floor((sod % 3600) / 60);
  let second = sod % 60;
  const lastYear = year + 401;
  const nextMonth = spec.nextMonth;
  const nextHour = spec.nextHour;
  const nextMinute = spec.nextMinute;
  const nextSecond = spec.nextSecond;
  for (;;) {
    // Month
    const m = nextMonth[month]!;
    if (m !== month) {
      if (m < 0) {
        year++;
        if (year > lastYear) return null;
        month = nextMonth[1]!;
      } else month = m;
      day = 1;
      hour = 0;
      minute = 0;
      second = 0;
    }
    // Day
    const mask = dayMask(spec, year, month);
    const avail = day > 31 ? 0 : (mask >>> day) << day;
    if (avail === 0) {
      month++;
      if (month > 12) {
        month = 1;
        year++;
        if (year > lastYear) return null;
      }
      day = 1;
      hour = 0;
      minute = 0;
      second = 0;
      continue;
    }
    const d = 31 - Math.clz32(avail & -avail);
    if (d !== day) {
      day = d;
      hour = 0;
      minute = 0;
      second = 0;
    }
    // Hour
    const h = nextHour[hour]!;
    if (h !== hour) {
      if (h < 0) {
        day++;
        hour = 0;
        minute = 0;
        second = 0;
        continue;
      }
      hour = h;
      minute = 0;
      second = 0;
    }
    const mi = nextMinute[minute]!;
    if (mi !== minute) {
      if (mi < 0) {
        hour++;
        minute = 0;
        second = 0;
        continue;
      }
      minute = mi;
      second = 0;
    }
    const s = nextSecond[second]!;
    if (s < 0) {
      minute++;
      second = 0;
      continue;
    }
    second = s;
    return daysFromCivil(year, month, day) * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000;
  }
}

/** Whether a wall-clock time (whole second) is allowed by the spec. */
export function matchesLocal(spec: CronSpec, local: number): boolean {
  if (local % 1000 !== 0) return false;
  const days = Math.floor(local / DAY_MS);
  const sod = (local - days * DAY_MS) / 1000;
  const c = civilFromDays(days);
  return (
    spec.nextMonth[c.month] === c.month &&
    ((dayMask(spec, c.year, c.month) >>> c.day) & 1) === 1 &&
    spec.nextHour[Math.floor(sod / 3600)] === Math.floor(sod / 3600) &&
    spec.nextMinute[Math.floor((sod % 3600) / 60)] === Math.floor((sod % 3600) / 60) &&
    spec.nextSecond[sod % 60] === sod % 60
  );
}

export { MONTH_NAMES, DAY_NAMES, emptyDays };
