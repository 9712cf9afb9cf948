// A clean shutdown hands its steps back (release_worker): that is no lost lease. The
// attempt is recorded with its own kind (handed_back_at_shutdown), is taken over at once
// as attempt + 1, and counts neither towards the lost-lease limit (MAX_LOST_LEASES) nor
// against the step's retries; a worker that died is still recorded as a lost lease.
// docs/faults.md, docs/state-machine.md. test/e2e/shutdown.test.ts does it with real supervisors.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { MAX_LOST_LEASES } from "../../extension/src/db/lifecycle.ts";
import { QUERIES } from "../../supervisor/src/console/queries.ts";
import { defineJob, registerWorker, tick, withClockworkDatabase, type StepClaim } from "./helpers.ts";

describe("a step handed back at a clean shutdown", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));
  // A run a failed test leaves going would be taken over by the next test's ticks.
  afterEach(async () => {
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where finished_at is null");
  });

  const t0 = Date.parse("2040-03-01T00:00:00Z");
  const iso = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();
  const runNow = async (job: string, offsetMs: number) =>
    String((await db.query("select clockwork.run_now($1, '{}', $2) as id", [job, iso(offsetMs)])).rows[0].id);
  const claimOf = async (job: string, worker: string, offsetMs: number): Promise<StepClaim> => {
    const claim = (await tick(db.pool, worker, iso(offsetMs))).claimed.find((c) => c.job === job);
    assert.ok(claim, `a step of ${job} is claimed by ${worker}`);
    return claim;
  };
  const complete = (claim: StepClaim, worker: string, offsetMs: number, exitCode: number) =>
    db.query("select clockwork.complete_step($1, $2, $3, '', '', null, $4)", [claim.step_run_id, worker, exitCode, iso(offsetMs)]);
  /** A supervisor starts, claims the run's step and shuts down cleanly at `offsetMs` + 0.5 s. */
  const handBack = async (job: string, worker: string, offsetMs: number): Promise<StepClaim> => {
    await registerWorker(db.pool, worker);
    const claim = await claimOf(job, worker, offsetMs);
    const released = (await db.query("select clockwork.release_worker($1, $2) as n", [worker, iso(offsetMs + 500)])).rows[0].n;
    assert.equal(released, 1, "release_worker handed the step back");
    return claim;
  };
  const attempts = async (runId: string) => (await db.query(
    `select attempt, state, sql_state, error, worker_name from clockwork.step_runs where run_id = $1 order by attempt`, [runId])).rows;
  const runState = async (runId: string) => (await db.query("select state, reason from clockwork.runs where id = $1", [runId])).rows[0];
  const alertsOf = async (job: string) => (await db.query(
    "select a.condition from clockwork.alerts a join clockwork.jobs j on j.id = a.job_id where j.name = $1", [job])).rows.map((r) => r.condition);

  test("is recorded as handed_back_at_shutdown, not as a lease that expired, and another supervisor takes it at once", async () => {
    await defineJob(db, { name: "deploy", steps: [{ name: "a", shell: "sleep 60" }] });
    const runId = await runNow("deploy", 0);
    await handBack("deploy", "hb-a", 0);
    await registerWorker(db.pool, "hb-b");
    const second = await claimOf("deploy", "hb-b", 1000);
    assert.equal(second.attempt, 2);
    const [first] = await attempts(runId);
    assert.equal(first.state, "lost");
    assert.equal(first.sql_state, SQLSTATE.handed_back_at_shutdown);
    assert.match(first.error, /handed back at a clean shutdown of supervisor hb-a/);
    assert.doesNotMatch(first.error, /lease expired|stopped heartbeating/);
    await complete(second, "hb-b", 2000, 0);
    assert.equal((await runState(runId)).state, "succeeded");
  });

  test(`hand-backs do not count towards the lost-lease limit (${MAX_LOST_LEASES}): a long step survives that many rolling restarts`, async () => {
    await defineJob(db, { name: "long", alerts: { failures: 1 }, steps: [{ name: "a", shell: "sleep 3600" }] });
    const runId = await runNow("long", 100_000);
    for (let i = 0; i < MAX_LOST_LEASES + 1; i++) await handBack("long", `roll-${i}`, 100_000 + i * 10_000);
    await registerWorker(db.pool, "roll-last");
    const last = await claimOf("long", "roll-last", 200_000);
    assert.equal(last.attempt, MAX_LOST_LEASES + 2, "still taken over after every hand-back");
    assert.equal((await runState(runId)).state, "running");
    await complete(last, "roll-last", 201_000, 0);
    assert.equal((await runState(runId)).state, "succeeded");
    const rows = await attempts(runId);
    assert.deepEqual(rows.map((r) => [r.state, r.sql_state]), [
      ...Array.from({ length: MAX_LOST_LEASES + 1 }, () => ["lost", SQLSTATE.handed_back_at_shutdown]),
      ["succeeded", null],
    ]);
    assert.deepEqual(await alertsOf("long"), [], "no failure alert");
  });

  test("a hand-back does not use up a retry", async () => {
    // retry attempts: 2 — one failure may be retried once, however many hand-backs came first.
    await defineJob(db, { name: "retried", policies: { retry: { attempts: 2, delay: "1s" } }, steps: [{ name: "a", shell: "false" }] });
    const runId = await runNow("retried", 300_000);
    await handBack("retried", "rt-a", 300_000);
    await registerWorker(db.pool, "rt-b");
    const failing = await claimOf("retried", "rt-b", 301_000);
    assert.equal(failing.attempt, 2);
    await complete(failing, "rt-b", 302_000, 1);
    const retry = await claimOf("retried", "rt-b", 310_000);
    assert.equal(retry.attempt, 3, "the failure is retried: the hand-back was not one of the two attempts");
    await complete(retry, "rt-b", 311_000, 1);
    assert.equal((await runState(runId)).state, "failed", "two attempts that ran to their end failed: attempts exhausted");
    assert.deepEqual((await attempts(runId)).map((r) => r.state), ["lost", "failed", "failed"]);
    // The console counts two failed steps, and names the first that failed, not the hand-back.
    const jobId = (await db.query("select id from clockwork.jobs where name = 'retried'")).rows[0].id;
    const [listed] = (await db.query(QUERIES.runsOfJob, [jobId, null, 10])).rows;
    assert.equal(listed.steps_failed, 2);
    const failures = (await db.query(QUERIES.failures, [iso(0), 50, 0])).rows.find((r) => r.job === "retried");
    assert.deepEqual([failures.attempt, failures.sql_state], [2, null]);
  });

  test("the console does not count a hand-back as a failed step", async () => {
    await defineJob(db, { name: "console", steps: [{ name: "a", shell: "true" }] });
    const runId = await runNow("console", 350_000);
    await handBack("console", "co-a", 350_000);
    await registerWorker(db.pool, "co-b");
    await complete(await claimOf("console", "co-b", 351_000), "co-b", 352_000, 0);
    assert.equal((await runState(runId)).state, "succeeded");
    const jobId = (await db.query("select id from clockwork.jobs where name = 'console'")).rows[0].id;
    const [listed] = (await db.query(QUERIES.runsOfJob, [jobId, null, 10])).rows;
    assert.deepEqual([listed.steps_total, listed.steps_succeeded, listed.steps_failed], [2, 1, 0]);
  });

  test("a worker that stopped heartbeating still loses its lease: lost, without the kind, and counted", async () => {
    await defineJob(db, { name: "crash", steps: [{ name: "a", shell: "sleep 60" }] });
    const runId = await runNow("crash", 400_000);
    await registerWorker(db.pool, "cr-a");
    await claimOf("crash", "cr-a", 400_000);
    await registerWorker(db.pool, "cr-b");
    // cr-a never heartbeats again: its lease (30 s) expires and cr-b takes the step back.
    const second = await claimOf("crash", "cr-b", 440_000);
    assert.equal(second.attempt, 2);
    const [first] = await attempts(runId);
    assert.equal(first.state, "lost");
    assert.equal(first.sql_state, null);
    assert.match(first.error, /lease expired/);
    await complete(second, "cr-b", 441_000, 0);
  });
});
