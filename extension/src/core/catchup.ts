// Due slots after an outage: which become runs, which are skipped (and why), without
// walking every missed slot of a long outage. The rule is decideMisfire's (policies.ts);
// this file applies it to a schedule from its first due slot:
//  - when the missed slots can be listed (up to ENUMERATION_LIMIT), decideMisfire decides
//    on the list, and consecutive skips with one reason are reported as one range;
//  - beyond that, the same rule is applied to ranges found by binary search
//    (lastSlotAtOrBefore), so a job down for years costs one tick and a few rows.
// At most `fireLimit` runs come out of one call; `more` then says the next call goes on
// from `lastSlotMs`.

import { nextFireTime, slotsBetween, type Schedule, type ScheduleContext } from "./schedule.ts";
import { decideMisfire, type MisfirePolicy, type SkipReason } from "./policies.ts";
import type { TimeZoneRules } from "./time.ts";

/** Missed slots listed one by one at most; beyond, ranges are found by search. */
export const ENUMERATION_LIMIT = 10_000;

/** Consecutive slots of one schedule not run, for one reason. */
export interface SkippedRange {
  fromMs: number;
  /** The last slot of the range (= fromMs for a single slot). */
  toMs: number;
  /** How many slots, or null when more than ENUMERATION_LIMIT (not counted). */
  count: number | null;
  reason: SkipReason;
}

export interface DueSlotsPlan {
  /** Slots to turn into runs, oldest first. */
  fire: number[];
  /** Whether each slot of `fire` was missed (older than the grace period): a catch-up run. */
  catchUp: boolean[];
  skipped: SkippedRange[];
  /** The latest slot decided here (fired or skipped); null when none was due. */
  lastSlotMs: number | null;
  /** More due slots follow lastSlotMs than one call decides: call again from there. */
  more: boolean;
}

/**
 * The latest slot at or before `t`, given a slot `lo` ≤ t (returned when none is later).
 * Binary search: each probe (one nextFireTime) halves the interval.
 */
export function lastSlotAtOrBefore(schedule: Schedule, lo: number, t: number, tz: TimeZoneRules | null, ctx: ScheduleContext = {}): number {
  let known = lo;
  let hi = t;
  while (known < hi) {
    const mid = known + Math.floor((hi - known) / 2);
    const n = nextFireTime(schedule, mid, tz, ctx);
    if (n !== null && n <= hi) known = n;
    else hi = mid;
  }
  return known;
}

/**
 * The latest slot strictly before `t`, looking back at most `maxLookbackMs`, or null.
 * For explain: the nearest slot before a time.
 */
export function previousFireTime(schedule: Schedule, t: number, tz: TimeZoneRules | null, ctx: ScheduleContext = {}, maxLookbackMs = 400 * 86_400_000): number | null {
  for (let window = 1000; ; window *= 4) {
    const span = Math.min(window, maxLookbackMs);
    const first = slotsBetween(schedule, t - span - 1, t - 1, tz, 1, ctx)[0];
    if (first !== undefined) return lastSlotAtOrBefore(schedule, first, t - 1, tz, ctx);
    if (span >= maxLookbackMs) return null;
  }
}

/** Slots in [from, to] (from is a slot), counted up to ENUMERATION_LIMIT, else null. */
function countSlots(schedule: Schedule, from: number, to: number, tz: TimeZoneRules | null, ctx: ScheduleContext): number | null {
  const n = slotsBetween(schedule, from - 1, to, tz, ENUMERATION_LIMIT + 1, ctx).length;
  return n > ENUMERATION_LIMIT ? null : n;
}

/** Consecutive skipped slots with one reason, as ranges (slots: every slot in between). */
function asRanges(skipped: readonly { slotMs: number; reason: SkipReason }[], slots: readonly number[]): SkippedRange[] {
  const index = new Map(slots.map((s, i) => [s, i]));
  const out: SkippedRange[] = [];
  for (const s of skipped) {
    const last = out[out.length - 1];
    if (last !== undefined && last.reason === s.reason && index.get(s.slotMs) === index.get(last.toMs)! + 1) {
      last.toMs = s.slotMs;
      last.count = (last.count ?? 0) + 1;
    } else out.push({ fromMs: s.slotMs, toMs: s.slotMs, count: 1, reason: s.reason });
  }
  return out;
}

/**
 * Decides the due slots of a schedule from `firstMs` (its next slot, due) up to `horizonMs`
 * under the misfire policy: what fires, what is skipped and why.
 */
export function planDueSlots(
  schedule: Schedule,
  firstMs: number,
  nowMs: number,
  horizonMs: number,
  policy: MisfirePolicy,
  tz: TimeZoneRules | null,
  ctx: ScheduleContext = {},
  fireLimit = 1000,
  enumerationLimit = ENUMERATION_LIMIT,
): DueSlotsPlan {
  const horizon = Math.max(nowMs, horizonMs);
  const single = schedule.kind === "after" || schedule.kind === "at" || schedule.kind === "reboot";
  // A slot older than the grace period is missed: s < now - grace.
  const missedBound = nowMs - policy.graceMs - 1;
  const isCatchUp = (s: number) => nowMs - s > policy.graceMs;
  const listed = single ? (firstMs <= horizon ? [firstMs] : []) : slotsBetween(schedule, firstMs - 1, Math.min(missedBound, horizon), tz, enumerationLimit + 1, ctx);
  if (single || listed.length <= enumerationLimit) {
    // Every missed slot is listed: decideMisfire decides on the list.
    const last = listed[listed.length - 1] ?? firstMs - 1;
    const onTime = single ? [] : slotsBetween(schedule, Math.max(last, firstMs - 1), horizon, tz, fireLimit + 1, ctx);
    const slots = [...listed, ...onTime];
    const d = decideMisfire(policy, slots, nowMs, horizon);
    let fire = d.fire;
    let more = onTime.length > fireLimit;
    let lastSlotMs = slots.length === 0 ? null : slots[Math.min(slots.length, listed.length + fireLimit) - 1]!;
    if (fire.length > fireLimit) {
      fire = fire.slice(0, fireLimit);
      lastSlotMs = fire[fire.length - 1]!;
      more = true;
    }
    const skipped = d.skipped.filter((s) => lastSlotMs !== null && s.slotMs <= lastSlotMs);
    return { fire, catchUp: fire.map(isCatchUp), skipped: asRanges(skipped, slots), lastSlotMs, more };
  }

  // A long outage: the same rule on ranges.
  const lastMissed = lastSlotAtOrBefore(schedule, firstMs, missedBound, tz, ctx);
  const before = (s: number) => lastSlotAtOrBefore(schedule, firstMs, s - 1, tz, ctx);
  const range = (fromMs: number, toMs: number, reason: SkipReason): SkippedRange =>
    ({ fromMs, toMs, reason, count: countSlots(schedule, fromMs, toMs, tz, ctx) });
  const onTime = () => slotsBetween(schedule, lastMissed, horizon, tz, fireLimit + 1, ctx);
  const finish = (fire: number[], skipped: SkippedRange[], after: number[]): DueSlotsPlan => {
    const all = [...fire, ...after.slice(0, Math.max(0, fireLimit - fire.length))];
    const more = fire.length + after.length > fireLimit;
    const lastSkipped = skipped.length > 0 ? skipped[skipped.length - 1]!.toMs : null;
    const lastSlotMs = all.length > 0 ? Math.max(all[all.length - 1]!, lastSkipped ?? -Infinity) : lastSkipped;
    return { fire: all, catchUp: all.map(isCatchUp), skipped, lastSlotMs, more };
  };
  switch (policy.policy) {
    case "skip":
      return finish([], [range(firstMs, lastMissed, "misfire_skipped")], onTime());
    case "once": {
      const after = onTime();
      if (after.length > 0) return finish([], [range(firstMs, lastMissed, "misfire_coalesced")], after);
      return finish([lastMissed], [range(firstMs, before(lastMissed), "misfire_coalesced")], []);
    }
    case "all": {
      const skipped: SkippedRange[] = [];
      let from: number | null = firstMs;
      if (policy.maxAgeMs !== null && firstMs < nowMs - policy.maxAgeMs) {
        // Older than max_age: s < now - max_age.
        const lastOld = lastSlotAtOrBefore(schedule, firstMs, Math.min(lastMissed, nowMs - policy.maxAgeMs - 1), tz, ctx);
        skipped.push(range(firstMs, lastOld, "misfire_too_old"));
        from = lastOld < lastMissed ? nextFireTime(schedule, lastOld, tz, ctx) : null;
      }
      if (from !== null && policy.maxCount !== null) {
        // Keep the most recent max_count missed slots: step back from the last one.
        if (policy.maxCount === 0) {
          skipped.push(range(from, lastMissed, "misfire_over_limit"));
          from = null;
        } else {
          let start = lastMissed;
          for (let k = 1; k < policy.maxCount && start > from; k++) start = before(start);
          if (start > from) skipped.push(range(from, before(start), "misfire_over_limit"));
          from = start;
        }
      }
      const kept = from === null ? [] : slotsBetween(schedule, from - 1, lastMissed, tz, fireLimit + 1, ctx);
      if (kept.length > fireLimit) {
        const fire = kept.slice(0, fireLimit);
        return { fire, catchUp: fire.map(isCatchUp), skipped, lastSlotMs: fire[fire.length - 1]!, more: true };
      }
      return finish(kept, skipped, onTime());
    }
  }
}
