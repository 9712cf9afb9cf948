// The ticker with a fake tick function: precise wake-ups, no overlapping ticks,
// coalesced wake-ups, back-off on errors, no busy loop when the database disagrees.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { Ticker, type TickReason } from "../../supervisor/src/ticker.ts";

const log = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves after `ms` without keeping the process alive (for races: the file ends when its tests do). */
const deadline = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** Polls until `done()` holds, for at most 10 s (then the assertions that follow say what is missing). */
async function waitUntil(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !done() && Date.now() < deadline; ) await sleep(10);
}

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
    const timedOut = await Promise.race([sixCalls.then(() => false), deadline(10_000).then(() => true)]);
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

  /**
   * A ticker with a 40 ms lead whose first tick announces a due time `dueInMs` away: when it
   * planned to wake for it (its armed timer) and when it woke. The plan is what the ticker
   * decides; the wake-up is asserted only never to come before it (how late a timer fires
   * on a loaded machine is not the ticker's doing: a 40 ms bound on it failed under load).
   */
  async function wakeWithLead(dueInMs: number) {
    const wakes: number[] = [];
    let due = 0;
    let planned: number | null = null;
    let woke: () => void = () => {};
    const wokeOnce = new Promise<void>((resolve) => (woke = resolve));
    const ticker = new Ticker({
      safetyTickMs: 60_000,
      leadMs: 40,
      log,
      tick: async () => {
        wakes.push(Date.now());
        if (wakes.length > 1) {
          woke();
          return null;
        }
        due = Date.now() + dueInMs;
        return new Date(due).toISOString();
      },
    });
    ticker.start();
    // The first tick's answer is planned a few microtasks later: read the plan then, before
    // any timer can fire (awaiting only microtasks never lets a timer run in between).
    for (let i = 0; i < 1000 && planned === null; i++) {
      await Promise.resolve();
      planned = ticker.nextWakeAt;
    }
    const timedOut = await Promise.race([wokeOnce.then(() => false), deadline(10_000).then(() => true)]);
    await ticker.stop();
    assert.equal(timedOut, false, "no wake-up for the announced due time within 10 s");
    return { due, planned, wakes: wakes.slice(1) };
  }

  test("with a lead, wakes that long before the due time (to fire and claim ahead)", async () => {
    // A second away: the plan is made well inside it even when the machine stalls this process.
    const { due, planned, wakes } = await wakeWithLead(1000);
    assert.equal(wakes.length, 1);
    assert.equal(planned, due - 40, `planned to wake ${planned === null ? "never" : `${due - planned} ms`} before the due time, not 40 ms`);
    assert.ok(wakes[0]! >= planned!, `woke ${planned! - wakes[0]!} ms before it planned to`);
  });

  test("a due time already inside the lead window is woken for at the due time itself", async () => {
    // The tick ahead left it alone (its work is not claimable ahead).
    const { due, planned, wakes } = await wakeWithLead(20);
    assert.equal(wakes.length, 1, "one wake-up for it, not a series of early re-ticks");
    // For the due time itself, or for the moment of planning if that came after it.
    assert.ok(planned !== null && planned >= due, `planned ${planned === null ? "no wake-up" : `${due - planned} ms before the due time`}`);
    assert.ok(wakes[0]! >= due, `woke ${due - wakes[0]!} ms before the due time`);
  });

  /**
   * A ticker with a 25 ms lead on a fake clock whose ticks that woke for a due time take
   * `durations[i]` ms each (the fake clock moves by that much during the tick): the lead it
   * planned to wake with after each of them (due time minus planned wake-up), and the
   * lead it reported for the tick's lookahead. Each due time is announced a little more
   * than the expected lead away, so that the real timers behind the fake clock are short.
   */
  async function leadsAfter(durations: number[], leadMs = 25) {
    let t = 1_000_000;
    const planned: Array<{ lead: number; reported: number }> = [];
    const seen: number[] = [];
    let i = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    const ticker: Ticker = new Ticker({
      safetyTickMs: 60_000,
      leadMs,
      log,
      now: () => t,
      tick: async (_reason, dueAt) => {
        if (dueAt !== null) {
          t += durations[i]!;
          seen.push(durations[i]!);
          i++;
        }
        if (i === durations.length && dueAt !== null) {
          done();
          return null;
        }
        // Far enough that any lead fits: the ticker plans `due - lead`.
        return new Date(t + 600).toISOString();
      },
    });
    ticker.start();
    // The start tick and every due tick but the last announce a due time (the last answers null).
    for (let cycle = 0; cycle < durations.length; cycle++) {
      let at: number | null = null;
      for (let k = 0; k < 1000 && at === null; k++) {
        await Promise.resolve();
        at = ticker.nextWakeAt;
      }
      if (at === null) break;
      planned.push({ lead: t + 600 - at, reported: ticker.leadMs });
      t = at; // the fake clock reaches the planned wake-up: the (real, short) timer fires the tick
      await waitUntil(() => seen.length > cycle);
    }
    await Promise.race([finished, deadline(10_000)]);
    await ticker.stop();
    return planned;
  }

  test("wakes earlier when its ticks for a due time take longer than the lead: twice the longest of the last 8, at most 500 ms", async () => {
    // 80 ms ticks (a cold or loaded machine, the real PL/v8) against a 25 ms lead: the
    // claim would come back 55 ms after the slot; twice that tick is 160 ms of lead.
    const leads = await leadsAfter([80, 1, 1, 1, 1, 1, 1, 1, 1, 400]);
    assert.deepEqual(leads.map((l) => l.lead), [
      25, // the start tick woke for nothing due: no measure yet
      160, 160, 160, 160, 160, 160, 160, 160, // the 80 ms tick is among the last 8
      25, // eight quick ticks since: the configured lead again
    ], JSON.stringify(leads));
    // The tick's lookahead follows the lead (twice it, main.ts), so what is fired ahead is claimed.
    assert.deepEqual(leads.map((l) => l.reported), leads.map((l) => l.lead));
    const capped = await leadsAfter([400]);
    assert.deepEqual(capped.map((l) => l.lead), [25]);
    const [, after] = await leadsAfter([400, 1]);
    assert.equal(after?.lead, 500, "twice 400 ms is capped at 500 ms (--fire-ahead's limit; the database looks ahead at most 1 s)");
  });

  test("with no lead (--fire-ahead 0) nothing is fired ahead, however long its ticks take", async () => {
    const leads = await leadsAfter([80, 1], 0);
    assert.deepEqual(leads.map((l) => l.lead), [0, 0]);
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
    // Waits for the third tick rather than a fixed 400 ms, which a loaded machine overran.
    const ticks: Array<{ reason: TickReason; at: number }> = [];
    let third: () => void = () => {};
    const threeTicks = new Promise<void>((resolve) => (third = resolve));
    const ticker = new Ticker({
      safetyTickMs: 150,
      log,
      tick: async (reason) => {
        ticks.push({ reason, at: Date.now() });
        if (ticks.length === 3) third();
        return null;
      },
    });
    ticker.start();
    await Promise.race([threeTicks, deadline(10_000)]);
    await ticker.stop();
    assert.deepEqual(ticks.map((t) => t.reason), ["start", "safety", "safety"]);
    for (let i = 1; i < ticks.length; i++) {
      assert.ok(ticks[i]!.at - ticks[i - 1]!.at >= 150, `tick ${i} came ${ticks[i]!.at - ticks[i - 1]!.at} ms after the one before, sooner than the safety tick`);
    }
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
    // Waits for the fifth call rather than a fixed 2 s, which a loaded machine could overrun.
    await waitUntil(() => at.length >= 5);
    await ticker.stop();
    assert.deepEqual(errors, [1, 2, 3, 4]);
    assert.equal(at.length, 5, "recovered after the failures");
    // Each retry waits its back-off (100, 200, 400, 800 ms) at least; a timer late by load can
    // stretch one gap, so the gaps are held to their own back-off, not to each other.
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.forEach((gap, i) => assert.ok(gap >= 100 * 2 ** i, `back-off grows: retry ${i + 1} came after ${gap} ms (gaps ${gaps})`));
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
