// The core must bundle into one script that runs in a bare V8 context (PL/v8): no Node APIs,
// no Intl, no clock, no timers, within the size budget.
import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { build } from "esbuild";
import { SQLSTATE } from "../../extension/src/core/index.ts";

const BUDGET = 250 * 1024;

async function bundle(minify: boolean): Promise<string> {
  const r = await build({ entryPoints: ["extension/src/core/index.ts"], bundle: true, minify, format: "iife", globalName: "clockworkCore", write: false, logLevel: "silent", platform: "neutral" });
  return r.outputFiles[0]!.text;
}

test("the minified core bundle fits the 250 KB budget", async () => {
  const size = Buffer.byteLength(await bundle(true));
  assert.ok(size <= BUDGET, `${size} bytes`);
});

test("the bundle uses no Node APIs, Intl, clock, timers, console or async code", async () => {
  const text = await bundle(false);
  for (const banned of [/\brequire\(/, /from "node:/, /\bIntl\b/, /Date\.now\b/, /new Date\(\)/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bconsole\./, /\bprocess\./, /\basync\b/, /\bawait\b/, /\bPromise\b/]) {
    assert.doesNotMatch(text, banned);
  }
});

test("the bundle runs in a bare context without Intl or Date.now", async () => {
  const context = vm.createContext({});
  vm.runInContext("delete globalThis.Intl; Date.now = () => { throw new Error('the core read the clock'); };", context);
  vm.runInContext(`${await bundle(true)}; globalThis.core = clockworkCore;`, context);
  const result = vm.runInContext(`
    // A fixed rule: +01:00 before 2026-03-29T01:00Z, +02:00 after (Berlin's spring change).
    const rules = { utcOffsetSeconds: (zone, t) => (t < Date.UTC(2026, 2, 29, 1) ? 3600 : 7200) };
    const s = core.parseSchedule({ cron: "30 2 * * *", time_zone: "Test/Zone" });
    const fires = core.nextFireTimes(s.schedule, Date.UTC(2026, 2, 28, 12), 2, rules).map((t) => new Date(t).toISOString());
    const job = core.validateJobDefinition({ name: "j", steps: { a: { sql: "select :x" } }, parameters: { x: 1 } });
    const decision = core.decideRun(job.job, { runId: "r", startedAtMs: 0, nowMs: 0, steps: [] });
    JSON.stringify({ fires, start: decision.start.map((d) => d.id), describe: core.describeSchedule(s.schedule), code: core.ERROR_KINDS.invalid_schedule.code });
  `, context) as string;
  assert.deepEqual(JSON.parse(result), {
    fires: ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"],
    start: ["a"],
    describe: "at 02:30 in Test/Zone",
    code: SQLSTATE.invalid_schedule,
  });
});
