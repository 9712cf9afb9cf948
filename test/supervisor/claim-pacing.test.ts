// The local queue's depth and the report hold under a backlog (--claim-ahead auto), with a
// clock the test drives: the queue follows the rate steps finish at, within its bounds (the
// concurrency, half the give-back time of work, 1000), and a finished step's tick waits only
// under a backlog, above the low-water mark, and at most REPORT_HOLD_MS.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ClaimPacing, MAX_CLAIM_AHEAD, QUEUE_SPAN_MS, REPORT_HOLD_MS } from "../../supervisor/src/steps/claim-pacing.ts";
import { QUEUE_TTL_MS } from "../../supervisor/src/steps/executor.ts";

/** Ticks of `tickMs` each, back to back, while `perTick` steps finish during each. */
function drive(pacing: ClaimPacing, ticks: number, tickMs: number, perTick: number, start = 0): { now: number; finished: number } {
  let now = start;
  let finished = 0;
  for (let i = 0; i < ticks; i++) {
    now += tickMs;
    finished += perTick;
    pacing.tickEnded(tickMs, now, finished);
  }
  return { now, finished };
}

describe("claim pacing", () => {
  test("a fixed --claim-ahead keeps its number, and a finished step always ticks at once", () => {
    const pacing = new ClaimPacing({ claimAhead: 7, concurrency: 10 }, 0);
    drive(pacing, 20, 10, 100);
    assert.equal(pacing.ahead, 7);
    assert.equal(pacing.tickAfterFinish({ backlog: true, queued: 500, oldestReportAt: 1 }, 2), 2);
    assert.equal(new ClaimPacing({ claimAhead: 0, concurrency: 10 }, 0).ahead, 0);
  });

  test("auto starts at the concurrency and grows with the rate steps finish at", () => {
    const pacing = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    assert.equal(pacing.ahead, 10, "nothing measured yet");
    // 3 steps a ms, ticks of 10 ms: twice a tick plus the margin is 30 ms, 90 steps.
    drive(pacing, 30, 10, 30);
    assert.equal(pacing.ahead, 90);
    assert.ok(pacing.lowWater > 10 && pacing.lowWater < pacing.ahead, `low water ${pacing.lowWater} between the concurrency and the depth`);
  });

  test("auto stays at the concurrency when steps finish slowly", () => {
    const pacing = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    drive(pacing, 30, 10, 1); // 0.1 a ms: 3 steps in 30 ms
    assert.equal(pacing.ahead, 10);
    assert.equal(pacing.lowWater, 10);
  });

  test("auto never holds more than half the give-back time of work, nor more than 1000", () => {
    assert.ok(QUEUE_SPAN_MS <= QUEUE_TTL_MS / 2, "a queue sized by the rate is not given back while steps keep finishing");
    // Long ticks (400 ms): twice that would be 810 ms of work; the span caps it at 500 ms.
    const slowTicks = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    drive(slowTicks, 30, 400, 400); // 1 a ms
    assert.equal(slowTicks.ahead, QUEUE_SPAN_MS);
    const fast = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    drive(fast, 30, 100, 5000); // 50 a ms
    assert.equal(fast.ahead, MAX_CLAIM_AHEAD);
  });

  test("a new backlog starts again from the concurrency", () => {
    const pacing = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    const { now, finished } = drive(pacing, 30, 10, 30);
    assert.ok(pacing.ahead > 10);
    pacing.restart(now + 60_000, finished);
    assert.equal(pacing.ahead, 10);
  });

  test("a finished step's tick waits only under a backlog, above the low-water mark, at most REPORT_HOLD_MS", () => {
    const pacing = new ClaimPacing({ claimAhead: "auto", concurrency: 10 }, 0);
    const { now } = drive(pacing, 30, 10, 30);
    const deep = pacing.lowWater + 1;
    assert.equal(pacing.tickAfterFinish({ backlog: true, queued: deep, oldestReportAt: now }, now), now + REPORT_HOLD_MS, "held, for the oldest report's REPORT_HOLD_MS");
    assert.equal(pacing.tickAfterFinish({ backlog: true, queued: deep, oldestReportAt: now - 20 }, now), now - 20 + REPORT_HOLD_MS, "counted from the oldest report");
    assert.equal(pacing.tickAfterFinish({ backlog: true, queued: deep, oldestReportAt: now - REPORT_HOLD_MS - 5 }, now), now, "a report held its time: at once");
    assert.equal(pacing.tickAfterFinish({ backlog: true, queued: pacing.lowWater, oldestReportAt: now }, now), now, "the queue at its low-water mark: at once");
    assert.equal(pacing.tickAfterFinish({ backlog: false, queued: deep, oldestReportAt: now }, now), now, "no backlog: at once");
  });
});
