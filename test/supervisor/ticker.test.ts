// The ticker with a fake tick function: precise wake-ups, no overlapping ticks,
// coalesced wake-ups, back-off on errors, no busy loop when the database disagrees.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { Ticker, type TickReason } from "../../supervisor/src/ticker.ts";

const log = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ticker", () => {
  test("wakes at the due time the database announced, never before, by its timer (not the safety tick)", async () => {
    // How many milliseconds late it wakes is a benchmark figure (make bench-supervisor), not
    // an assertion: this machine is shared. What can fail here is the behaviour: a wake-up
    // before the due time, a wake-up for the wrong due time, or none until the 60 s safety tick.
    const calls: Array<{ reason: TickReason; at: number; dueAt: number | null }> = [];
    const dues: number[] = [];
    let sixth: () => void = () => {};
    const sixCalls = new Promise<void>((resolve) => (sixth = resolve));
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      log,
      tick: async (reason, dueAt) => {
        calls.push({ reason, at: Date.now(), dueAt });
        if (calls.length > 5) {
          sixth();
          return null;
        }
        const due = Date.now() + 50 + calls.length * 13;
        dues.push(due);
        return new Date(due).toISOString();
      },
    });
    ticker.start();
    const timedOut = await Promise.race([sixCalls.then(() => false), sleep(10_000).then(() => true)]);
    await ticker.stop();
    assert.equal(timedOut, false, `only ${calls.length} of 6 ticks within 10 s: the timer did not wake it`);
    assert.equal(calls.length, 6);
    assert.equal(calls[0]!.reason, "start");
    for (let i = 1; i < calls.length; i++) {
      const late = calls[i]!.at - dues[i - 1]!;
      assert.equal(calls[i]!.reason, "timer");
      assert.equal(calls[i]!.dueAt, dues[i - 1]);
      assert.ok(late >= 0, `tick ${i} came ${-late} ms early`);
    }
  });

  /** A ticker with a 40 ms lead whose first tick announces a due time `dueInMs` away; when it woke again. */
  async function wakeWithLead(dueInMs: number): Promise<{ due: number; wakes: number[] }> {
    const wakes: number[] = [];
    let due = 0;
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      leadMs: 40,
      log,
      tick: async () => {
        wakes.push(Date.now());
        if (wakes.length > 1) return null;
        due = Date.now() + dueInMs;
        return new Date(due).toISOString();
      },
    });
    ticker.start();
    await sleep(dueInMs + 150);
    await ticker.stop();
    return { due, wakes: wakes.slice(1) };
  }

  test("with a lead, wakes that long before the due time (to fire and claim ahead)", async () => {
    const { due, wakes } = await wakeWithLead(150);
    assert.equal(wakes.length, 1);
    const early = due - wakes[0]!;
    assert.ok(early > 0, `woke ${-early} ms after the due time: the lead was not used`);
    assert.ok(early <= 40, `woke ${early} ms before the due time, more than the 40 ms lead`);
  });

  test("a due time already inside the lead window is woken for at the due time itself", async () => {
    // The tick ahead left it alone (its work is not claimable ahead).
    const { due, wakes } = await wakeWithLead(20);
    assert.equal(wakes.length, 1, "one wake-up for it, not a series of early re-ticks");
    assert.ok(wakes[0]! >= due, `woke ${due - wakes[0]!} ms before the due time`);
  });

  test("never runs two ticks at once and coalesces wake-ups during a tick", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let count = 0;
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      log,
      tick: async () => {
        count++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(50);
        inFlight--;
        return null;
      },
    });
    ticker.start();
    await sleep(10);
    for (let i = 0; i < 100; i++) ticker.wake("notify");
    await sleep(200);
    await ticker.stop();
    assert.equal(maxInFlight, 1);
    assert.equal(count, 2, "the start tick plus one coalesced tick for 100 wake-ups");
  });

  test("sleeps until the safety tick when nothing is scheduled", async () => {
    const reasons: TickReason[] = [];
    const ticker = new Ticker({ safetyTickMs: 150, log, tick: async (reason) => (reasons.push(reason), null) });
    ticker.start();
    await sleep(400);
    await ticker.stop();
    assert.deepEqual(reasons, ["start", "safety", "safety"]);
  });

  test("a failing tick is retried with growing back-off and the loop survives", async () => {
    const at: number[] = [];
    const errors: number[] = [];
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      log,
      tick: async () => {
        at.push(Date.now());
        if (at.length <= 4) throw new Error("database down");
        return null;
      },
      onError: (_e, failures) => errors.push(failures),
    });
    ticker.start();
    await sleep(2000);
    await ticker.stop();
    assert.deepEqual(errors, [1, 2, 3, 4]);
    assert.equal(at.length, 5, "recovered after the failures");
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]!, `back-off grows: ${gaps}`);
  });

  test("a due time that stays in the past does not become a busy loop", async () => {
    let count = 0;
    const past = new Date(Date.now() - 1000).toISOString();
    const ticker = new Ticker({ safetyTickMs: 60_000, log, tick: async () => (count++, past) });
    ticker.start();
    await sleep(1000);
    await ticker.stop();
    assert.ok(count >= 3, `re-ticks at all (${count})`);
    assert.ok(count < 20, `backs off (${count} ticks in 1 s)`);
  });

  test("stop() waits for the tick in flight and nothing runs afterwards", async () => {
    let count = 0;
    let finished = false;
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      log,
      tick: async () => {
        count++;
        await sleep(100);
        finished = true;
        return new Date(Date.now() + 10).toISOString();
      },
    });
    ticker.start();
    await sleep(20);
    await ticker.stop();
    assert.equal(finished, true);
    ticker.wake("notify");
    await sleep(100);
    assert.equal(count, 1);
  });
});
