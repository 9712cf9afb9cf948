import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { validateJobDefinition, decideRun, runInstances, type JobDefinition, type StepInstanceState, type RunDecision } from "../../extension/src/core/index.ts";

function job(def: Record<string, unknown>): JobDefinition {
  const r = validateJobDefinition({ name: "j", ...def }, { allowShellSteps: true });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}
const done = (id: string, status: StepInstanceState["status"] = "succeeded", extra: Partial<StepInstanceState> = {}): StepInstanceState => ({ id, status, attempt: 1, startedAtMs: 0, finishedAtMs: 1000, ...extra });
const running = (id: string, startedAtMs = 0): StepInstanceState => ({ id, status: "running", attempt: 1, startedAtMs });
const decide = (j: JobDefinition, steps: StepInstanceState[], nowMs = 1000, extra: { checks?: StepInstanceState[]; cancelRequested?: boolean } = {}): RunDecision =>
  decideRun(j, { runId: "run-1", startedAtMs: 0, nowMs, steps, ...extra });
const started = (d: RunDecision): string[] => d.start.map((s) => `${s.id}#${s.attempt}`);
const skipped = (d: RunDecision): string[] => d.skip.map((s) => `${s.id}:${s.reason}`);

const chain = job({ steps: { a: { sql: "x" }, b: { sql: "x", depends: "a" }, c: { sql: "x", depends: "b" } } });

describe("readiness", () => {
  test("starts only the steps without dependencies", () => assert.deepEqual(started(decide(chain, [])), ["a#1"]));
  test("starts a step once its dependency succeeded", () => assert.deepEqual(started(decide(chain, [done("a")])), ["b#1"]));
  test("waits while a dependency runs", () => {
    const d = decide(chain, [running("a")]);
    assert.deepEqual([started(d), d.finished, d.status], [[], false, "running"]);
  });
  test("finishes succeeded when every step succeeded", () => {
    const d = decide(chain, [done("a"), done("b"), done("c")]);
    assert.deepEqual([d.finished, d.status, d.reason], [true, "succeeded", null]);
  });
  test("starts independent steps together", () => {
    const j = job({ steps: { a: { sql: "x" }, b: { sql: "x" }, c: { sql: "x", depends: ["a", "b"] } } });
    assert.deepEqual(started(decide(j, [])), ["a#1", "b#1"]);
    assert.deepEqual(started(decide(j, [done("a"), running("b")])), []);
    assert.deepEqual(started(decide(j, [done("a"), done("b")])), ["c#1"]);
  });
  test("transaction run runs one step at a time in dependency order", () => {
    // The graph's half of transaction: run: its steps share one transaction, one at a time.
    const j: JobDefinition = { ...job({ steps: { a: { sql: "x" }, b: { sql: "x" }, c: { sql: "x", depends: "a" } } }), transaction: "run" };
    assert.deepEqual(started(decide(j, [])), ["a#1"]);
    assert.deepEqual(started(decide(j, [done("a")])), ["b#1"]);
    assert.deepEqual(started(decide(j, [done("a"), done("b")])), ["c#1"]);
  });
  test("runInstances lists every instance a run will have", () => {
    const j = job({ steps: { a: { sql: "x", matrix: { n: [1, 2] } } }, checks: [{ name: "k", sql: "y" }] });
    assert.deepEqual(runInstances(j).map((i) => `${i.phase}:${i.id}`), ["step:a[n=1]", "step:a[n=2]", "check:k"]);
  });
});

describe("failures and on_error", () => {
  test("a failed step fails the run and skips what has not started", () => {
    const d = decide(chain, [done("a", "failed", { exitCode: 2 })]);
    assert.deepEqual([skipped(d), d.finished, d.status, d.reason], [["b:run_failed", "c:run_failed"], true, "failed", 'step "a" failed with exit code 2']);
  });
  test("a failing run waits for running siblings before it is finished", () => {
    const j = job({ steps: { a: { sql: "x" }, b: { sql: "x" }, c: { sql: "x", depends: ["a", "b"] } } });
    const d = decide(j, [done("a", "failed", { error: "boom" }), running("b")]);
    assert.deepEqual([started(d), skipped(d), d.finished, d.status], [[], ["c:run_failed"], false, "running"]);
    const e = decide(j, [done("a", "failed", { error: "boom" }), done("b"), { id: "c", status: "skipped", attempt: 0 }]);
    assert.deepEqual([e.finished, e.status, e.reason], [true, "failed", 'step "a" failed: boom']);
  });
  test("on_error continue ignores the failure and runs dependents", () => {
    const j = job({ steps: { a: { sql: "x", on_error: "continue" }, b: { sql: "x", depends: "a", when: 'a.status == "failed"' } } });
    assert.deepEqual(started(decide(j, [done("a", "failed")])), ["b#1"]);
    const d = decide(j, [done("a", "failed"), done("b")]);
    assert.deepEqual([d.finished, d.status], [true, "succeeded"]);
  });
  test("on_error succeed marks the step succeeded for conditions", () => {
    const j = job({ steps: { a: { sql: "x", on_error: "succeed" }, b: { sql: "x", depends: "a", when: 'a.status == "succeeded"' } } });
    assert.deepEqual(started(decide(j, [done("a", "failed")])), ["b#1"]);
  });
  test("one failed matrix instance fails the step", () => {
    const j = job({ steps: { a: { sql: "select :n", matrix: { n: [1, 2] } }, b: { sql: "x", depends: "a" } } });
    const d = decide(j, [done("a[n=1]"), done("a[n=2]", "failed")]);
    assert.deepEqual([skipped(d), d.status, d.reason], [["b:run_failed"], "failed", 'step "a[n=2]" failed']);
  });
});

describe("server roles (on_role_mismatch: skip_run)", () => {
  const gated = job({
    steps: { gate: { sql: "x", connection: "db2", server_role: "primary", on_role_mismatch: "skip_run" }, a: { sql: "x", depends: "gate" }, b: { shell: "y" } },
    checks: [{ name: "k", shell: "z" }],
  });
  test("a step its supervisor skipped for the server's role ends the run: the rest is skipped, the run succeeds with the reason", () => {
    const d = decide(gated, [done("gate", "skipped", { error: 'skipped: role "u" on db2:5432/app (connection "db2") is a standby (in recovery), and the step expects a primary' }), running("b")]);
    assert.deepEqual([started(d), skipped(d), d.status], [[], ["a:run_skipped", "k:run_skipped"], "running"], "running work finishes first");
    const e = decide(gated, [done("gate", "skipped", { error: "skipped: is a standby" }), done("b"), { id: "a", status: "skipped", attempt: 0 }], 1000, { checks: [{ id: "k", status: "skipped", attempt: 0 }] });
    assert.deepEqual([e.finished, e.status, e.reason], [true, "succeeded", 'step "gate" skipped the run (on_role_mismatch: skip_run): is a standby']);
  });
  test("a skip_run step that the graph skipped itself (never started) does not end the run", () => {
    const j = job({ steps: { a: { sql: "x", when: "false" }, gate: { sql: "x", depends: "a", when: "true", on_role_mismatch: "skip_run" }, c: { sql: "x", depends: "a", when: "true" } } });
    const d = decide(j, [done("a", "skipped", { startedAtMs: null }), done("gate", "skipped", { startedAtMs: null })]);
    assert.deepEqual([started(d), d.status], [["c#1"], "running"]);
  });
  test("a gate that passes lets the run go on", () => {
    assert.deepEqual(started(decide(gated, [done("gate"), running("b")])), ["a#1"]);
  });
});

describe("conditions", () => {
  test("skips a step whose condition is false, and its dependents without conditions", () => {
    const j = job({ steps: { a: { sql: "x" }, b: { sql: "x", depends: "a", when: 'a.output contains "ready"' }, c: { sql: "x", depends: "b" } } });
    const d = decide(j, [done("a", "succeeded", { output: "not yet" })]);
    assert.deepEqual([started(d), skipped(d), d.finished, d.status], [[], ["b:condition_false", "c:dependency_skipped"], true, "succeeded"]);
  });
  test("a condition can run a step after a skipped dependency", () => {
    const j = job({ steps: { a: { sql: "x" }, b: { sql: "x", depends: "a", when: "false" }, c: { sql: "x", depends: "b", when: 'b.status == "skipped"' } } });
    const d = decide(j, [done("a")]);
    assert.deepEqual([started(d), skipped(d)], [["c#1"], ["b:condition_false"]]);
  });
  test("conditions read exit codes, output and SQL rows of earlier steps", () => {
    const j = job({ steps: { extract: { sql: "x" }, load: { sql: "x", depends: "extract", when: 'extract.status == "succeeded" and extract.exit_code == 0 and extract.output contains "OK" and extract.row.n > 5' } } });
    assert.deepEqual(started(decide(j, [done("extract", "succeeded", { exitCode: 0, output: "all OK", rows: [{ n: 7 }] })])), ["load#1"]);
    assert.deepEqual(skipped(decide(j, [done("extract", "succeeded", { exitCode: 0, output: "all OK", rows: [{ n: 3 }] })])), ["load:condition_false"]);
  });
  test("conditions can read matrix values per instance", () => {
    const j = job({ steps: { a: { sql: "x" }, b: { sql: "select :r", depends: "a", matrix: { r: ["eu", "us"] }, when: 'params.r == "eu"' } } });
    const d = decide(j, [done("a")]);
    assert.deepEqual([started(d), skipped(d)], [["b[r=eu]#1"], ["b[r=us]:condition_false"]]);
    assert.deepEqual(d.start[0]!.params, { r: "eu" });
  });
});

describe("retries and time-outs", () => {
  const j = job({ policies: { retry: { backoff: "fixed", delay: "5s" } }, steps: { a: { sql: "x", retries: 2 }, b: { sql: "x", depends: "a" } } });
  test("retries a failed step after the back-off", () => {
    const d = decide(j, [done("a", "failed", { finishedAtMs: 1000 })], 2000);
    assert.deepEqual([d.retry, d.nextWakeMs, d.finished], [[{ phase: "step", id: "a", name: "a", attempt: 2, atMs: 6000 }], 6000, false]);
    assert.deepEqual(started(decide(j, [done("a", "failed", { finishedAtMs: 1000 })], 6000)), ["a#2"]);
  });
  test("fails the run when retries are exhausted", () => {
    const d = decide(j, [done("a", "failed", { attempt: 3 })], 99_000);
    assert.deepEqual([d.status, d.retry, skipped(d)], ["failed", [], ["b:run_failed"]]);
  });
  test("a retried step that then succeeds lets the run continue", () => {
    assert.deepEqual(started(decide(j, [done("a", "succeeded", { attempt: 2 })])), ["b#1"]);
  });
  test("cancels a step past its own time-out", () => {
    const t = job({ steps: { a: { sql: "x", timeout: "10s" } } });
    assert.deepEqual(decide(t, [running("a", 0)], 5000).nextWakeMs, 10_000);
    assert.deepEqual(decide(t, [running("a", 0)], 10_000).cancel, [{ phase: "step", id: "a", name: "a", reason: "step_timeout" }]);
  });
  test("a timed-out step can be retried", () => {
    const t = job({ steps: { a: { sql: "x", timeout: "10s", retries: 1 } }, policies: { retry: { backoff: "fixed", delay: "1s" } } });
    assert.deepEqual(started(decide(t, [done("a", "timed_out", { finishedAtMs: 10_000 })], 11_000)), ["a#2"]);
  });
  test("the job time-out cancels running work, skips the rest, and ends timed out", () => {
    const t = job({ policies: { timeout: "1m" }, steps: { a: { sql: "x" }, b: { sql: "x", depends: "a" } } });
    const d = decide(t, [running("a", 0)], 60_000);
    assert.deepEqual([d.cancel.map((c) => c.reason), skipped(d), d.finished], [["job_timeout"], ["b:run_timed_out"], false]);
    const e = decide(t, [done("a", "cancelled"), { id: "b", status: "skipped", attempt: 0 }], 61_000);
    assert.deepEqual([e.finished, e.status], [true, "timed_out"]);
  });
  test("an unfinished run of a job with a time-out says its deadline, so the database can wake it", () => {
    const t = job({ policies: { timeout: "1m" }, steps: { a: { sql: "x" } } });
    assert.equal(decide(t, [running("a", 0)], 30_000).runDeadlineMs, 60_000);
    assert.equal(decide(t, [done("a")], 30_000).runDeadlineMs, null, "finished: no deadline");
    assert.equal(decide(job({ steps: { a: { sql: "x" } } }), [running("a", 0)], 30_000).runDeadlineMs, null, "no time-out");
  });
  test("a run whose work all finished keeps its status after the deadline", () => {
    const t = job({ policies: { timeout: "1m" }, steps: { a: { sql: "x" } } });
    const d = decide(t, [done("a")], 120_000);
    assert.deepEqual([d.finished, d.status], [true, "succeeded"]);
  });
  test("step deadlines respect the job deadline", () => {
    const t = job({ policies: { timeout: "1m" }, steps: { a: { sql: "x", timeout: "10m" } } });
    assert.equal(decide(t, [], 30_000).start[0]!.deadlineMs, 60_000);
  });
  test("a cancelled run cancels running work and skips the rest", () => {
    const d = decide(chain, [done("a"), running("b")], 1000, { cancelRequested: true });
    assert.deepEqual([d.cancel.map((c) => c.id), skipped(d), d.finished], [["b"], ["c:run_cancelled"], false]);
  });
});

describe("checks", () => {
  const j = job({
    steps: { a: { sql: "x" } },
    checks: [{ name: "rows", sql: "select 1", expected: ["OK"], unexpected: "ERROR" }, { name: "disk", shell: "df", expected_exit_code: 1, matrix: { m: ["/", "/var"] } }],
  });
  test("run after the steps, one at a time, in order", () => {
    assert.deepEqual(started(decide(j, [])), ["a#1"]);
    assert.deepEqual(decide(j, [done("a")]).start.map((s) => `${s.phase}:${s.id}`), ["check:rows"]);
    assert.deepEqual(decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "OK" })] }).start.map((s) => s.id), ["disk[m=/]"]);
    assert.deepEqual(decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "OK" }), done("disk[m=/]", "failed", { exitCode: 1 })] }).start.map((s) => s.id), ["disk[m=/var]"]);
  });
  test("all checks passing make the run succeed", () => {
    const d = decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "OK" }), done("disk[m=/]", "failed", { exitCode: 1 }), done("disk[m=/var]", "failed", { exitCode: 1 })] });
    assert.deepEqual([d.finished, d.status], [true, "succeeded"]);
  });
  test("missing expected output fails the run", () => {
    const d = decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "nope" })] });
    assert.deepEqual([d.finished, d.status, d.reason, skipped(d)], [true, "failed", 'check "rows" output lacks expected "OK"', ["disk[m=/]:run_failed", "disk[m=/var]:run_failed"]]);
  });
  test("unexpected output fails the run", () => {
    const d = decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "OK but ERROR" })] });
    assert.equal(d.reason, 'check "rows" output contains unexpected "ERROR"');
  });
  test("a wrong exit code fails the run", () => {
    const d = decide(j, [done("a")], 1000, { checks: [done("rows", "succeeded", { output: "OK" }), done("disk[m=/]", "succeeded", { exitCode: 0 })] });
    assert.equal(d.reason, 'check "disk[m=/]" exited with 0, expected 1');
  });
  test("checks do not run after a failed step", () => {
    const d = decide(j, [done("a", "failed")]);
    assert.deepEqual([d.status, skipped(d)], ["failed", ["rows:run_failed", "disk[m=/]:run_failed", "disk[m=/var]:run_failed"]]);
  });
});

describe("what a start carries", () => {
  test("SQL steps get their statement bound with job, step and matrix parameters", () => {
    const j = job({ parameters: { days: 1, region: "xx" }, steps: { a: { sql: "select :region, :days, :region", matrix: { region: ["eu"] } } } });
    assert.deepEqual(decide(j, []).start[0]!.sql, { text: "select $1, $2, $1", values: ["eu", 1], names: ["region", "days"] });
  });
  test("shell steps get parameters and matrix values as environment variables, with the attempt", () => {
    const j = job({ parameters: { days: 1 }, steps: { a: { shell: "echo $region", matrix: { region: ["eu"] }, env: { MODE: "full" }, retries: 1 } } });
    assert.deepEqual(decide(j, []).start[0]!.env, { days: "1", region: "eu", MODE: "full", CLOCKWORK_RUN_ID: "run-1", CLOCKWORK_STEP: "a", CLOCKWORK_INSTANCE: "a[region=eu]", CLOCKWORK_ATTEMPT: "1" });
  });
});
