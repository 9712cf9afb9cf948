// Calendar arithmetic and time-zone conversion.
//
// The core never asks the host for the time or for zone rules: the caller passes a
// TimeZoneRules (Intl in Node tests, PostgreSQL's tz database in the extension). All
// wall-clock ("local") values are represented as milliseconds since 1970-01-01T00:00 of a
// proleptic Gregorian calendar with no zone, i.e. the number you would get by reading the
// local wall clock as if it were UTC.

export interface TimeZoneRules {
  /** Seconds east of UTC in force at this instant in this zone. Unknown zones are the caller's concern. */
  utcOffsetSeconds(zone: string, instantMs: number): number;
}

export const SECOND_MS = 1000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Zones the core handles without calling the rules (offset always 0). */
export function isUtcZone(zone: string): boolean {
  return zone === "UTC" || zone === "Etc/UTC" || zone === "Etc/UCT" || zone === "UCT" || zone === "Zulu" || zone === "Etc/Zulu" || zone === "Etc/GMT" || zone === "GMT";
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1–12). Hinnant's algorithm. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1]!;
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOfDays(days: number): number {
  const w = (days + 4) % 7; // 1970-01-01 was a Thursday
  return w < 0 ? w + 7 : w;
}

export interface LocalDateTime extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

export function localFields(localMs: number): LocalDateTime {
  const days = Math.floor(localMs / DAY_MS);
  const rest = localMs - days * DAY_MS;
  const d = civilFromDays(days);
  return {
    ...d,
    hour: Math.floor(rest / HOUR_MS),
    minute: Math.floor((rest % HOUR_MS) / MINUTE_MS),
    second: Math.floor((rest % MINUTE_MS) / SECOND_MS),
    millisecond: rest % SECOND_MS,
  };
}

export function localMsOf(f: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number; millisecond?: number }): number {
  return daysFromCivil(f.year, f.month, f.day) * DAY_MS + (f.hour ?? 0) * HOUR_MS + (f.minute ?? 0) * MINUTE_MS + (f.second ?? 0) * SECOND_MS + (f.millisecond ?? 0);
}

const pad2 = (n: number): string => (n < 10 ? "0" : "") + n;

/** `YYYY-MM-DD` of a local wall time. */
export function formatLocalDate(localMs: number): string {
  const f = civilFromDays(Math.floor(localMs / DAY_MS));
  return `${String(f.year).padStart(4, "0")}-${pad2(f.month)}-${pad2(f.day)}`;
}

/** `YYYY-MM-DDTHH:MM:SS` of a local wall time. */
export function formatLocalDateTime(localMs: number): string {
  const f = localFields(localMs);
  return `${formatLocalDate(localMs)}T${pad2(f.hour)}:${pad2(f.minute)}:${pad2(f.second)}`;
}

/** How a local wall time maps onto instants. */
export type LocalResolution =
  | { kind: "unique"; instant: number; offsetMs: number }
  /** The wall time occurs twice (clocks went back): `first` before the transition, `second` after. */
  | { kind: "overlap"; first: number; second: number; offsetBeforeMs: number; offsetAfterMs: number; transition: number; overlapEndLocal: number }
  /** The wall time does not exist (clocks went forward); `transition` is the first instant after the gap. */
  | { kind: "gap"; transition: number; gapStartLocal: number; gapEndLocal: number; offsetBeforeMs: number; offsetAfterMs: number };

/**
 * One zone's offsets for the duration of one computation, with a small cache so that a run of
 * nearby questions costs few calls to the rules.
 *
 * Assumption (true of every rule in the tz database in use today): two offset transitions of a
 * zone are more than 48 hours apart. Under it, equal offsets at two instants less than a day
 * apart mean no transition lies between them.
 */
export class ZoneView {
  readonly zone: string;
  readonly fixedOffsetMs: number | null;
  private readonly rules: TimeZoneRules | null;
  // Up to two known intervals [lo, hi] of constant offset (the two sides of a transition).
  private lo0 = 1;
  private hi0 = 0;
  private off0 = 0;
  private lo1 = 1;
  private hi1 = 0;
  private off1 = 0;
  private lastOverlap: { startLocal: number; endLocal: number; transition: number } | null = null;
  private lastGap: { gapStartLocal: number; gapEndLocal: number; transition: number; before: number; after: number } | null = null;
  /** How many times the rules were consulted (for tests and the benchmark). */
  calls = 0;

  constructor(zone: string, rules: TimeZoneRules | null) {
    this.zone = zone;
    this.rules = rules;
    if (rules === null && !isUtcZone(zone)) throw new Error(`time zone rules are needed for zone "${zone}"`);
    this.fixedOffsetMs = isUtcZone(zone) ? 0 : null;
  }

  /** Offset in milliseconds in force at an instant. */
  offsetAt(t: number): number {
    if (this.fixedOffsetMs !== null) return this.fixedOffsetMs;
    if (t >= this.lo0 && t <= this.hi0) return this.off0;
    if (t >= this.lo1 && t <= this.hi1) return this.off1;
    // Just beyond a known interval: probe a whole day out first, so a run of nearby
    // questions costs about one call per day of timeline instead of one per question.
    if (this.lo0 <= this.hi0) {
      if (t > this.hi0 && t <= this.hi0 + DAY_MS) {
        const p = this.hi0 + DAY_MS;
        if (this.ask(p) === this.off0) {
          this.hi0 = p;
          return this.off0;
        }
      } else if (t < this.lo0 && t >= this.lo0 - DAY_MS) {
        const p = this.lo0 - DAY_MS;
        if (this.ask(p) === this.off0) {
          this.lo0 = p;
          return this.off0;
        }
      }
    }
    const o = this.ask(t);
    // Extend a known interval when within a day of it with the same offset; else start afresh.
    if (o === this.off0 && this.lo0 <= this.hi0 && t >= this.lo0 - DAY_MS && t <= this.hi0 + DAY_MS) {
      if (t < this.lo0) this.lo0 = t;
      else this.hi0 = t;
    } else if (o === this.off1 && this.lo1 <= this.hi1 && t >= this.lo1 - DAY_MS && t <= this.hi1 + DAY_MS) {
      if (t < this.lo1) this.lo1 = t;
      else this.hi1 = t;
    } else {
      // Keep the more recently useful interval in slot 0.
      this.lo1 = this.lo0;
      this.hi1 = this.hi0;
      this.off1 = this.off0;
      this.lo0 = t;
      this.hi0 = t;
      this.off0 = o;
    }
    return o;
  }

  private ask(t: number): number {
    this.calls++;
    const o = Math.round(this.rules!.utcOffsetSeconds(this.zone, t) * 1000);
    if (!Number.isFinite(o)) throw new Error(`time zone rules returned no offset for ${this.zone} at ${t}`);
    return o;
  }

  /** Local wall time (ms) of an instant. */
  toLocal(t: number): number {
    return t + this.offsetAt(t);
  }

  /** Every instant a local wall time denotes, with gaps and overlaps made explicit. */
  resolve(local: number): LocalResolution {
    if (this.fixedOffsetMs !== null) return { kind: "unique", instant: local - this.fixedOffsetMs, offsetMs: this.fixedOffsetMs };
    const g = this.lastGap;
    if (g !== null && local >= g.gapStartLocal && local < g.gapEndLocal) {
      return { kind: "gap", transition: g.transition, gapStartLocal: g.gapStartLocal, gapEndLocal: g.gapEndLocal, offsetBeforeMs: g.before, offsetAfterMs: g.after };
    }
    const before = this.offsetAt(local - DAY_MS);
    const after = this.offsetAt(local + DAY_MS);
    if (before === after) {
      const t = local - before;
      const o = this.offsetAt(t);
      if (o === before) return { kind: "unique", instant: t, offsetMs: before };
      // Two transitions within two days of each other: outside our assumption; answer sanely.
      return { kind: "unique", instant: local - o, offsetMs: o };
    }
    const tBefore = local - before;
    const tAfter = local - after;
    const validBefore = this.offsetAt(tBefore) === before;
    const validAfter = this.offsetAt(tAfter) === after;
    if (validBefore && validAfter) {
      const [first, second, oFirst, oSecond] = tBefore <= tAfter ? [tBefore, tAfter, before, after] : [tAfter, tBefore, after, before];
      const ov = this.lastOverlap;
      let transition: number;
      if (ov !== null && local >= ov.startLocal && local < ov.endLocal) transition = ov.transition;
      else {
        transition = this.transitionBetween(first, second, oFirst);
        this.lastOverlap = { startLocal: transition + oSecond, endLocal: transition + oFirst, transition };
      }
      return { kind: "overlap", first, second, offsetBeforeMs: oFirst, offsetAfterMs: oSecond, transition, overlapEndLocal: transition + oFirst };
    }
    if (validBefore) return { kind: "unique", instant: tBefore, offsetMs: before };
    if (validAfter) return { kind: "unique", instant: tAfter, offsetMs: after };
    // A gap: clocks jumped from `before` to `after` (after > before). Find the transition.
    const transition = this.transitionBetween(Math.min(tBefore, tAfter), Math.max(tBefore, tAfter), before);
    const gap = { gapStartLocal: transition + before, gapEndLocal: transition + after, transition, before, after };
    this.lastGap = gap;
    return { kind: "gap", transition, gapStartLocal: gap.gapStartLocal, gapEndLocal: gap.gapEndLocal, offsetBeforeMs: before, offsetAfterMs: after };
  }

  /**
   * First instant in (lo, hi] whose offset differs from `offsetAtLo`, assuming exactly one
   * transition in the range. Transitions fall on whole seconds, so we search seconds.
   */
  transitionBetween(lo: number, hi: number, offsetAtLo: number): number {
    let a = Math.floor(lo / SECOND_MS);
    let b = Math.ceil(hi / SECOND_MS);
    while (b - a > 1) {
      const mid = Math.floor((a + b) / 2);
      if (this.offsetAt(mid * SECOND_MS) === offsetAtLo) a = mid;
      else b = mid;
    }
    return b * SECOND_MS;
  }
}

/** Parsed `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]`. */
export interface ParsedTimestamp {
  /** Local wall time in ms (as if UTC). */
  local: number;
  /** Offset in ms if the text had one (Z or ±HH:MM), else null (local in the schedule's zone). */
  offsetMs: number | null;
  /** True if only a date was given. */
  dateOnly: boolean;
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Instants (epoch ms) of 0001-01-01T00:00Z and the end of 9999: timestamps outside are refused. */
export const MIN_INSTANT_MS = -62_135_596_800_000;
export const MAX_INSTANT_MS = 253_402_300_799_999;

/** Whether an instant (or a wall-clock time read as one) lies in years 1 to 9999. */
export function isInstantInRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

export function parseTimestamp(text: string): ParsedTimestamp | null {
  const m = TIMESTAMP_RE.exec(text.trim());
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millisecond = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0"));
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMs: number | null = null;
  const z = m[8];
  if (z !== undefined) {
    if (z.toUpperCase() === "Z") offsetMs = 0;
    else {
      const sign = z[0] === "-" ? -1 : 1;
      const digits = z.slice(1).replace(":", "");
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
      if (oh > 18 || om > 59) return null;
      offsetMs = sign * (oh * HOUR_MS + om * MINUTE_MS);
    }
  }
  return { local: localMsOf({ year, month, day, hour, minute, second, millisecond }), offsetMs, dateOnly: m[4] === undefined };
}
