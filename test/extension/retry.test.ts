// clockwork.retry_run: a failed or cancelled run starts again as a new manual run with the
// same parameters, checked and refused like run_now, visible only to whoever may manage it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, sqlErrorOf, tick } from "./helpers.ts";

describe("retry_run", () => {
  let db: TestDatabase;
  const T0 = "2030-01-01T00:00:00Z";

  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db, "w1");
  });
  after(async () => {
    await db?.drop();
    await adminQuery("DROP ROLE IF EXISTS retry_mallory");
  });

  async function failedRun(job: string, params: object): Promise<string> {
    const { rows } = await db.query("select clockwork.run_now($1, $2::jsonb, $3) as id", [job, JSON.stringify(params), T0]);
    const runId = String(rows[0].id);
    const claimed = (await tick(db, "w1", T0)).claimed.filter((c) => c.run_id === runId);
    assert.equal(claimed.length, 1);
    await db.query("select clockwork.complete_step($1, 'w1', 2, '', 'boom', null, $2)", [claimed[0]!.step_run_id, T0]);
    assert.equal((await db.query("select state from clockwork.runs where id = $1", [runId])).rows[0].state, "failed");
    return runId;
  }

  test("a failed run starts again with the same parameters, linked to the run it retries", async () => {
    await defineJob(db, { name: "flaky", schedules: [], parameters: { day: "today" }, steps: [{ name: "s", sql: "SELECT :day::text" }] });
    const failed = await failedRun("flaky", { day: "2030-01-01" });
    const { rows } = await db.query("select clockwork.retry_run($1) as id", [failed]);
    const retry = String(rows[0].id);
    assert.notEqual(retry, failed);
    const run = (await db.query("select trigger, state, params, retry_of::text from clockwork.run_history where run_id = $1", [retry])).rows[0];
    assert.deepEqual(run, { trigger: "manual", state: "queued", params: { day: "2030-01-01" }, retry_of: failed });
  });

  test("a succeeded or active run is refused with invalid_state, and an unknown run with not_found", async () => {
    await defineJob(db, { name: "fine", schedules: [], steps: [{ name: "s", sql: "SELECT 1" }] });
    const active = String((await db.query("select clockwork.run_now('fine') as id")).rows[0].id);
    const refused = await sqlErrorOf(db, "select clockwork.retry_run($1)", [active]);
    assert.equal(refused.code, SQLSTATE.invalid_state);
    assert.match(refused.message, /run \d+ is queued: only a failed, timed-out or cancelled run can be retried/);
    assert.equal((await sqlErrorOf(db, "select clockwork.retry_run(987654321)")).code, SQLSTATE.not_found);
  });

  test("a cancelled run can be retried", async () => {
    const id = String((await db.query("select clockwork.run_now('fine') as id")).rows[0].id);
    await db.query("select clockwork.cancel_run($1)", [id]);
    const retry = (await db.query("select clockwork.retry_run($1) as id", [id])).rows[0].id;
    assert.ok(Number(retry) > Number(id));
  });

  test("parameters the current definition no longer declares are refused as run_now refuses them", async () => {
    const failed = await failedRun("flaky", { day: "2030-01-02" });
    await defineJob(db, { name: "flaky", schedules: [], steps: [{ name: "s", sql: "SELECT 1" }] });
    const refused = await sqlErrorOf(db, "select clockwork.retry_run($1)", [failed]);
    assert.equal(refused.code, SQLSTATE.invalid_parameter);
    assert.match(refused.message, /params\.day: job "flaky" has no parameter "day"/);
  });

  test("another role cannot retry someone else's run: it does not exist for them", async () => {
    const failed = (await db.query("select max(id)::text AS id from clockwork.runs where state = 'failed'")).rows[0].id;
    const runsBefore = (await db.query("select count(*)::int AS n from clockwork.runs")).rows[0].n;
    await adminQuery("DROP ROLE IF EXISTS retry_mallory");
    await adminQuery("CREATE ROLE retry_mallory LOGIN");
    const mallory = await db.connect({ user: "retry_mallory" });
    const refused = await sqlErrorOf(mallory, "select clockwork.retry_run($1)", [failed]);
    assert.equal(refused.code, SQLSTATE.not_found);
    assert.equal((await db.query("select count(*)::int AS n from clockwork.runs")).rows[0].n, runsBefore, "no run was started");
  });
});
