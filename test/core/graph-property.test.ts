// Property test of the step-graph engine: random DAGs and random step outcomes, driven to the
// end by a simulated executor that does exactly what decideRun says.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { validateJobDefinition, decideRun, type StepInstanceState } from "../../extension/src/core/index.ts";
import { mulberry32 } from "./cron-gen.ts";

const RUNS = Number(process.env.CORE_PROPERTY_RUNS ?? 300);

interface Plan {
  def: Record<string, unknown>;
  depends: Map<string, string[]>;
  retries: Map<string, number>;
  onError: Map<string, string>;
}

function randomJob(seed: number): Plan {
  const rand = mulberry32(seed);
  const n = 1 + Math.floor(rand() * 7);
  const steps: Record<string, Record<string, unknown>> = {};
  const depends = new Map<string, string[]>();
  const retries = new Map<string, number>();
  const onError = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const name = `s${i}`;
    const deps = Array.from({ length: i }, (_, j) => `s${j}`).filter(() => rand() < 0.4);
    const step: Record<string, unknown> = { sql: "select 1", depends: deps };
    const oe = ["fail", "continue", "succeed"][Math.floor(rand() * 3)]!;
    step.on_error = oe;
    const r = Math.floor(rand() * 3);
    step.retries = r;
    if (rand() < 0.3) step.matrix = { k: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, j) => j) };
    if (deps.length > 0 && rand() < 0.3) step.when = `${deps[0]}.status == "succeeded"`;
    steps[name] = step;
    depends.set(name, deps);
    retries.set(name, r);
    onError.set(name, oe);
  }
  const checks = rand() < 0.3 ? [{ name: "c", sql: "select 1", expected: ["OK"] }] : [];
  return { def: { name: "j", policies: { retry: { backoff: "fixed", delay: "1s" } }, steps, checks }, depends, retries, onError };
}

test(`the step graph always finishes, respects dependencies and attempts, and reports the right status (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (jobSeed, outcomeSeed) => {
      const plan = randomJob(jobSeed);
      const v = validateJobDefinition(plan.def);
      if (!v.ok) throw new Error(JSON.stringify(v.errors));
      const job = v.job;
      const outcome = mulberry32(outcomeSeed);
      const steps = new Map<string, StepInstanceState>();
      const checks = new Map<string, StepInstanceState>();
      const stepOf = (id: string): string => id.replace(/\[.*$/, "");
      let now = 0;
      let final: ReturnType<typeof decideRun> | null = null;
      for (let round = 0; round < 500 && final === null; round++) {
        const d = decideRun(job, { runId: "r", startedAtMs: 0, nowMs: now, steps: [...steps.values()], checks: [...checks.values()] });
        for (const s of d.skip) (s.phase === "step" ? steps : checks).set(s.id, { id: s.id, status: "skipped", attempt: 0 });
        if (d.finished) {
          assert.deepEqual(d.start, []);
          final = d;
          break;
        }
        // Check every start against the state the decision was made on, then execute them.
        for (const s of d.start) {
          if (s.phase === "step") {
            for (const dep of plan.depends.get(s.name)!) {
              for (const st of steps.values()) {
                if (stepOf(st.id) === dep) assert.ok(st.status !== "running" && st.status !== "pending", `${s.id} started while ${st.id} is ${st.status}`);
              }
              assert.ok([...steps.values()].some((st) => stepOf(st.id) === dep), `${s.id} started before ${dep} ran or was skipped`);
            }
            assert.ok(s.attempt <= plan.retries.get(s.name)! + 1, `${s.id} attempt ${s.attempt}`);
          }
        }
        for (const s of d.start) {
          const ok = outcome() < 0.7;
          const rec: StepInstanceState = { id: s.id, status: ok ? "succeeded" : "failed", attempt: s.attempt, startedAtMs: now, finishedAtMs: now, output: ok ? "OK" : "no", exitCode: ok ? 0 : 1 };
          (s.phase === "step" ? steps : checks).set(s.id, rec);
        }
        if (d.start.length === 0 && d.skip.length === 0) {
          assert.ok(d.retry.length > 0 && d.nextWakeMs !== null, `stuck: ${JSON.stringify(d)}`);
          now = d.nextWakeMs!;
        }
      }
      assert.ok(final !== null, "finished");
      const failedForGood = [...steps.values()].filter((s) => s.status === "failed" && s.attempt >= plan.retries.get(stepOf(s.id))! + 1 && plan.onError.get(stepOf(s.id)) === "fail");
      const checkFailed = [...checks.values()].some((c) => c.status === "failed");
      if (failedForGood.length > 0 || checkFailed) assert.equal(final.status, "failed");
      else assert.equal(final.status, "succeeded");
      // Every instance ended somewhere.
      for (const s of job.steps) assert.ok([...steps.keys()].some((id) => stepOf(id) === s.name), `${s.name} never settled`);
    }),
    { includeErrorInReport: true, numRuns: RUNS, seed: Number(process.env.CORE_PROPERTY_SEED ?? 424242) },
  );
});
