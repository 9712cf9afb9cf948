// planDueSlots: the misfire rule applied to a schedule after an outage, with long runs of
// skipped slots found by search instead of listed. The ranges must say exactly what
// decideMisfire says slot by slot.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_MISFIRE_POLICY, decideMisfire, lastSlotAtOrBefore, nextFireTime, planDueSlots, previousFireTime, slotsBetween,
  type DueSlotsPlan, type MisfirePolicy,
} from "../../extension/src/core/index.ts";
import { intlRules, ms, schedule } from "./helpers.ts";

const MIN = 60_000;
const policy = (p: Partial<MisfirePolicy>): MisfirePolicy => ({ ...DEFAULT_MISFIRE_POLICY, ...p });

/** Every slot of a plan, fired or skipped, with its outcome. */
function outcomes(plan: DueSlotsPlan, s: ReturnType<typeof schedule>): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of plan.fire) out.set(f, "fire");
  for (const r of plan.skipped) {
    const slots = slotsBetween(s, r.fromMs - 1, r.toMs, intlRules, 1_000_000);
    if (r.count !== null) assert.equal(slots.length, r.count, "a range's count is its number of slots");
    for (const x of slots) {
      assert.ok(!out.has(x), `slot ${new Date(x).toISOString()} decided twice`);
      out.set(x, r.reason);
    }
  }
  return out;
}

describe("planDueSlots", () => {
  const every5 = schedule("*/5 * * * *");
  const first = ms("2030-01-01T00:05:00Z");

  test("a year-long outage under misfire skip is one range, decided in one call", () => {
    const now = ms("2031-01-01T00:02:30Z");
    const plan = planDueSlots(every5, first, now, now, policy({ policy: "skip" }), null);
    assert.deepEqual(plan.fire, []);
    assert.equal(plan.skipped.length, 1);
    assert.deepEqual([plan.skipped[0]!.fromMs, plan.skipped[0]!.toMs, plan.skipped[0]!.count, plan.skipped[0]!.reason],
      [first, ms("2031-01-01T00:00:00Z"), null, "misfire_skipped"]);
    assert.equal(plan.more, false);
    assert.equal(nextFireTime(every5, Math.max(now, plan.lastSlotMs!), null), ms("2031-01-01T00:05:00Z"));
  });

  test("misfire once after a long outage runs the latest missed slot for all of them", () => {
    const now = ms("2031-01-01T00:02:30Z");
    const plan = planDueSlots(every5, first, now, now, policy({ policy: "once" }), null);
    assert.deepEqual(plan.fire, [ms("2031-01-01T00:00:00Z")]);
    assert.deepEqual(plan.catchUp, [true]);
    assert.deepEqual(plan.skipped.map((r) => [r.fromMs, r.toMs, r.reason]), [[first, ms("2030-12-31T23:55:00Z"), "misfire_coalesced"]]);
  });

  test("misfire all with max_count keeps the most recent slots and skips the rest as one range", () => {
    const now = ms("2031-01-01T00:02:30Z");
    const plan = planDueSlots(every5, first, now, now, policy({ policy: "all", maxCount: 3 }), null);
    assert.deepEqual(plan.fire, [ms("2030-12-31T23:50:00Z"), ms("2030-12-31T23:55:00Z"), ms("2031-01-01T00:00:00Z")]);
    assert.deepEqual(plan.skipped.map((r) => [r.fromMs, r.toMs, r.reason]), [[first, ms("2030-12-31T23:45:00Z"), "misfire_over_limit"]]);
  });

  test("misfire all without bounds fires at most fireLimit runs per call and goes on from there", () => {
    const now = ms("2030-01-02T00:00:00Z");
    const plan = planDueSlots(every5, first, now, now, policy({ policy: "all" }), null, {}, 100);
    assert.equal(plan.fire.length, 100);
    assert.equal(plan.more, true);
    assert.equal(plan.lastSlotMs, plan.fire[99]);
  });

  test("lastSlotAtOrBefore and previousFireTime find the nearest earlier slot", () => {
    assert.equal(lastSlotAtOrBefore(every5, first, ms("2030-06-01T12:34:56Z"), null), ms("2030-06-01T12:30:00Z"));
    assert.equal(previousFireTime(every5, ms("2030-06-01T12:30:00Z"), null), ms("2030-06-01T12:25:00Z"));
    const yearly = schedule("0 0 1 1 *");
    assert.equal(previousFireTime(yearly, ms("2030-06-01T00:00:00Z"), null), ms("2030-01-01T00:00:00Z"));
    assert.equal(previousFireTime(yearly, ms("2030-06-01T00:00:00Z"), null, {}, 30 * 86_400_000), null, "beyond the look-back");
  });

  test("searching ranges says exactly what listing every slot says (random schedules and outages)", () => {
    const exprs = ["*/7 * * * *", "0 */3 * * *", "15 9 * * MON-FRI", "*/20 * * * * *", "0 0 L * *", "30 2 * * *"];
    const zones = ["UTC", "Europe/Berlin", "America/New_York"];
    const policies: MisfirePolicy[] = [
      policy({ policy: "skip" }), policy({ policy: "once" }), policy({ policy: "all" }),
      policy({ policy: "all", maxCount: 4 }), policy({ policy: "all", maxAgeMs: 90 * MIN }),
      policy({ policy: "all", maxAgeMs: 300 * MIN, maxCount: 7 }), policy({ policy: "skip", graceMs: 10 * MIN }),
    ];
    fc.assert(fc.property(
      fc.constantFrom(...exprs), fc.constantFrom(...zones), fc.constantFrom(...policies),
      fc.integer({ min: Date.UTC(2029, 0, 1), max: Date.UTC(2031, 0, 1) }), fc.integer({ min: 0, max: 3 * 86_400_000 }),
      (expr, zone, p, start, outage) => {
        const s = schedule({ cron: expr, time_zone: zone });
        const firstSlot = nextFireTime(s, start, intlRules)!;
        const now = firstSlot + outage;
        const listedPlan = planDueSlots(s, firstSlot, now, now, p, intlRules, {}, 100_000);
        const searchedPlan = planDueSlots(s, firstSlot, now, now, p, intlRules, {}, 100_000, 3);
        const slots = slotsBetween(s, firstSlot - 1, now, intlRules, 1_000_000);
        const expected = decideMisfire(p, slots, now);
        const want = new Map<number, string>([...expected.fire.map((f) => [f, "fire"] as const), ...expected.skipped.map((k) => [k.slotMs, k.reason] as const)]);
        assert.deepEqual(outcomes(listedPlan, s), want);
        assert.deepEqual(outcomes(searchedPlan, s), want);
      },
    ), { numRuns: Number(process.env.CORE_PROPERTY_RUNS ?? 150), seed: Number(process.env.CORE_PROPERTY_SEED ?? 16) });
  });
});
