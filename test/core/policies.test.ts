import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  decideMisfire, decideOverlap, decideRetry, decideTimeout, mayStartQueued, overlapLimit, OVERLAP_MODES,
  DEFAULT_MISFIRE_POLICY, DEFAULT_RETRY_POLICY, type MisfirePolicy, type OverlapPolicy, type RetryPolicy,
} from "../../extension/src/core/index.ts";

const MIN = 60_000;
const now = 100 * MIN;
const slots = [90 * MIN, 95 * MIN, 98 * MIN, 100 * MIN - 1000]; // the last is on time (within 1 min grace)
const misfire = (p: Partial<MisfirePolicy>): MisfirePolicy => ({ ...DEFAULT_MISFIRE_POLICY, ...p });

describe("misfire", () => {
  test("skip fires only on-time slots and reports each missed one", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "skip" }), slots, now), {
      fire: [100 * MIN - 1000],
      skipped: [{ slotMs: 90 * MIN, reason: "misfire_skipped" }, { slotMs: 95 * MIN, reason: "misfire_skipped" }, { slotMs: 98 * MIN, reason: "misfire_skipped" }],
    });
  });
  test("once runs the latest missed slot for all of them", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "once" }), slots.slice(0, 3), now), {
      fire: [98 * MIN],
      skipped: [{ slotMs: 90 * MIN, reason: "misfire_coalesced" }, { slotMs: 95 * MIN, reason: "misfire_coalesced" }],
    });
  });
  test("once lets an on-time slot stand for the missed ones", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "once" }), slots, now).fire, [100 * MIN - 1000]);
  });
  test("a slot within the fire horizon (fired ahead) is on time; one beyond it waits", () => {
    const ahead = [now + 20, now + 80];
    assert.deepEqual(decideMisfire(misfire({ policy: "skip", graceMs: 0 }), ahead, now, now + 50), { fire: [now + 20], skipped: [] });
    assert.deepEqual(decideMisfire(misfire({ policy: "skip" }), ahead, now), { fire: [], skipped: [] });
  });
  test("all fires every missed slot", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "all" }), slots, now), { fire: slots, skipped: [] });
  });
  test("all is capped by count, keeping the most recent", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "all", maxCount: 1 }), slots, now), {
      fire: [98 * MIN, 100 * MIN - 1000],
      skipped: [{ slotMs: 90 * MIN, reason: "misfire_over_limit" }, { slotMs: 95 * MIN, reason: "misfire_over_limit" }],
    });
  });
  test("all is capped by age", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "all", maxAgeMs: 6 * MIN }), slots, now), {
      fire: [95 * MIN, 98 * MIN, 100 * MIN - 1000],
      skipped: [{ slotMs: 90 * MIN, reason: "misfire_too_old" }],
    });
  });
  test("grace decides what counts as missed", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "skip", graceMs: 10 * MIN }), slots, now).fire, slots);
  });
  test("slots in the future are not due", () => {
    assert.deepEqual(decideMisfire(misfire({ policy: "all" }), [now + 1], now), { fire: [], skipped: [] });
  });
});

describe("overlap", () => {
  const one = [{ runId: "r1", startedAtMs: 1 }];
  const two = [{ runId: "r2", startedAtMs: 2 }, { runId: "r1", startedAtMs: 1 }];
  const policy = (mode: OverlapPolicy["mode"], maxInstances: number | null = 1, maxQueued = 0): OverlapPolicy => ({ mode, maxInstances, maxQueued });
  test("starts when nothing runs", () => assert.deepEqual(decideOverlap(policy("skip"), []), { action: "start" }));
  test("skip skips while a run is going", () => assert.deepEqual(decideOverlap(policy("skip"), one), { action: "skip", reason: "overlap_skipped" }));
  test("allow_all starts up to max_instances", () => {
    assert.deepEqual(decideOverlap(policy("allow_all", 2), one), { action: "start" });
    assert.deepEqual(decideOverlap(policy("allow_all", 2), two), { action: "skip", reason: "max_instances_reached" });
  });
  test("allow_all without max_instances has no limit", () => {
    const many = Array.from({ length: 500 }, (_, i) => ({ runId: `r${i}`, startedAtMs: i }));
    assert.deepEqual(decideOverlap(policy("allow_all", null), many), { action: "start" });
    assert.equal(overlapLimit(policy("allow_all", null)), Infinity);
  });
  test("buffer_all waits within its bound; buffer_one holds one", () => {
    assert.deepEqual(decideOverlap(policy("buffer_all", 1, 2), one, 1), { action: "queue", position: 2 });
    assert.deepEqual(decideOverlap(policy("buffer_all", 1, 2), one, 2), { action: "skip", reason: "queue_full" });
    assert.deepEqual(decideOverlap(policy("buffer_one", 1, 1), one, 0), { action: "queue", position: 1 });
    assert.deepEqual(decideOverlap(policy("buffer_one", 1, 1), one, 1), { action: "skip", reason: "queue_full" });
  });
  test("a buffer keeps its order: a free slot with a waiting run waits behind it", () => {
    assert.deepEqual(decideOverlap(policy("buffer_all", 1, 2), [], 1), { action: "queue", position: 2 });
    assert.equal(mayStartQueued(policy("buffer_all", 1, 2), 0, 1), true);
    assert.equal(mayStartQueued(policy("buffer_all", 1, 2), 1, 1), false);
  });
  test("terminate_other stops the oldest running runs at once; cancel_other asks them to stop", () => {
    assert.deepEqual(decideOverlap(policy("terminate_other"), two), { action: "replace", cancel: ["r1", "r2"], graceful: false });
    assert.deepEqual(decideOverlap(policy("cancel_other"), one), { action: "replace", cancel: ["r1"], graceful: true });
  });
  test("of runs that started at the same time, the one made first is the oldest (run 9 before run 10)", () => {
    // Runs queued by one tick share their time until a supervisor starts them.
    const same = [{ runId: "10", startedAtMs: now }, { runId: "9", startedAtMs: now }, { runId: "new:4/2026-12-01T00:00:00.000Z", startedAtMs: now }];
    assert.deepEqual(decideOverlap(policy("cancel_other", 3), same), { action: "replace", cancel: ["9"], graceful: true });
    assert.deepEqual(decideOverlap(policy("terminate_other", 2), same), { action: "replace", cancel: ["9", "10"], graceful: false });
  });
  test("a catch-up slot is never skipped nor replaces a run: it waits its turn", () => {
    for (const mode of OVERLAP_MODES) {
      const p = policy(mode, mode === "allow_all" ? 1 : 1, mode === "buffer_one" ? 1 : 5);
      assert.deepEqual(decideOverlap(p, one, 3, true), { action: "queue", position: 4 }, mode);
      assert.deepEqual(decideOverlap(p, [], 0, true), { action: "start" }, mode);
      assert.deepEqual(decideOverlap(p, [], 2, true), { action: "queue", position: 3 }, `${mode}: behind earlier catch-up runs`);
    }
  });
});

describe("retry", () => {
  const p = (x: Partial<RetryPolicy>): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, ...x });
  test("gives up when attempts are exhausted", () => assert.deepEqual(decideRetry(p({ attempts: 3 }), 3, 0, "r"), { retry: false, reason: "attempts_exhausted" }));
  test("fixed back-off", () => assert.deepEqual(decideRetry(p({ attempts: 3, backoff: "fixed", delayMs: 5000 }), 2, 1000, "r"), { retry: true, attempt: 3, delayMs: 5000, atMs: 6000 }));
  test("exponential back-off doubles and is capped", () => {
    const q = p({ attempts: 10, backoff: "exponential", delayMs: 1000, maxDelayMs: 5000 });
    assert.deepEqual([1, 2, 3, 4].map((a) => (decideRetry(q, a, 0, "r") as { delayMs: number }).delayMs), [1000, 2000, 4000, 5000]);
  });
  test("jitter is reproducible per run and attempt, bounded, and varies", () => {
    const q = p({ attempts: 10, backoff: "fixed", delayMs: 10_000, maxDelayMs: 60_000, jitter: 0.5 });
    const a = decideRetry(q, 1, 0, "run-1/step");
    assert.deepEqual(decideRetry(q, 1, 0, "run-1/step"), a);
    const delays = Array.from({ length: 50 }, (_, i) => (decideRetry(q, 1, 0, `run-${i}`) as { delayMs: number }).delayMs);
    assert.ok(delays.every((d) => d >= 5000 && d <= 15000), String(delays));
    assert.ok(new Set(delays).size > 40);
  });
});

describe("timeouts", () => {
  test("the step's own time-out when earlier", () => assert.deepEqual(decideTimeout({ nowMs: 50, jobStartedAtMs: 0, jobTimeoutMs: 100, stepStartedAtMs: 10, stepTimeoutMs: 30 }), { deadlineMs: 40, limit: "step", timedOut: true }));
  test("the job's time-out when earlier", () => assert.deepEqual(decideTimeout({ nowMs: 50, jobStartedAtMs: 0, jobTimeoutMs: 60, stepStartedAtMs: 40, stepTimeoutMs: 30 }), { deadlineMs: 60, limit: "job", timedOut: false }));
  test("no limits, no deadline", () => assert.deepEqual(decideTimeout({ nowMs: 50, jobStartedAtMs: 0, jobTimeoutMs: null }), { deadlineMs: null, limit: null, timedOut: false }));
});
