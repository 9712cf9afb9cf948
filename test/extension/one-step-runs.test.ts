// A run of one step whose SQL step succeeded ends without its step runs being read again
// (decideRuns' common case in db/lifecycle.ts). These are its boundaries: a run that is not
// such a run (more steps, a matrix, a check, a cancel asked for) goes the general way and
// ends as before; one that is ends exactly as the core decides, with what a run's end sets
// off (its deadline cleared, its job's last run). transaction: run: run-transactions.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import type { OwnerConnections } from "../../supervisor/src/steps/owner-connections.ts";
import { clockworkDatabase, defineJob, ownerConnections, registerWorker, runSqlClaim, tick, type StepClaim } from "./helpers.ts";

describe("runs of one SQL step, ended by their report", () => {
  let db: TestDatabase;
  let connections: OwnerConnections;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    connections = ownerConnections(db.name);
  });
  after(async () => {
    await connections.end();
    await db.drop();
  });

  /** Starts a run of `job` and runs and reports the SQL claims tick hands out for it, once. */
  async function runOnce(job: string): Promise<{ runId: string; claimed: StepClaim[] }> {
    const runId = String((await db.query("select clockwork.run_now($1) as id", [job])).rows[0].id);
    const claimed = (await tick(db.pool, "w1", new Date(Date.now() + 1000))).claimed.filter((c) => c.run_id === runId);
    for (const claim of claimed) assert.equal((await runSqlClaim(db, claim, { connections })).accepted, true, claim.step);
    return { runId, claimed };
  }
  const runRow = async (runId: string) =>
    (await db.query("select state, reason, finished_at is not null as finished, wake_at from clockwork.runs where id = $1", [runId])).rows[0];
  const stepStates = async (runId: string) =>
    (await db.query("select phase || ':' || instance || '=' || state as s from clockwork.step_runs where run_id = $1 order by id", [runId])).rows.map((r) => r.s as string);

  test("one step: the run succeeds, its deadline is cleared, and its job's last run is it", async () => {
    await defineJob(db, { name: "one", policies: { timeout: "1h" }, steps: [{ name: "a", sql: "select 1" }] });
    const runId = String((await db.query("select clockwork.run_now('one') as id")).rows[0].id);
    const claim = (await tick(db.pool, "w1", new Date(Date.now() + 1000))).claimed.find((c) => c.run_id === runId)!;
    assert.notEqual((await runRow(runId)).wake_at, null, "the job's time-out is the run's deadline while it runs");
    assert.equal((await runSqlClaim(db, claim, { connections })).accepted, true);
    assert.deepEqual(await runRow(runId), { state: "succeeded", reason: null, finished: true, wake_at: null });
    assert.deepEqual(await stepStates(runId), ["step:a=succeeded"]);
    const job = (await db.query("select last_run_id::text as id, last_run_state as state from clockwork.jobs where name = 'one'")).rows[0];
    assert.deepEqual(job, { id: runId, state: "succeeded" });
  });

  test("two steps: the first one's success starts the second; the run goes on", async () => {
    await defineJob(db, { name: "two", steps: [{ name: "a", sql: "select 1" }, { name: "b", sql: "select 2", depends: "a" }] });
    const { runId, claimed } = await runOnce("two");
    assert.deepEqual(claimed.map((c) => c.step), ["a"]);
    assert.equal((await runRow(runId)).state, "running");
    assert.deepEqual(await stepStates(runId), ["step:a=succeeded", "step:b=ready"]);
  });

  test("a matrix of two instances: one instance's success does not end the run", async () => {
    await defineJob(db, { name: "matrix", steps: [{ name: "m", sql: "select :n::int", matrix: { n: [1, 2] } }] });
    const runId = String((await db.query("select clockwork.run_now('matrix') as id")).rows[0].id);
    const claimed = (await tick(db.pool, "w1", new Date(Date.now() + 1000))).claimed.filter((c) => c.run_id === runId);
    assert.equal(claimed.length, 2);
    assert.equal((await runSqlClaim(db, claimed[0]!, { connections })).accepted, true);
    assert.equal((await runRow(runId)).state, "running");
    assert.equal((await runSqlClaim(db, claimed[1]!, { connections })).accepted, true);
    assert.equal((await runRow(runId)).state, "succeeded");
  });

  test("a check: the step's success starts the check, which decides the run", async () => {
    await defineJob(db, { name: "checked", steps: [{ name: "a", sql: "select 1" }], checks: [{ name: "verify", sql: "select 1" }] });
    const { runId } = await runOnce("checked");
    assert.equal((await runRow(runId)).state, "running");
    assert.deepEqual(await stepStates(runId), ["step:a=succeeded", "check:verify=ready"]);
  });

  test("a run asked to stop while its one step ran: the step's success ends it as the core decides (succeeded)", async () => {
    await defineJob(db, { name: "stopping", steps: [{ name: "a", sql: "select 1" }] });
    const runId = String((await db.query("select clockwork.run_now('stopping') as id")).rows[0].id);
    const claim = (await tick(db.pool, "w1", new Date(Date.now() + 1000))).claimed.find((c) => c.run_id === runId)!;
    // As a graceful cancel (overlap: cancel_other) leaves it: asked to stop, its step still
    // running. The step finished anyway, so all the run's work was done.
    await db.query("update clockwork.runs set cancel_requested_at = now(), cancel_mode = 'cancel', reason = 'asked to stop' where id = $1", [runId]);
    assert.equal((await runSqlClaim(db, claim, { connections })).accepted, true);
    const row = await runRow(runId);
    assert.equal(row.state, "succeeded");
    assert.equal(row.finished, true);
  });
});
