// Property tests: the next fire time is strictly after the input, is a match, and no match
// lies in between (checked by brute force on the schedule's grid over a bounded window).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseSchedule, nextFireTime, slotsBetween, matchesLocal, nextLocalMatch, type Schedule } from "../../extension/src/core/index.ts";
import { mulberry32, randomCron } from "./cron-gen.ts";
import { intlRules } from "./tz.ts";

const RUNS = Number(process.env.CORE_PROPERTY_RUNS ?? 300);

/** A random valid cron expression, built from a seed so fast-check can shrink the seed. */
const cronArb = (seconds: number): fc.Arbitrary<{ expr: string }> =>
  fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((seed) => {
    const rand = mulberry32(seed);
    for (;;) {
      const expr = randomCron(rand, { specials: true, seconds });
      if (parseSchedule(expr).ok) return { expr };
    }
  });

function parsed(expr: string): Schedule {
  const r = parseSchedule(expr);
  if (!r.ok) throw new Error(expr);
  return r.schedule;
}

const instantArb = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 0, 1) });

test(`UTC: next fire time is after the input, matches, and nothing matches in between (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(cronArb(0.4), instantArb, ({ expr }, after) => {
      const schedule = parsed(expr);
      if (schedule.kind !== "cron") throw new Error("cron expected");
      const spec = schedule.cron;
      const t = nextFireTime(schedule, after, null);
      assert.ok(t !== null, "a valid cron always fires again");
      assert.ok(t > after, "strictly after");
      assert.ok(matchesLocal(spec, t), "is a match");
      const grid = spec.hasSeconds ? 1000 : 60_000;
      const window = spec.hasSeconds ? 2 * 3600_000 : 3 * 86_400_000;
      for (let g = Math.floor(after / grid) * grid + grid; g < t && g <= after + window; g += grid) {
        assert.ok(!matchesLocal(spec, g), `missed match at ${new Date(g).toISOString()}`);
      }
      assert.deepEqual(slotsBetween(schedule, after, t, null, 5), [t]);
    }),
    { numRuns: RUNS, seed: Number(process.env.CORE_PROPERTY_SEED ?? 424242) },
  );
});

// Instants near the 2020–2030 transitions of these zones, and anywhere.
const ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"] as const;
const offset = (zone: string, t: number): number => intlRules.utcOffsetSeconds(zone, t) * 1000;
function transitions(zone: string): number[] {
  const out: number[] = [];
  for (let t = Date.UTC(2020, 0, 1); t < Date.UTC(2031, 0, 1); t += 6 * 3600_000) {
    if (offset(zone, t) !== offset(zone, t + 6 * 3600_000)) out.push(t);
  }
  return out;
}

for (const zone of ZONES) {
  test(`${zone}: next fire time is after the input, matches or ends a gap, and no first occurrence is missed`, () => {
    const near = transitions(zone);
    const afterArb = fc.oneof(
      fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
      fc.tuple(fc.constantFrom(...near), fc.integer({ min: -30 * 3600_000, max: 30 * 3600_000 })).map(([t, d]) => t + d),
    );
    fc.assert(
      fc.property(cronArb(0), afterArb, ({ expr }, after) => {
        const r = parseSchedule({ cron: expr, time_zone: zone });
        if (!r.ok || r.schedule.kind !== "cron") throw new Error("cron expected");
        const spec = r.schedule.cron;
        const t = nextFireTime(r.schedule, after, intlRules);
        assert.ok(t !== null && t > after, "strictly after");
        const local = t + offset(zone, t);
        if (!matchesLocal(spec, local)) {
          // Only allowed as the shifted fire of a nonexistent wall time: t is a transition
          // forward and some match lies in the gap just before t's wall time.
          const before = offset(zone, t - 1000);
          assert.ok(before < offset(zone, t), `no match and not the end of a gap at ${new Date(t).toISOString()}`);
          const m = nextLocalMatch(spec, t - 1000 + before);
          assert.ok(m !== null && m < local, "a match lies in the gap");
        }
        // Every minute in between whose wall time matches must be a repeat of a wall time
        // that already occurred (the second pass of a fall-back), which fires once by default.
        for (let g = Math.floor(after / 60_000) * 60_000 + 60_000; g < t && g <= after + 86_400_000; g += 60_000) {
          const o = offset(zone, g);
          const wall = g + o;
          if (!matchesLocal(spec, wall)) continue;
          const earlier = offset(zone, g - 3 * 3600_000);
          const firstPass = wall - earlier;
          assert.ok(earlier > o && firstPass < g && offset(zone, firstPass) === earlier, `missed ${new Date(g).toISOString()} (${expr})`);
        }
      }),
      { numRuns: Math.ceil(RUNS / 3), seed: Number(process.env.CORE_PROPERTY_SEED ?? 424242) },
    );
  });
}

for (const zone of ZONES) {
  test(`${zone}: with dst gap=skip and overlap=twice the fire times are exactly the instants whose wall time matches`, () => {
    const near = transitions(zone);
    const afterArb = fc.tuple(fc.constantFrom(...near), fc.integer({ min: -20 * 3600_000, max: 20 * 3600_000 })).map(([t, d]) => t + d);
    fc.assert(
      fc.property(cronArb(0), afterArb, ({ expr }, after) => {
        const r = parseSchedule({ cron: expr, time_zone: zone, dst: { gap: "skip", overlap: "twice" } });
        if (!r.ok) throw new Error(expr);
        const fires = new Set(slotsBetween(r.schedule, after, after + 86_400_000, intlRules, 2000));
        for (let g = Math.floor(after / 60_000) * 60_000 + 60_000; g <= after + 86_400_000; g += 60_000) {
          const matches = matchesLocal(r.schedule.kind === "cron" ? r.schedule.cron : (null as never), g + offset(zone, g));
          assert.equal(fires.has(g), matches, `${expr} at ${new Date(g).toISOString()}: fires ${fires.has(g)}, wall time matches ${matches}`);
        }
        const last = Math.floor((after + 86_400_000) / 60_000) * 60_000;
        assert.ok([...fires].every((t) => t % 60_000 === 0 && t > after && t <= last + 60_000));
      }),
      { numRuns: Math.ceil(RUNS / 6), seed: Number(process.env.CORE_PROPERTY_SEED ?? 424242) },
    );
  });
}
