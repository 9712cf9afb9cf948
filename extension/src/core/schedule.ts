// Schedules: parsing (text or object), next fire times, slots in a window, descriptions.
//
// Instants are epoch milliseconds. Cron and pgAgent schedules are matched on the wall clock of
// the schedule's zone and mapped to instants through ZoneView, with the schedule's DST policy:
//   gap ('shift' default | 'skip'): a wall time that does not exist fires at the first instant
//     after the gap, or not at all. Several slots inside one gap fire once.
//   overlap ('once' default | 'twice'): a wall time that occurs twice fires at its first
//     occurrence only, or at both.
// Fixed-interval schedules (@every, @after) count absolute time and ignore the zone except for
// exclusions by date.

import { parseCron, nextLocalMatch, CRON_MACROS, type CronSpec } from "./cron.ts";
import { parsePgAgentSets } from "./pgagent.ts";
import { parseInterval, formatInterval } from "./interval.ts";
import { issue, didYouMean, type ValidationIssue } from "./errors.ts";
import {
  ZoneView, parseTimestamp, DAY_MS, HOUR_MS, daysFromCivil, isUtcZone, isInstantInRange,
  formatLocalDateTime, type ParsedTimestamp, type TimeZoneRules,
} from "./time.ts";

export type DstGapPolicy = "shift" | "skip";
export type DstOverlapPolicy = "once" | "twice";

export interface ScheduleExclusions {
  /** Whole local dates `YYYY-MM-DD`, as days since 1970-01-01. */
  dates: number[];
  /** Local date-times (wall ms) to skip. */
  localDateTimes: number[];
  /** Exact instants to skip (date-times written with an offset). */
  instants: number[];
  /** Local times of day (ms since midnight) to skip every day, as pgAgent exceptions allow. */
  times: number[];
  /** Named calendars (holiday lists) whose dates are skipped; data comes with the context. */
  calendars: string[];
}

interface ScheduleCommon {
  /** The schedule as written (text form or a canonical text for objects). */
  text: string;
  timeZone: string;
  dst: { gap: DstGapPolicy; overlap: DstOverlapPolicy };
  startsAt: ParsedTimestamp | null;
  endsAt: ParsedTimestamp | null;
  exclude: ScheduleExclusions;
}

export type Schedule = ScheduleCommon & (
  | { kind: "cron"; cron: CronSpec }
  | { kind: "pgagent"; cron: CronSpec }
  | { kind: "every"; intervalMs: number; anchor: ParsedTimestamp | null }
  | { kind: "after"; intervalMs: number }
  | { kind: "reboot" }
  | { kind: "at"; at: ParsedTimestamp }
);

export type ScheduleKind = Schedule["kind"];

/** Facts about the world a schedule's fire times may depend on. All optional. */
export interface ScheduleContext {
  /** @after: when the previous run ended. */
  lastRunEndMs?: number | null;
  /** @every/@after: default anchor when the schedule has none (e.g. when it was created). */
  anchorMs?: number | null;
  /** @reboot: when the scheduler started on this database. */
  schedulerStartedAtMs?: number | null;
  /** Holiday lists by name: local dates `YYYY-MM-DD`. */
  calendars?: Readonly<Record<string, readonly string[]>>;
}

export interface ScheduleParseOptions {
  /** Zone used when the schedule names none. Default "UTC". */
  defaultTimeZone?: string;
  /** Validity predicate for zone names (the database knows them). Default: accept all. */
  isValidTimeZone?: (zone: string) => boolean;
  /** Known calendar names; when given, unknown names in exclude.calendars are errors. */
  calendars?: readonly string[];
}

export type ScheduleResult = { ok: true; schedule: Schedule } | { ok: false; errors: ValidationIssue[] };

const SCHEDULE_KEYS = ["cron", "every", "after", "at", "reboot", "pgagent", "time_zone", "timezone", "dst", "starts_at", "ends_at", "exclude", "anchor", "day_match"];
const KIND_KEYS = ["cron", "every", "after", "at", "reboot", "pgagent"];

const join = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);

/**
 * Parses a schedule from its text form (`"*\/5 * * * *"`, `"@every 10m"`, `"@after 1h"`,
 * `"@reboot"`, `"at 2026-12-24T18:00"`, optionally prefixed by `TZ=Zone `) or its object form.
 * Returns every problem found, with paths relative to the schedule.
 */
export function parseSchedule(input: unknown, options: ScheduleParseOptions = {}, path = ""): ScheduleResult {
  const errors: ValidationIssue[] = [];
  const obj: Record<string, unknown> = typeof input === "string" ? { __text: input } : (input as Record<string, unknown>);
  if (typeof input !== "string" && (typeof input !== "object" || input === null || Array.isArray(input))) {
    return { ok: false, errors: [issue("invalid_schedule", path, "a schedule must be a string (cron, @every, @after, @reboot, at …) or an object")] };
  }
  let timeZone = options.defaultTimeZone ?? "UTC";
  let text = "";
  let kindKey = "";
  let kindValue: unknown;
  let kindPath = path;
  if (typeof input === "string") {
    text = input.trim();
    const tz = /^(?:CRON_)?TZ=(\S+)\s+/.exec(text);
    if (tz !== null) {
      timeZone = tz[1]!;
      text = text.slice(tz[0].length);
    }
    const lower = text.toLowerCase();
    if (lower.startsWith("@every")) [kindKey, kindValue] = ["every", text.slice(6).trim()];
    else if (lower.startsWith("@after")) [kindKey, kindValue] = ["after", text.slice(6).trim()];
    else if (lower === "@reboot") [kindKey, kindValue] = ["reboot", true];
    else if (/^at\s/i.test(text)) [kindKey, kindValue] = ["at", text.slice(2).trim()];
    else [kindKey, kindValue] = ["cron", text];
  } else {
    for (const key of Object.keys(obj)) {
      if (!SCHEDULE_KEYS.includes(key)) errors.push(issue("invalid_schedule", join(path, key), `unknown field "${key}"${didYouMean(key, SCHEDULE_KEYS)}`));
    }
    const kinds = KIND_KEYS.filter((k) => obj[k] !== undefined);
    if (kinds.length !== 1) {
      errors.push(issue("invalid_schedule", path, kinds.length === 0
        ? "a schedule object needs one of cron, every, after, at, reboot, pgagent"
        : `a schedule object takes one of ${kinds.join(", ")}, not several`));
      return { ok: false, errors };
    }
    kindKey = kinds[0]!;
    kindValue = obj[kindKey];
    kindPath = join(path, kindKey);
    const tzValue = obj.time_zone ?? obj.timezone;
    if (tzValue !== undefined) {
      if (typeof tzValue !== "string" || tzValue === "") errors.push(issue("unknown_time_zone", join(path, "time_zone"), "time_zone must be a zone name"));
      else timeZone = tzValue;
    }
    text = typeof kindValue === "string" ? (kindKey === "cron" ? kindValue : kindKey === "at" ? `at ${kindValue}` : kindKey === "every" ? `@every ${kindValue}` : kindKey === "after" ? `@after ${kindValue}` : kindValue) : kindKey === "reboot" ? "@reboot" : kindKey;
  }
  if (!isUtcZone(timeZone) && options.isValidTimeZone !== undefined && !options.isValidTimeZone(timeZone)) {
    errors.push(issue("unknown_time_zone", typeof input === "string" ? path : join(path, "time_zone"), `unknown time zone "${timeZone}"`));
  }
  // DST policy
  const dst: ScheduleCommon["dst"] = { gap: "shift", overlap: "once" };
  if (obj.dst !== undefined) {
    const d = obj.dst as Record<string, unknown>;
    if (typeof d !== "object" || d === null || Array.isArray(d)) errors.push(issue("invalid_schedule", join(path, "dst"), "dst must be an object {gap: 'shift'|'skip', overlap: 'once'|'twice'}"));
    else {
      for (const k of Object.keys(d)) if (k !== "gap" && k !== "overlap") errors.push(issue("invalid_schedule", join(path, `dst.${k}`), `unknown field "${k}" (expected gap, overlap)`));
      if (d.gap !== undefined) {
        if (d.gap === "shift" || d.gap === "skip") dst.gap = d.gap;
        else errors.push(issue("invalid_schedule", join(path, "dst.gap"), `must be "shift" or "skip", got ${JSON.stringify(d.gap)}`));
      }
      if (d.overlap !== undefined) {
        if (d.overlap === "once" || d.overlap === "twice") dst.overlap = d.overlap;
        else errors.push(issue("invalid_schedule", join(path, "dst.overlap"), `must be "once" or "twice", got ${JSON.stringify(d.overlap)}`));
      }
    }
  }
  const readTimestamp = (key: string): ParsedTimestamp | null => {
    const v = obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v === "number") {
      // A number is an instant in epoch milliseconds, within years 1 to 9999.
      if (isInstantInRange(v)) return { local: v, offsetMs: 0, dateOnly: false };
      errors.push(issue("invalid_schedule", join(path, key), `${v} is out of range: a number is epoch milliseconds within years 1 to 9999; or write YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]`));
      return null;
    }
    const p = typeof v === "string" ? parseTimestamp(v) : null;
    if (p === null) errors.push(issue("invalid_schedule", join(path, key), `${JSON.stringify(v)} is not a timestamp; write YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]`));
    return p;
  };
  const startsAt = readTimestamp("starts_at");
  const endsAt = readTimestamp("ends_at");
  if (startsAt !== null && endsAt !== null && startsAt.offsetMs !== null && endsAt.offsetMs !== null && endsAt.local - endsAt.offsetMs < startsAt.local - startsAt.offsetMs) {
    errors.push(issue("invalid_schedule", join(path, "ends_at"), "ends_at is before starts_at"));
  }
  const exclude = parseExclusions(obj.exclude, join(path, "exclude"), options, errors);
  let dayMatch: "or" | "and" = "or";
  if (obj.day_match !== undefined) {
    if (obj.day_match === "or" || obj.day_match === "and") dayMatch = obj.day_match;
    else errors.push(issue("invalid_schedule", join(path, "day_match"), `must be "or" or "and", got ${JSON.stringify(obj.day_match)}`));
  }
  const common: ScheduleCommon = { text, timeZone, dst, startsAt, endsAt, exclude };
  let schedule: Schedule | null = null;
  switch (kindKey) {
    case "cron": {
      if (typeof kindValue !== "string") {
        errors.push(issue("invalid_schedule", kindPath, "cron must be a string"));
        break;
      }
      const r = parseCron(kindValue, { dayMatch });
      if (r.ok) schedule = { ...common, kind: "cron", cron: r.spec };
      else errors.push(issue("invalid_schedule", kindPath, r.message));
      break;
    }
    case "pgagent": {
      const r = parsePgAgentSets(kindValue);
      if (r.ok) schedule = { ...common, kind: "pgagent", cron: r.spec, text: r.spec.source };
      else for (const e of r.errors) errors.push(issue("invalid_schedule", join(kindPath, e.path), e.message));
      break;
    }
    case "every":
    case "after": {
      const r = parseInterval(kindValue);
      if (!r.ok) {
        errors.push(issue("invalid_schedule", kindPath, `@${kindKey}: ${r.message}`));
        break;
      }
      if (kindKey === "every") {
        const anchor = readTimestamp("anchor");
        schedule = { ...common, kind: "every", intervalMs: r.ms, anchor };
      } else schedule = { ...common, kind: "after", intervalMs: r.ms };
      break;
    }
    case "reboot":
      if (kindValue !== true && kindValue !== "" && kindValue !== "@reboot") errors.push(issue("invalid_schedule", kindPath, "reboot must be true"));
      else schedule = { ...common, kind: "reboot" };
      break;
    case "at": {
      const p = typeof kindValue === "string" ? parseTimestamp(kindValue) : typeof kindValue === "number" && isInstantInRange(kindValue) ? { local: kindValue, offsetMs: 0, dateOnly: false } : null;
      if (p === null) errors.push(issue("invalid_schedule", kindPath, `at: ${typeof kindValue === "number" ? `${kindValue} is out of range (epoch milliseconds within years 1 to 9999)` : `${JSON.stringify(kindValue)} is not a timestamp`}; write YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]`));
      else schedule = { ...common, kind: "at", at: p };
      break;
    }
  }
  if (errors.length > 0 || schedule === null) return { ok: false, errors };
  return { ok: true, schedule };
}

function parseExclusions(v: unknown, path: string, options: ScheduleParseOptions, errors: ValidationIssue[]): ScheduleExclusions {
  const out: ScheduleExclusions = { dates: [], localDateTimes: [], instants: [], times: [], calendars: [] };
  if (v === undefined || v === null) return out;
  if (typeof v !== "object" || Array.isArray(v)) {
    errors.push(issue("invalid_schedule", path, "exclude must be an object {dates, datetimes, times, calendars}"));
    return out;
  }
  const o = v as Record<string, unknown>;
  const list = (key: string): unknown[] => {
    const x = o[key];
    if (x === undefined) return [];
    if (!Array.isArray(x)) {
      errors.push(issue("invalid_schedule", `${path}.${key}`, "must be a list"));
      return [];
    }
    return x;
  };
  for (const k of Object.keys(o)) {
    if (!["dates", "datetimes", "times", "calendars"].includes(k)) errors.push(issue("invalid_schedule", `${path}.${k}`, `unknown field "${k}" (expected dates, datetimes, times, calendars)`));
  }
  list("dates").forEach((d, i) => {
    const p = typeof d === "string" ? parseTimestamp(d) : null;
    if (p === null || !p.dateOnly) errors.push(issue("invalid_schedule", `${path}.dates[${i}]`, `${JSON.stringify(d)} is not a date YYYY-MM-DD`));
    else out.dates.push(Math.floor(p.local / DAY_MS));
  });
  list("datetimes").forEach((d, i) => {
    const p = typeof d === "string" ? parseTimestamp(d) : null;
    if (p === null || p.dateOnly) errors.push(issue("invalid_schedule", `${path}.datetimes[${i}]`, `${JSON.stringify(d)} is not a date-time YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]`));
    else if (p.offsetMs === null) out.localDateTimes.push(p.local);
    else out.instants.push(p.local - p.offsetMs);
  });
  list("times").forEach((d, i) => {
    const m = typeof d === "string" ? /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(d) : null;
    if (m === null || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) errors.push(issue("invalid_schedule", `${path}.times[${i}]`, `${JSON.stringify(d)} is not a time HH:MM[:SS]`));
    else out.times.push(Number(m[1]) * HOUR_MS + Number(m[2]) * 60_000 + Number(m[3] ?? 0) * 1000);
  });
  list("calendars").forEach((c, i) => {
    if (typeof c !== "string" || c === "") errors.push(issue("invalid_schedule", `${path}.calendars[${i}]`, "calendar names are strings"));
    else if (options.calendars !== undefined && !options.calendars.includes(c)) {
      errors.push(issue("unknown_calendar", `${path}.calendars[${i}]`, `unknown calendar "${c}"${didYouMean(c, options.calendars)}`));
    } else out.calendars.push(c);
  });
  return out;
}

/** Parses or throws; for callers holding text already validated. */
export function mustParseSchedule(input: unknown, options?: ScheduleParseOptions): Schedule {
  const r = parseSchedule(input, options);
  if (!r.ok) throw new Error(r.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; "));
  return r.schedule;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The instant a parsed timestamp denotes in a zone (first occurrence; gap → after the gap). */
function instantOf(p: ParsedTimestamp, zv: ZoneView): number {
  if (p.offsetMs !== null) return p.local - p.offsetMs;
  const r = zv.resolve(p.local);
  return r.kind === "unique" ? r.instant : r.kind === "overlap" ? r.first : r.transition;
}

/** State of one evaluation: the zone view and the resolved bounds and exclusions. */
class Evaluation {
  readonly zv: ZoneView;
  readonly startsAt: number;
  readonly endsAt: number;
  private readonly excludedDays: Set<number> | null;
  private readonly excludedLocal: Set<number> | null;
  private readonly excludedInstants: Set<number> | null;
  private readonly excludedTimes: Set<number> | null;
  /** Which named calendars list each excluded day (for explanations). */
  private readonly calendarsOfDay: Map<number, string[]>;

  constructor(readonly schedule: Schedule, tz: TimeZoneRules | null, ctx: ScheduleContext) {
    this.zv = new ZoneView(schedule.timeZone, tz);
    this.startsAt = schedule.startsAt === null ? -Infinity : instantOf(schedule.startsAt, this.zv);
    this.endsAt = schedule.endsAt === null ? Infinity : instantOf(schedule.endsAt, this.zv);
    const ex = schedule.exclude;
    let days: Set<number> | null = ex.dates.length > 0 ? new Set(ex.dates) : null;
    for (const name of ex.calendars) {
      const dates = ctx.calendars?.[name];
      if (dates === undefined) continue; // validated at definition time; missing data excludes nothing
      days ??= new Set();
      for (const d of dates) {
        const p = parseTimestamp(d);
        if (p !== null) days.add(Math.floor(p.local / DAY_MS));
      }
    }
    this.excludedDays = days;
    this.calendarsOfDay = new Map();
    for (const name of ex.calendars) {
      for (const d of ctx.calendars?.[name] ?? []) {
        const p = parseTimestamp(d);
        if (p === null) continue;
        const day = Math.floor(p.local / DAY_MS);
        this.calendarsOfDay.set(day, [...(this.calendarsOfDay.get(day) ?? []), name]);
      }
    }
    this.excludedLocal = ex.localDateTimes.length > 0 ? new Set(ex.localDateTimes) : null;
    this.excludedInstants = ex.instants.length > 0 ? new Set(ex.instants) : null;
    this.excludedTimes = ex.times.length > 0 ? new Set(ex.times) : null;
  }

  /** Which exclusion removes the instant `t`, in words, or null. */
  excludedBy(t: number): string | null {
    if (this.excludedInstants?.has(t)) return `the excluded date-time ${new Date(t).toISOString()}`;
    const local = this.zv.toLocal(t);
    const day = Math.floor(local / DAY_MS);
    const calendars = this.calendarsOfDay.get(day);
    if (calendars !== undefined) return `calendar ${calendars.map((c) => `"${c}"`).join(", ")} (${formatLocalDateTime(day * DAY_MS).slice(0, 10)})`;
    if (this.excludedDays?.has(day)) return `the excluded date ${formatLocalDateTime(day * DAY_MS).slice(0, 10)}`;
    if (this.excludedLocal?.has(local)) return `the excluded date-time ${formatLocalDateTime(local)}`;
    const time = local - day * DAY_MS;
    if (this.excludedTimes?.has(time)) return `the excluded time of day ${formatLocalDateTime(time).slice(11, 19)}`;
    return null;
  }

  get hasExclusions(): boolean {
    return this.excludedDays !== null || this.excludedLocal !== null || this.excludedInstants !== null || this.excludedTimes !== null;
  }

  /**
   * If the slot is excluded: the instant to continue searching after (≥ slot); else null.
   * Whole excluded days are jumped over at once.
   */
  exclusionSkip(t: number): number | null {
    if (this.excludedInstants?.has(t)) return t;
    if (this.excludedDays === null && this.excludedLocal === null && this.excludedTimes === null) return null;
    const local = this.zv.toLocal(t);
    const day = Math.floor(local / DAY_MS);
    if (this.excludedDays?.has(day)) {
      const r = this.zv.resolve((day + 1) * DAY_MS);
      const nextDay = r.kind === "unique" ? r.instant : r.kind === "overlap" ? r.first : r.transition;
      return Math.max(t, nextDay - 1);
    }
    if (this.excludedLocal?.has(local)) return t;
    if (this.excludedTimes?.has(local - day * DAY_MS)) return t;
    return null;
  }
}

/** Next instant strictly after `after` for a wall-clock spec in a zone, honouring the DST policy. */
function nextCronInstant(spec: CronSpec, after: number, zv: ZoneView, dst: ScheduleCommon["dst"]): number | null {
  if (zv.fixedOffsetMs !== null) {
    const m = nextLocalMatch(spec, after + zv.fixedOffsetMs);
    return m === null ? null : m - zv.fixedOffsetMs;
  }
  const offset = zv.offsetAt(after);
  let best = Infinity;
  let local = after + offset;
  for (let guard = 0; guard < 100_000; guard++) {
    const m = nextLocalMatch(spec, local);
    if (m === null) break;
    const r = zv.resolve(m);
    if (r.kind === "unique") {
      if (r.instant > after) {
        best = r.instant;
        break;
      }
      local = m;
    } else if (r.kind === "overlap") {
      if (r.first > after) {
        best = r.first;
        break;
      }
      if (dst.overlap === "twice" && r.second > after) {
        best = r.second;
        break;
      }
      // `after` lies in the second pass (first ≤ after): every first pass of this overlap is
      // past; with 'once' nothing in it fires again, so continue after its end.
      local = dst.overlap === "once" ? Math.max(m, r.overlapEndLocal - 1) : m;
    } else {
      if (dst.gap === "shift" && r.transition > after) {
        best = r.transition;
        break;
      }
      local = Math.max(m, r.gapEndLocal - 1);
    }
  }
  if (dst.overlap === "twice") {
    // Wall times earlier than `after`'s may come round again if clocks go back before `best`.
    const probe = Math.min(best, after + DAY_MS);
    const later = zv.offsetAt(probe);
    if (later < offset) {
      const t = zv.transitionBetween(after, probe, offset);
      const m = nextLocalMatch(spec, t + later - 1);
      if (m !== null && m < t + offset) best = Math.min(best, m - later);
    }
  }
  return best === Infinity ? null : best;
}

function nextRaw(ev: Evaluation, after: number, ctx: ScheduleContext): number | null {
  const s = ev.schedule;
  switch (s.kind) {
    case "cron":
    case "pgagent":
      return nextCronInstant(s.cron, after, ev.zv, s.dst);
    case "every": {
      const anchor = s.anchor !== null ? instantOf(s.anchor, ev.zv) : s.startsAt !== null ? ev.startsAt : ctx.anchorMs ?? 0;
      const k = Math.floor((after - anchor) / s.intervalMs) + 1;
      return anchor + k * s.intervalMs;
    }
    case "after": {
      const base = ctx.lastRunEndMs ?? null;
      const slot = base !== null ? base + s.intervalMs : s.startsAt !== null ? ev.startsAt : ctx.anchorMs ?? null;
      return slot !== null && slot > after ? slot : null;
    }
    case "reboot": {
      const t = ctx.schedulerStartedAtMs ?? null;
      return t !== null && t > after ? t : null;
    }
    case "at": {
      const t = instantOf(s.at, ev.zv);
      return t > after ? t : null;
    }
  }
}

/**
 * Candidate slots looked at in a row that exclusions remove, before a search gives up
 * (a whole excluded day counts once). A schedule whose every slot is excluded is refused at
 * definition time (neverFires); this bound keeps a search cheap whatever the data.
 */
export const MAX_EXCLUDED_CANDIDATES = 10_000;

function nextWithin(ev: Evaluation, after: number, ctx: ScheduleContext): number | null {
  if (!Number.isFinite(after)) throw new Error(`expected an instant in epoch milliseconds, got ${after}`);
  let from = Math.max(after, ev.startsAt - 1);
  const s = ev.schedule;
  for (let guard = 0; guard < MAX_EXCLUDED_CANDIDATES; guard++) {
    const t = nextRaw(ev, from, ctx);
    if (t === null || t > ev.endsAt) return null;
    if (t < ev.startsAt) {
      // Only @after/@reboot/at can land before the start; those fire once at most.
      if (s.kind === "after") return ev.startsAt > after ? ev.startsAt : null;
      return null;
    }
    const skip = ev.hasExclusions ? ev.exclusionSkip(t) : null;
    if (skip === null) return t;
    if (s.kind === "after") {
      // A delayed run that falls on an excluded time waits one more interval.
      from = skip;
      ctx = { ...ctx, lastRunEndMs: t };
      continue;
    }
    if (s.kind === "reboot" || s.kind === "at") return null;
    from = skip;
  }
  return null;
}

/**
 * Why a schedule would never fire from `fromMs` on, or null when it fires (or depends on
 * runs: @after, @reboot, at). Bounded: a schedule none of whose next MAX_EXCLUDED_CANDIDATES
 * candidate slots survives its exclusions counts as never firing. Its ends_at is not taken
 * into account (a schedule that ended is not a mistake in its text).
 */
export function neverFires(schedule: Schedule, fromMs: number, tz: TimeZoneRules | null, context: ScheduleContext = {}): string | null {
  if (schedule.kind === "after" || schedule.kind === "reboot" || schedule.kind === "at") return null;
  const open: Schedule = { ...schedule, endsAt: null };
  if (nextFireTime(open, fromMs, tz, context) !== null) return null;
  const bare: Schedule = { ...open, exclude: { dates: [], localDateTimes: [], instants: [], times: [], calendars: [] } };
  return nextFireTime(bare, fromMs, tz, context) !== null
    ? `never fires: its exclusions remove every slot (none of the next ${MAX_EXCLUDED_CANDIDATES} is left)`
    : "never fires";
}

/** Whether an instant is a slot of a schedule, and if not, what removed it. */
export type SlotCheck =
  | { kind: "slot" }
  /** A slot of the schedule's times that an exclusion removes (`by`: which one, in words). */
  | { kind: "excluded"; by: string }
  /** A slot of the schedule's times outside its starts_at / ends_at. */
  | { kind: "out_of_bounds"; bound: "starts_at" | "ends_at" }
  | { kind: "not_a_slot" };

/**
 * Says whether `t` is a slot of a cron, pgAgent, @every or at schedule (the others have
 * slots only where runs happened). For explain.
 */
export function checkSlot(schedule: Schedule, t: number, tz: TimeZoneRules | null, context: ScheduleContext = {}): SlotCheck {
  if (nextFireTime(schedule, t - 1, tz, context) === t) return { kind: "slot" };
  const bare: Schedule = { ...schedule, startsAt: null, endsAt: null, exclude: { dates: [], localDateTimes: [], instants: [], times: [], calendars: [] } };
  if (nextFireTime(bare, t - 1, tz, context) !== t) return { kind: "not_a_slot" };
  const ev = new Evaluation(schedule, tz, context);
  if (t < ev.startsAt) return { kind: "out_of_bounds", bound: "starts_at" };
  if (t > ev.endsAt) return { kind: "out_of_bounds", bound: "ends_at" };
  const by = ev.excludedBy(t);
  return by === null ? { kind: "not_a_slot" } : { kind: "excluded", by };
}

/** The first fire time strictly after `afterMs`, or null if the schedule will not fire again. */
export function nextFireTime(schedule: Schedule, afterMs: number, tz: TimeZoneRules | null, context: ScheduleContext = {}): number | null {
  return nextWithin(new Evaluation(schedule, tz, context), afterMs, context);
}

/**
 * Up to `count` fire times strictly after `afterMs`, in order. @after, @reboot and one-shot
 * schedules yield at most one (what follows depends on runs that have not happened).
 */
export function nextFireTimes(schedule: Schedule, afterMs: number, count: number, tz: TimeZoneRules | null, context: ScheduleContext = {}): number[] {
  const ev = new Evaluation(schedule, tz, context);
  const out: number[] = [];
  let t = afterMs;
  const single = schedule.kind === "after" || schedule.kind === "reboot" || schedule.kind === "at";
  while (out.length < count) {
    const n = nextWithin(ev, t, context);
    if (n === null) break;
    out.push(n);
    if (single) break;
    t = n;
  }
  return out;
}

/** Fire times s with fromMs < s ≤ toMs, at most `limit` of them, in order. */
export function slotsBetween(schedule: Schedule, fromMs: number, toMs: number, tz: TimeZoneRules | null, limit: number, context: ScheduleContext = {}): number[] {
  const ev = new Evaluation(schedule, tz, context);
  const out: number[] = [];
  let t = fromMs;
  const single = schedule.kind === "after" || schedule.kind === "reboot" || schedule.kind === "at";
  while (out.length < limit) {
    const n = nextWithin(ev, t, context);
    if (n === null || n > toMs) break;
    out.push(n);
    if (single) break;
    t = n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Descriptions

const DAY_WORDS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_WORDS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const pad = (n: number): string => String(n).padStart(2, "0");

/** "a, b and c" for things that all happen (times of day), "a, b or c" for alternatives (days, months). */
function listWords(words: string[], conjunction: "and" | "or" = "and"): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} ${conjunction} ${words[words.length - 1]}`;
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th";
  return `${n}${s}`;
}

/** Step pattern of a whole field ("*\/n" over min..max), or 0. */
function everyN(values: number[], min: number, max: number): number {
  if (values.length < 2 || values[0] !== min) return 0;
  const step = values[1]! - values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i]! - values[i - 1]! !== step) return 0;
  return values[values.length - 1]! + step > max ? step : 0;
}

function describeCron(spec: CronSpec): string {
  const sec = spec.seconds;
  const min = spec.minutes;
  const hr = spec.hours;
  const allSec = sec.length === 60;
  const allMin = min.length === 60;
  const allHr = hr.length === 24;
  let time: string;
  if (allSec && allMin && allHr) time = "every second";
  else if (sec.length === 1 && sec[0] === 0 && allMin && allHr) time = "every minute";
  else if (!allSec && everyN(sec, 0, 59) > 0 && allMin && allHr) time = `every ${everyN(sec, 0, 59)} seconds`;
  else if (sec.length === 1 && sec[0] === 0 && everyN(min, 0, 59) > 0 && allHr) time = `every ${everyN(min, 0, 59)} minutes`;
  else if (sec.length === 1 && sec[0] === 0 && min.length === 1 && allHr) time = min[0] === 0 ? "every hour" : `every hour at minute ${min[0]}`;
  else if (sec.length === 1 && sec[0] === 0 && min.length === 1 && everyN(hr, 0, 23) > 0) time = `every ${everyN(hr, 0, 23)} hours at minute ${min[0]}`;
  else if (sec.length === 1 && min.length * hr.length <= 6) {
    const times: string[] = [];
    for (const h of hr) for (const m of min) times.push(`${pad(h)}:${pad(m)}${sec[0] !== 0 ? `:${pad(sec[0]!)}` : ""}`);
    time = `at ${listWords(times)}`;
  } else return `cron "${spec.source}"`;
  const d = spec.days;
  const parts: string[] = [time];
  const domPlain = d.domFromLast.length === 0 && d.domNearestWeekday.length === 0 && !d.domLastWeekday;
  const dowPlain = d.dowNth.length === 0 && d.dowLastMask === 0;
  const domDays: number[] = [];
  for (let i = 1; i <= 31; i++) if ((d.domMask >> i) & 1) domDays.push(i);
  const dowDays: number[] = [];
  for (let i = 0; i < 7; i++) if ((d.dowMask >> i) & 1) dowDays.push(i);
  const domFull = d.domMask === (0xfffffffe | 0) && domPlain && !d.pgagentLastDay;
  const dowFull = d.dowMask === 0x7f && dowPlain;
  let dayText = "";
  if (!dowFull) {
    if (!dowPlain) return `cron "${spec.source}"`;
    // A slot fires on any one of these days: "on Monday or Wednesday", never "and".
    dayText = d.dowMask === 0b0111110 ? "on weekdays" : d.dowMask === 0b1000001 ? "on weekends" : `on ${listWords(dowDays.map((x) => DAY_WORDS[x]!), "or")}`;
  }
  let domText = "";
  if (d.pgagentLastDay && domDays.length === 0) domText = "on the last day of the month";
  else if (!domFull) {
    if (domPlain && !d.pgagentLastDay && !(d.domStar && d.domMask !== (0xfffffffe | 0))) domText = `on the ${listWords(domDays.map(ordinal), "or")} of the month`;
    else if (domDays.length === 0 && d.domFromLast.length === 1 && d.domFromLast[0] === 0 && d.domNearestWeekday.length === 0 && !d.domLastWeekday) domText = "on the last day of the month";
    else return `cron "${spec.source}"`;
  }
  const and = d.domStar || d.dowStar || d.combine === "and";
  if (domText !== "" && dayText !== "") parts.push(`${domText} ${and ? "if it is" : "or"} ${dayText.replace(/^on /, "on a ")}`);
  else if (domText !== "") parts.push(domText);
  else if (dayText !== "") parts.push(dayText);
  if (spec.months.length < 12) parts.push(`in ${listWords(spec.months.map((m) => MONTH_WORDS[m - 1]!), "or")}`);
  return parts.join(" ");
}

function formatTimestamp(p: ParsedTimestamp): string {
  const s = formatLocalDateTime(p.local).replace("T", " ").replace(/:00$/, "");
  if (p.offsetMs === null) return s;
  if (p.offsetMs === 0) return `${s} UTC`;
  const sign = p.offsetMs < 0 ? "-" : "+";
  const a = Math.abs(p.offsetMs) / 60_000;
  return `${s}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** Plain-English description: "every 5 minutes", "at 02:30 on Monday in Europe/Berlin". */
export function describeSchedule(schedule: Schedule): string {
  let text: string;
  switch (schedule.kind) {
    case "cron":
    case "pgagent":
      text = describeCron(schedule.cron);
      break;
    case "every":
      text = `every ${formatInterval(schedule.intervalMs).replace(/^1 (\w+)$/, "$1")}`;
      break;
    case "after":
      text = `${formatInterval(schedule.intervalMs)} after the previous run ends`;
      break;
    case "reboot":
      text = "once when the scheduler starts";
      break;
    case "at":
      text = `once at ${formatTimestamp(schedule.at)}`;
      break;
  }
  const zoneMatters = schedule.kind === "cron" || schedule.kind === "pgagent" || (schedule.kind === "at" && schedule.at.offsetMs === null);
  if (zoneMatters && !isUtcZone(schedule.timeZone)) text += ` in ${schedule.timeZone}`;
  if (schedule.startsAt !== null) text += `, from ${formatTimestamp(schedule.startsAt)}`;
  if (schedule.endsAt !== null) text += `, until ${formatTimestamp(schedule.endsAt)}`;
  return text;
}

export { CRON_MACROS, daysFromCivil };
