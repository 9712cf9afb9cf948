// pgAgent schedule sets: minutes[60], hours[24], weekdays[7] (Sunday first), monthdays[32]
// (the 32nd meaning "last day of month"), months[12]. An all-false array means "any".
//
// The semantics follow pgagent.pga_next_schedule exactly, quirks included, so an imported job
// fires on the same slots it did under pgAgent:
//  - weekdays and monthdays must both match (AND), each all-false array matching anything;
//  - the 32nd day counts only when it is the ONLY monthday selected; next to other days it is
//    ignored (pgAgent's final check rejects the last day unless that day number is selected);
//  - with only the 32nd selected, February never fires in a leap year: pgAgent passes the day
//    instead of the year to its leap-year test, rejects the 29th and never reaches the 28th.
// Times are whole minutes.

import { emptyDays, makeSpec, everMatches, type CronSpec } from "./cron.ts";

export interface PgAgentSets {
  minutes?: readonly boolean[];
  hours?: readonly boolean[];
  weekdays?: readonly boolean[];
  monthdays?: readonly boolean[];
  months?: readonly boolean[];
}

const SIZES = { minutes: 60, hours: 24, weekdays: 7, monthdays: 32, months: 12 } as const;

export type PgAgentResult = { ok: true; spec: CronSpec } | { ok: false; errors: Array<{ path: string; message: string }> };

export function parsePgAgentSets(input: unknown): PgAgentResult {
  const errors: Array<{ path: string; message: string }> = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ path: "", message: "pgagent schedule must be an object with minutes, hours, weekdays, monthdays, months arrays" }] };
  }
  const obj = input as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in SIZES)) errors.push({ path: key, message: `unknown field "${key}" (expected minutes, hours, weekdays, monthdays, months)` });
  }
  const arrays: Record<keyof typeof SIZES, boolean[]> = { minutes: [], hours: [], weekdays: [], monthdays: [], months: [] };
  for (const [key, size] of Object.entries(SIZES) as Array<[keyof typeof SIZES, number]>) {
    const v = obj[key];
    if (v === undefined || v === null) {
      arrays[key] = new Array<boolean>(size).fill(false);
      continue;
    }
    if (!Array.isArray(v) || v.length !== size || !v.every((b) => typeof b === "boolean")) {
      errors.push({ path: key, message: `must be an array of exactly ${size} booleans` });
      continue;
    }
    arrays[key] = v as boolean[];
  }
  if (errors.length > 0) return { ok: false, errors };
  const spec = pgAgentSpec(arrays);
  if (!everMatches(spec)) return { ok: false, errors: [{ path: "monthdays", message: "these sets never fire (no selected day exists in the selected months)" }] };
  return { ok: true, spec };
}

function toSet(values: readonly boolean[], offset: number, size: number): Uint8Array {
  const set = new Uint8Array(size);
  const any = !values.some(Boolean);
  for (let i = 0; i < values.length; i++) if (any || values[i]) set[i + offset] = 1;
  return set;
}

function pgAgentSpec(a: Record<keyof typeof SIZES, boolean[]>): CronSpec {
  const days = emptyDays("and");
  const md = a.monthdays;
  const onlyLast = md[31] === true && md.slice(0, 31).every((b) => !b);
  // Both sets are always ANDed (combine "and"); an all-false array is a full set.
  days.domStar = false;
  days.dowStar = false;
  if (onlyLast) days.pgagentLastDay = true;
  else if (md.slice(0, 31).some(Boolean)) {
    for (let d = 1; d <= 31; d++) if (md[d - 1]) days.domMask |= 1 << d;
  } else days.domMask = 0xfffffffe | 0;
  if (a.weekdays.some(Boolean)) {
    for (let w = 0; w < 7; w++) if (a.weekdays[w]) days.dowMask |= 1 << w;
  } else days.dowMask = 0x7f;
  const seconds = new Uint8Array(60);
  seconds[0] = 1;
  const fmt = (set: Uint8Array, from: number, all: boolean): string => {
    if (all) return "*";
    const out: number[] = [];
    for (let i = from; i < set.length; i++) if (set[i]) out.push(i);
    return out.join(",");
  };
  const minutes = toSet(a.minutes, 0, 60);
  const hours = toSet(a.hours, 0, 24);
  const months = toSet(a.months, 1, 13);
  const dowText = days.dowMask === 0x7f ? "*" : fmt(toSet(a.weekdays, 0, 7), 0, false);
  const domText = days.pgagentLastDay ? "L" : !md.slice(0, 31).some(Boolean) ? "*" : fmt(toSet(md.slice(0, 31), 1, 32), 1, false);
  const fields = ["0", fmt(minutes, 0, !a.minutes.some(Boolean)), fmt(hours, 0, !a.hours.some(Boolean)), domText, fmt(months, 1, !a.months.some(Boolean)), dowText];
  return makeSpec(`pgagent ${fields.slice(1).join(" ")}`, false, seconds, minutes, hours, months, days, fields);
}
