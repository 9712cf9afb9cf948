// Firing ahead: tick(…, lookahead_ms) fires slots and claims steps due within the lookahead,
// each claim carries its start_at, and run_sql_step waits for it, so a step never starts
// before its slot even though its run was created a little earlier.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, runsOf, sqlErrorOf, type StepClaim } from "./helpers.ts";

interface TickAhead {
  claimed: StepClaim[];
  next_due_at: string | null;
}

async function tickAhead(db: TestDatabase, now: string, lookaheadMs: number): Promise<TickAhead> {
  const { rows } = await db.query("select clockwork.tick('w1', 100, $1, $2) as r", [now, lookaheadMs]);
  return rows[0].r as TickAhead;
}

describe("firing ahead", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
  });
  after(async () => {
    await db.drop();
  });

  test("a slot within the lookahead is fired and claimed with its start time; one beyond it is not", async () => {
    await defineJob(db, { name: "minutely", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] }, "2030-01-01T00:00:30Z");
    // 40 ms before the slot, looking 30 ms ahead: too early.
    let r = await tickAhead(db, "2030-01-01T00:00:59.960Z", 30);
    assert.deepEqual(r.claimed, []);
    assert.deepEqual(await runsOf(db.pool, "minutely"), []);
    assert.equal(new Date(r.next_due_at!).toISOString(), "2030-01-01T00:01:00.000Z");
    // 40 ms before the slot, looking 50 ms ahead: fired, and the claim says when to start.
    r = await tickAhead(db, "2030-01-01T00:00:59.960Z", 50);
    assert.equal(r.claimed.length, 1);
    const claim = r.claimed[0]!;
    assert.equal(new Date(claim.start_at).toISOString(), "2030-01-01T00:01:00.000Z");
    assert.equal(new Date(claim.due_at).toISOString(), "2030-01-01T00:01:00.000Z");
    const runs = await runsOf(db.pool, "minutely");
    assert.deepEqual(runs.map((x) => x.slot_at?.toISOString()), ["2030-01-01T00:01:00.000Z"]);
    const { rows } = await db.query(
      `select r.queued_at, r.started_at, s.started_at as step_started_at, s.lease_expires_at
         from clockwork.runs r join clockwork.step_runs s on s.run_id = r.id where r.id = $1`, [runs[0]!.run_id]);
    // The run was queued when it was fired; it and its step start at the slot, and the
    // lease counts from there.
    assert.equal(rows[0].queued_at.toISOString(), "2030-01-01T00:00:59.960Z");
    assert.equal(rows[0].started_at.toISOString(), "2030-01-01T00:01:00.000Z");
    assert.equal(rows[0].step_started_at.toISOString(), "2030-01-01T00:01:00.000Z");
    assert.equal(rows[0].lease_expires_at.toISOString(), "2030-01-01T00:01:30.000Z");
    // The next slot is a minute on: nothing more is due within the horizon.
    assert.equal(new Date(r.next_due_at!).toISOString(), "2030-01-01T00:01:30.000Z"); // the lease end comes first
  });

  test("a slot fired ahead is on time for the misfire policy, and ticking at the slot does not fire it again", async () => {
    await defineJob(db, {
      name: "strict", schedules: ["*/5 * * * *"], policies: { misfire: { policy: "skip", grace: 0 } },
      steps: [{ name: "a", sql: "select 1" }],
    }, "2030-03-01T00:00:00Z");
    await tickAhead(db, "2030-03-01T00:04:59.990Z", 20);
    await tickAhead(db, "2030-03-01T00:05:00.000Z", 0);
    await tickAhead(db, "2030-03-01T00:05:00.010Z", 0);
    const runs = await runsOf(db.pool, "strict");
    assert.deepEqual(runs.map((x) => x.slot_at?.toISOString()), ["2030-03-01T00:05:00.000Z"]);
    const skipped = await db.query(
      "select count(*)::int as n from clockwork.skipped_slots k join clockwork.schedules s on s.id = k.schedule_id join clockwork.jobs j on j.id = s.job_id where j.name = 'strict'");
    assert.equal(skipped.rows[0].n, 0);
  });

  test("lookahead_ms outside 0…1000 is refused with CW020", async () => {
    for (const bad of [-1, 1001]) {
      const error = await sqlErrorOf(db.pool, "select clockwork.tick('w1', 1, now(), $1)", [bad]);
      assert.equal(error.code, "CW020");
      assert.match(error.message, /lookahead_ms must be between 0 and 1000/);
    }
  });

  test("run_sql_step called before a step's start time waits for it: the step never starts early", async () => {
    await db.query("create table started (at timestamptz not null default clock_timestamp())");
    await defineJob(db, { name: "on-the-dot", steps: [{ name: "a", sql: "insert into started default values" }] });
    // A run whose step becomes ready 300 ms from now, claimed ahead.
    const { rows } = await db.query("select clockwork.run_now('on-the-dot', '{}', clock_timestamp() + interval '300 ms') as id");
    const claimed = (await db.query("select clockwork.tick('w1', 10, clock_timestamp(), 1000) as r")).rows[0].r as TickAhead;
    const claim = claimed.claimed.find((c) => c.job === "on-the-dot")!;
    assert.ok(claim, `claimed ahead: ${JSON.stringify(claimed)} for run ${rows[0].id}`);
    const startAt = new Date(claim.start_at).getTime();
    assert.ok(startAt > Date.now() + 100, "the start time is still ahead");
    const answer = (await db.query("select clockwork.run_sql_step($1, 'w1') as r", [claim.step_run_id])).rows[0].r;
    assert.equal(answer.state, "succeeded");
    const at = (await db.query("select at from started")).rows[0].at as Date;
    // timestamptz has microseconds; the wait is by the server's clock in whole milliseconds.
    assert.ok(at.getTime() >= startAt, `started at ${at.toISOString()}, due ${claim.start_at}`);
    assert.ok(at.getTime() < startAt + 200, `started promptly: ${at.toISOString()}, due ${claim.start_at}`);
    const step = await db.query("select started_at, finished_at from clockwork.step_runs where id = $1", [claim.step_run_id]);
    assert.ok(step.rows[0].finished_at >= step.rows[0].started_at, "a step claimed ahead does not end before it starts");
  });
});
