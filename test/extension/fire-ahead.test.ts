// Firing ahead: tick(…, lookahead_ms) fires slots and claims steps due within the lookahead,
// each claim carries its start_at, and an SQL step's transaction may not begin before it
// (its finish refuses), so a step never starts before its slot even though its run was
// created a little earlier.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { runScript } from "../../supervisor/src/steps/script-query.ts";
import { defineJob, registerWorker, runSqlClaim, runsOf, sqlErrorOf, type StepClaim, withClockworkDatabase } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { renderClaimedSqlStep } from "../../extension/src/core/sql-step.ts";

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
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

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

  test("lookahead_ms outside 0…1000 is refused with invalid_argument", async () => {
    for (const bad of [-1, 1001]) {
      const error = await sqlErrorOf(db.pool, "select clockwork.tick('w1', 1, now(), $1)", [bad]);
      assert.equal(error.code, SQLSTATE.invalid_argument);
      assert.match(error.message, /lookahead_ms must be between 0 and 1000/);
    }
  });

  test("an SQL step sent before its start is rolled back (too_early, early_ms) and runs in a later transaction", async () => {
    await db.query("create table started (at timestamptz not null default clock_timestamp(), tx timestamptz not null default now())");
    await defineJob(db, { name: "on-the-dot", steps: [{ name: "a", sql: "insert into started default values" }] });
    // A run whose step becomes ready 800 ms from now, claimed ahead and sent at once. (On a
    // machine so loaded that the claim takes longer than that, the step is no longer early:
    // it then just runs, and the next try looks again.)
    let claim: StepClaim | undefined;
    let early: Awaited<ReturnType<typeof runScript>> | undefined;
    let owner: Awaited<ReturnType<typeof db.connect>> | undefined;
    for (let tries = 0; tries < 5 && early?.error?.code !== SQLSTATE.too_early; tries++) {
      await db.query("select clockwork.run_now('on-the-dot', '{}', clock_timestamp() + interval '800 ms')");
      const claimed = (await db.query("select clockwork.tick('w1', 10, clock_timestamp(), 1000) as r")).rows[0].r as TickAhead;
      claim = claimed.claimed.find((c) => c.job === "on-the-dot")!;
      owner ??= await db.connect({ user: claim.sql!.login });
      await db.query("delete from started");
      early = await runScript(owner, renderClaimedSqlStep(claim).messages[0]!);
    }
    assert.equal(early?.error?.code, SQLSTATE.too_early);
    const startAt = new Date(claim!.start_at).getTime();
    const earlyMs = Number(/early_ms=(\d+)/.exec((early!.error as { detail?: string }).detail ?? "")?.[1]);
    assert.ok(earlyMs > 0 && earlyMs <= 800, `early_ms ${earlyMs}`);
    await runScript(owner!, "ROLLBACK");
    assert.equal((await db.query("select count(*)::int as n from started")).rows[0].n, 0, "nothing ran");
    // The supervisor's own code waits and sends it again.
    const answer = await runSqlClaim(db, claim!);
    assert.equal(answer.end, "succeeded");
    const row = (await db.query("select at, tx from started")).rows[0] as { at: Date; tx: Date };
    // The step's transaction, hence its now() and current_date, begins at or after its start.
    assert.ok(row.tx.getTime() >= startAt, `transaction began ${row.tx.toISOString()}, start ${claim!.start_at}`);
    assert.ok(row.at.getTime() < startAt + 1000, `started promptly: ${row.at.toISOString()}`);
    const step = await db.query("select started_at, finished_at from clockwork.step_runs where id = $1", [claim!.step_run_id]);
    assert.ok(step.rows[0].started_at.getTime() >= startAt, "recorded as started at or after its start");
    assert.ok(step.rows[0].finished_at >= step.rows[0].started_at, "a step claimed ahead does not end before it starts");
  });

  test("wait_until returns at the given instant by the database's clock, and refuses more than 1 s", async () => {
    const { rows } = await db.query(
      "select clock_timestamp() + interval '150 ms' as at");
    const at = rows[0].at as Date;
    const after = (await db.query("select clockwork.wait_until($1), clock_timestamp() as t", [at])).rows[0].t as Date;
    assert.ok(after.getTime() >= at.getTime(), `returned ${at.getTime() - after.getTime()} ms early`);
    assert.ok(after.getTime() < at.getTime() + 100, `returned ${after.getTime() - at.getTime()} ms late`);
    const error = await sqlErrorOf(db.pool, "select clockwork.wait_until(clock_timestamp() + interval '5 s')");
    assert.equal(error.code, SQLSTATE.invalid_argument);
  });

  test("a busy job whose overlap policy is not allow is not fired ahead: its overlap is decided at the slot", async () => {
    await defineJob(db, {
      name: "busy", schedules: ["* * * * *"], policies: { overlap: "skip" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2031-05-01T00:00:30Z");
    await tickAhead(db, "2031-05-01T00:01:00.000Z", 0); // the 00:01 run starts and keeps running
    const ahead = await tickAhead(db, "2031-05-01T00:01:59.960Z", 50);
    assert.deepEqual((await runsOf(db.pool, "busy")).map((r) => r.slot_at?.toISOString()), ["2031-05-01T00:01:00.000Z"]);
    assert.ok(Date.parse(ahead.next_due_at!) <= Date.parse("2031-05-01T00:02:00.000Z"), "the slot is still due");
    const next = await db.query("select next_fire_at from clockwork.job_status where job = 'busy'");
    assert.equal(next.rows[0].next_fire_at.toISOString(), "2031-05-01T00:02:00.000Z", "the slot is still due");
    const skippedAt = async () => (await db.query(
      `select k.slot_at, k.reason from clockwork.skipped_slots k join clockwork.schedules s on s.id = k.schedule_id
         join clockwork.jobs j on j.id = s.job_id where j.name = 'busy'`)).rows;
    assert.deepEqual(await skippedAt(), []);
    await tickAhead(db, "2031-05-01T00:02:00.001Z", 0);
    const skipped = await skippedAt();
    assert.deepEqual(skipped.map((r) => [r.slot_at.toISOString(), r.reason]), [["2031-05-01T00:02:00.000Z", "overlap_skipped"]]);
  });

  test("a step claimed ahead and handed back before its start is due at its start again, not earlier", async () => {
    await registerWorker(db.pool, "w9");
    await defineJob(db, { name: "handed-back", steps: [{ name: "a", shell: "true" }] });
    await db.query("select clockwork.run_now('handed-back', '{}', '2032-01-01T00:00:01Z')");
    const r = (await db.query("select clockwork.tick('w9', 10, '2032-01-01T00:00:00.700Z', 1000) as r")).rows[0].r as TickAhead;
    const claim = r.claimed.find((c) => c.job === "handed-back")!;
    await db.query("select clockwork.release_worker('w9', '2032-01-01T00:00:00.710Z')");
    await db.query("select clockwork.tick('w1', 0, '2032-01-01T00:00:00.720Z')");
    const rows = (await db.query(
      `select attempt, state, ready_at, started_at, finished_at from clockwork.step_runs
        where run_id = $1 order by attempt`, [claim.run_id])).rows;
    assert.deepEqual(rows.map((x) => [x.attempt, x.state]), [[1, "lost"], [2, "ready"]]);
    assert.equal(rows[0].finished_at.toISOString(), "2032-01-01T00:00:01.000Z", "lost no earlier than it started");
    assert.equal(rows[1].ready_at.toISOString(), "2032-01-01T00:00:01.000Z", "due at its start, as before");
  });
});
