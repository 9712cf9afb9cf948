// Bounded history (issue 16): retention per job and by default, by count and by age, an
// errors-only mode that keeps failures and counts successes, pruning by the scheduler in
// small batches that never wait; drop_job keeping history unless asked; run once
// (self_destruct). Pinned time, real cluster.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { JOBS_PER_PASS } from "../../extension/src/db/history.ts";
import { defineJob, sqlErrorOf, tick, withClockworkDatabase } from "./helpers.ts";

type Prune = { pruned: boolean; runs: number; skipped_slots: number; jobs: number };

async function prune(db: TestDatabase, now: string): Promise<Prune> {
  return (await db.query("select clockwork.prune_history($1::timestamptz) as p", [now])).rows[0].p as Prune;
}

/** Runs of a job by id (not name: a dropped job's name may be taken again). */
async function runsOfJob(db: TestDatabase, jobId: string): Promise<{ id: string; state: string; created_at: Date }[]> {
  const { rows } = await db.query("select id::text, state, created_at from clockwork.runs where job_id = $1::bigint order by id", [jobId]);
  return rows;
}

async function counts(db: TestDatabase, job: string): Promise<Record<string, [number, number]>> {
  const { rows } = await db.query("select state, kept::int, pruned::int from clockwork.run_counts where job = $1 and not dropped", [job]);
  return Object.fromEntries(rows.map((r) => [r.state, [r.kept, r.pruned]]));
}

/** A manual run at `at` whose one builtin step ends it at once (succeeded). */
async function succeed(db: TestDatabase, job: string, at: string): Promise<string> {
  return String((await db.query("select clockwork.run_now($1, '{}', $2::timestamptz) as id", [job, at])).rows[0].id);
}

/** A manual run of a shell job, claimed and reported with this exit code. */
async function runShell(db: TestDatabase, job: string, at: string, exitCode: number): Promise<string> {
  const id = String((await db.query("select clockwork.run_now($1, '{}', $2::timestamptz) as id", [job, at])).rows[0].id);
  const claim = (await tick(db.pool, "w1", at)).claimed.find((c) => c.run_id === id)!;
  await db.query("select clockwork.complete_step($1, 'w1', $2, '', '', null, $3::timestamptz)", [claim.step_run_id, exitCode, at]);
  return id;
}

describe("bounded history", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("by count: a job keeps its newest max_runs runs; the pruned ones are counted", async () => {
    const id = await defineJob(db, { name: "count", policies: { retention: { max_runs: 3 } }, steps: [{ name: "a", builtin: "noop" }] });
    for (let i = 0; i < 6; i++) await succeed(db, "count", `2040-01-01T00:0${i}:00Z`);
    const before = await runsOfJob(db, id);
    assert.equal(before.length, 6);
    assert.deepEqual(before.map((r) => r.state), Array(6).fill("succeeded"));
    const pass = await prune(db, "2040-01-01T00:10:00Z");
    assert.equal(pass.pruned, true);
    assert.ok(pass.runs >= 3);
    assert.deepEqual((await runsOfJob(db, id)).map((r) => r.id), before.slice(3).map((r) => r.id), "the 3 newest stay");
    assert.deepEqual(await counts(db, "count"), { succeeded: [3, 3] });
    const steps = await db.query("select count(*)::int as n from clockwork.step_runs where run_id = any($1::bigint[])", [before.slice(0, 3).map((r) => r.id)]);
    assert.equal(steps.rows[0].n, 0, "step runs go with their run");
  });

  test("by age: finished runs created longer ago than max_age go; active runs never do", async () => {
    const id = await defineJob(db, { name: "age", policies: { retention: { max_age: "1h" } }, steps: [{ name: "a", shell: "true" }] });
    const old = await runShell(db, "age", "2040-02-01T00:00:00Z", 0);
    // An old run still going is not pruned, however old.
    const going = String((await db.query("select clockwork.run_now('age', '{}', '2040-02-01T00:10:00Z') as id")).rows[0].id);
    const recent = await runShell(db, "age", "2040-02-01T01:45:00Z", 1);
    await prune(db, "2040-02-01T02:00:00Z");
    const left = await runsOfJob(db, id);
    assert.deepEqual(left.map((r) => r.id), [going, recent]);
    assert.ok(["queued", "running"].includes(left[0]!.state), left[0]!.state);
    assert.equal(left[1]!.state, "failed");
    assert.ok(!left.some((r) => r.id === old));
    assert.deepEqual(await counts(db, "age"), { succeeded: [0, 1], failed: [1, 0] });
  });

  test("errors-only (keep: failures): failures are kept in full, successes counted; the latest run stays", async () => {
    const id = await defineJob(db, { name: "errors-only", policies: { retention: { keep: "failures" } }, steps: [{ name: "a", shell: "true" }] });
    const runs: string[] = [];
    for (const [i, code] of [0, 1, 0, 0, 2, 0].entries()) runs.push(await runShell(db, "errors-only", `2040-03-01T00:0${i}:00Z`, code));
    await prune(db, "2040-03-01T00:10:00Z");
    const left = await runsOfJob(db, id);
    assert.deepEqual(left.map((r) => r.id), [runs[1], runs[4], runs[5]], "the two failures and the latest run (a success)");
    const failed = await db.query("select count(*)::int as n from clockwork.step_history where run_id = any($1::bigint[]) and exit_code in (1, 2)", [[runs[1], runs[4]]]);
    assert.equal(failed.rows[0].n, 2, "failures keep their step runs");
    assert.deepEqual(await counts(db, "errors-only"), { succeeded: [1, 3], failed: [2, 0] });
  });

  test("the default (clockwork.history_retention) applies to jobs without their own; retention: forever keeps all", async () => {
    const plain = await defineJob(db, { name: "plain", steps: [{ name: "a", builtin: "noop" }] });
    const forever = await defineJob(db, { name: "forever", policies: { retention: "forever" }, steps: [{ name: "a", builtin: "noop" }] });
    for (let i = 0; i < 4; i++) {
      await succeed(db, "plain", `2040-04-01T00:0${i}:00Z`);
      await succeed(db, "forever", `2040-04-01T00:0${i}:00Z`);
    }
    const defaults = await db.query("select max_age, max_runs, keep from clockwork.history_retention");
    assert.deepEqual(defaults.rows, [{ max_age: null, max_runs: 10000, keep: "all" }], "out of the box: 10 000 runs per job");
    await db.query("update clockwork.history_retention set max_runs = 2");
    try {
      await prune(db, "2040-04-01T00:10:00Z");
      assert.equal((await runsOfJob(db, plain)).length, 2);
      assert.equal((await runsOfJob(db, forever)).length, 4);
    } finally {
      await db.query("update clockwork.history_retention set max_runs = 10000");
    }
  });

  test("tick prunes by itself, a pass every 10 s, in batches of 500; a pass never waits for another", async () => {
    const id = await defineJob(db, { name: "bulk", policies: { retention: { max_runs: 1 } }, steps: [{ name: "a", builtin: "noop" }] });
    await db.query("select clockwork.run_now('bulk', '{}', '2040-05-01T00:00:00Z') from generate_series(1, 1101)");
    assert.equal((await runsOfJob(db, id)).length, 1101);
    // Another session holds the pass (the settings row): prune_history answers at once.
    const holder = await db.pool.connect();
    try {
      await holder.query("begin");
      await holder.query("select 1 from clockwork.history_retention for update");
      const busy = await prune(db, "2040-05-01T00:01:00Z");
      assert.deepEqual(busy, { pruned: false, runs: 0, skipped_slots: 0, jobs: 0 });
      await holder.query("rollback");
    } finally {
      holder.release();
    }
    // The batch is full: the next tick goes on at once, then passes are 10 s apart.
    await tick(db.pool, "w1", "2040-05-01T00:02:00Z", 0);
    const afterFirst = (await runsOfJob(db, id)).length;
    assert.ok(afterFirst <= 601 && afterFirst >= 101, `one batch of at most 500 per pass: ${afterFirst} left`);
    for (let i = 1; i <= 3; i++) await tick(db.pool, "w1", `2040-05-01T00:02:0${i}Z`, 0);
    assert.equal((await runsOfJob(db, id)).length, 1, "full batches continue at the next tick");
    const quiet = await db.query("select pruned_at from clockwork.history_retention");
    assert.notEqual(quiet.rows[0].pruned_at, null);
    assert.deepEqual(await counts(db, "bulk"), { succeeded: [1, 1100] });
  });

  test("a tick that claims a step ahead of its time leaves the pass to the next tick, for up to 60 s", async () => {
    const id = await defineJob(db, { name: "ahead", policies: { retention: { max_runs: 1 } }, steps: [{ name: "a", builtin: "noop" }] });
    await db.query("select clockwork.run_now('ahead', '{}', '2040-05-02T00:00:00Z') from generate_series(1, 3)");
    assert.equal((await prune(db, "2040-05-02T00:00:01Z")).pruned, true);
    assert.equal((await runsOfJob(db, id)).length, 1);
    // A tick with a lookahead of 100 ms, and the claims it made to start after its `now`.
    const tickAhead = async (now: string) => {
      const t = (await db.query("select clockwork.tick('w1', 10, $1::timestamptz, 100) as t", [now])).rows[0].t as
        { claimed: { job: string; step_run_id: string; start_at: string }[] };
      const ahead = t.claimed.filter((c) => Date.parse(c.start_at) > Date.parse(now));
      // Ended at once, so that nothing of this test is left running.
      for (const c of t.claimed) {
        await db.query("select clockwork.complete_step($1, 'w1', 0, '', '', null, $2::timestamptz)", [c.step_run_id, c.start_at]);
      }
      return ahead.map((c) => c.job);
    };
    await db.query("select clockwork.run_now('ahead', '{}', '2040-05-02T00:00:02Z') from generate_series(1, 2)");
    assert.equal((await runsOfJob(db, id)).length, 3);
    await defineJob(db, { name: "ahead-slot", schedules: ["26 0 0 2 5 *"], steps: [{ name: "a", shell: "true" }] }, "2040-05-02T00:00:25.900Z");
    // 25 s after the last pass, one is due: a tick that claims the slot at :26 ahead of it prunes nothing.
    assert.deepEqual(await tickAhead("2040-05-02T00:00:25.950Z"), ["ahead-slot"]);
    assert.equal((await runsOfJob(db, id)).length, 3, "the tick working ahead left the pass");
    // The next tick, with nothing to start ahead, prunes.
    assert.deepEqual(await tickAhead("2040-05-02T00:00:26.100Z"), []);
    assert.equal((await runsOfJob(db, id)).length, 1, "the next tick pruned");
    // Passes overdue (over 60 s since the last): even a tick working ahead prunes.
    await db.query("select clockwork.run_now('ahead', '{}', '2040-05-02T00:01:00Z') from generate_series(1, 2)");
    await defineJob(db, { name: "ahead-slot", schedules: ["27 1 0 2 5 *"], steps: [{ name: "a", shell: "true" }] }, "2040-05-02T00:01:26.900Z");
    assert.deepEqual(await tickAhead("2040-05-02T00:01:26.950Z"), ["ahead-slot"]);
    assert.equal((await runsOfJob(db, id)).length, 1, "an overdue pass ran in the tick working ahead");
    await db.query("select clockwork.drop_job('ahead-slot')");
  });

  test("skipped-slot rows are bounded too", async () => {
    await defineJob(db, {
      name: "skips", schedules: ["* * * * *"], policies: { retention: { max_runs: 2 } }, steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-06-01T00:00:30Z");
    await tick(db.pool, "w1", "2040-06-01T00:01:00Z");
    for (let m = 2; m <= 6; m++) await tick(db.pool, "w1", `2040-06-01T00:0${m}:00Z`, 0);
    // Five slots were skipped (overlap_skipped, one row per minute); the ticks pruned as they went.
    const skipped = await db.query("select slot_at, reason from clockwork.skip_history where job = 'skips' order by slot_at");
    assert.deepEqual(skipped.rows.map((r) => [(r.slot_at as Date).toISOString(), r.reason]), [
      ["2040-06-01T00:05:00.000Z", "overlap_skipped"], ["2040-06-01T00:06:00.000Z", "overlap_skipped"],
    ]);
  });

  test("explain says when a slot's record was pruned", async () => {
    await defineJob(db, { name: "pruned-slots", schedules: ["* * * * *"], policies: { retention: { max_runs: 1 } }, steps: [{ name: "a", builtin: "noop" }] }, "2040-06-02T00:00:30Z");
    for (let m = 1; m <= 3; m++) await tick(db.pool, "w1", `2040-06-02T00:0${m}:00Z`, 0);
    await prune(db, "2040-06-02T00:03:30Z");
    const explain = async (at: string) => (await db.query("select clockwork.explain('pruned-slots', $1::timestamptz, '2040-06-02T00:03:30Z') as e", [at])).rows[0].e;
    const old = await explain("2040-06-02T00:01:00Z");
    assert.equal(old.outcome, "not_recorded");
    assert.match(old.text, /history up to 2040-06-02T00:02:00.000Z has been pruned by its retention policy/);
    assert.equal((await explain("2040-06-02T00:03:00Z")).outcome, "ran");
  });

  test("the job's row keeps its last ended run, set by the lifecycle and kept through pruning", async () => {
    const id = await defineJob(db, { name: "last-run", policies: { retention: { max_runs: 1 } }, steps: [{ name: "a", shell: "true" }] });
    const lastRun = async () => (await db.query("select last_run_id::text, last_run_state, last_run_finished_at from clockwork.jobs where id = $1", [id])).rows[0];
    assert.deepEqual(await lastRun(), { last_run_id: null, last_run_state: null, last_run_finished_at: null });
    const failed = await runShell(db, "last-run", "2040-06-03T00:00:00Z", 1);
    assert.deepEqual(await lastRun(), { last_run_id: failed, last_run_state: "failed", last_run_finished_at: new Date("2040-06-03T00:00:00Z") });
    // A newer run still going does not change it; its end does.
    const going = String((await db.query("select clockwork.run_now('last-run', '{}', '2040-06-03T00:01:00Z') as id")).rows[0].id);
    assert.equal((await lastRun()).last_run_state, "failed");
    await db.query("select clockwork.cancel_run($1::bigint, '2040-06-03T00:02:00Z')", [going]);
    assert.deepEqual(await lastRun(), { last_run_id: going, last_run_state: "cancelled", last_run_finished_at: new Date("2040-06-03T00:02:00Z") });
    const ok = await runShell(db, "last-run", "2040-06-03T00:03:00Z", 0);
    await prune(db, "2040-06-03T00:04:00Z");
    assert.deepEqual((await runsOfJob(db, id)).map((r) => r.id), [ok]);
    assert.equal((await lastRun()).last_run_state, "succeeded");
  });

  test("bad retention is refused at definition time, naming the field", async () => {
    for (const [retention, field, kind] of [
      [{ max_runs: 0 }, "policies.retention.max_runs", "invalid_policy"],
      [{ max_age: "10s" }, "policies.retention.max_age", "invalid_policy"],
      [{ keep: "errors" }, "policies.retention.keep", "invalid_policy"],
      [{ maxruns: 3 }, "policies.retention.maxruns", "invalid_definition"],
      ["always", "policies.retention", "invalid_policy"],
    ] as const) {
      const error = await sqlErrorOf(db, "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "bad", policies: { retention }, steps: [{ name: "a", builtin: "noop" }] })]);
      assert.equal(error.code, SQLSTATE[kind], JSON.stringify(retention));
      assert.ok(error.message.includes(field), `${error.message} names ${field}`);
    }
  });
});

describe("drop_job keeps history unless asked", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("a dropped job's runs stay in run_history, its name is free, and it fires nothing", async () => {
    const old = await defineJob(db, { name: "nightly", schedules: ["0 3 * * *"], steps: [{ name: "a", builtin: "noop" }] }, "2040-07-01T00:00:00Z");
    await tick(db.pool, "w1", "2040-07-01T03:00:00Z", 0);
    const ran = await runsOfJob(db, old);
    assert.deepEqual(ran.map((r) => r.state), ["succeeded"]);
    await db.query("select clockwork.drop_job('nightly')");
    const history = await db.query("select run_id::text, state from clockwork.run_history where job = 'nightly'");
    assert.deepEqual(history.rows, [{ run_id: ran[0]!.id, state: "succeeded" }]);
    assert.equal((await db.query("select count(*)::int as n from clockwork.job_status where job = 'nightly'")).rows[0].n, 0);
    const error = await sqlErrorOf(db, "select clockwork.run_now('nightly')");
    assert.equal(error.code, SQLSTATE.not_found);
    await tick(db.pool, "w1", "2040-07-02T03:00:00Z", 0);
    assert.equal((await runsOfJob(db, old)).length, 1, "a dropped job fires nothing");
    // The name is free: a new job, with its own id and history.
    const fresh = await defineJob(db, { name: "nightly", steps: [{ name: "a", builtin: "noop" }] });
    assert.notEqual(fresh, old);
    await db.query("select clockwork.run_now('nightly')");
    assert.equal((await db.query("select count(*)::int as n from clockwork.run_history where job = 'nightly'")).rows[0].n, 2);
  });

  test("a dropped job kept for its history holds no calendar back", async () => {
    await db.query("select clockwork.define_calendar('holidays', array['2040-12-25']::date[])");
    await defineJob(db, { name: "festive", schedules: [{ cron: "0 9 * * *", exclude: { calendars: ["holidays"] } }], steps: [{ name: "a", builtin: "noop" }] });
    const refused = await sqlErrorOf(db, "select clockwork.drop_calendar('holidays')");
    assert.match(refused.message, /festive/);
    await db.query("select clockwork.drop_job('festive')");
    await db.query("select clockwork.drop_calendar('holidays')");
  });

  test("drop_job(job, keep_history => false) deletes the history with the job", async () => {
    const id = await defineJob(db, { name: "gone", steps: [{ name: "a", builtin: "noop" }] });
    await db.query("select clockwork.run_now('gone')");
    await db.query("select clockwork.drop_job('gone', keep_history => false)");
    assert.equal((await runsOfJob(db, id)).length, 0);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where id = $1", [id])).rows[0].n, 0);
  });

  test("a dropped job's row goes once its last run has been pruned", async () => {
    const id = await defineJob(db, { name: "short", policies: { retention: { max_age: "1h" } }, steps: [{ name: "a", builtin: "noop" }] });
    await succeed(db, "short", "2040-08-01T00:00:00Z");
    await db.query("select clockwork.drop_job('short')");
    await prune(db, "2040-08-01T00:30:00Z");
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where id = $1", [id])).rows[0].n, 1, "its run is kept for an hour");
    const pass = await prune(db, "2040-08-01T02:00:00Z");
    assert.equal(pass.jobs, 1);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where id = $1", [id])).rows[0].n, 0);
  });
});

describe("run once (self_destruct)", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  async function dropped(jobId: string): Promise<Date | null> {
    return (await db.query("select dropped_at from clockwork.jobs where id = $1", [jobId])).rows[0].dropped_at;
  }

  test("self_destruct: true drops the job after its first successful run, not after a failure (pg_timetable)", async () => {
    const id = await defineJob(db, { name: "once", schedules: ["*/5 * * * *"], policies: { self_destruct: true }, steps: [{ name: "a", shell: "make-it" }] }, "2040-09-01T00:00:00Z");
    const first = (await tick(db.pool, "w1", "2040-09-01T00:05:00Z")).claimed.find((c) => c.job === "once")!;
    await db.query("select clockwork.complete_step($1, 'w1', 1, '', 'no', null, '2040-09-01T00:05:01Z')", [first.step_run_id]);
    assert.equal(await dropped(id), null, "a failed run does not end it");
    const second = (await tick(db.pool, "w1", "2040-09-01T00:10:00Z")).claimed.find((c) => c.job === "once")!;
    await db.query("select clockwork.complete_step($1, 'w1', 0, '', '', null, '2040-09-01T00:10:01Z')", [second.step_run_id]);
    assert.deepEqual(await dropped(id), new Date("2040-09-01T00:10:01Z"));
    await tick(db.pool, "w1", "2040-09-01T00:15:00Z");
    const runs = await runsOfJob(db, id);
    assert.deepEqual(runs.map((r) => r.state), ["failed", "succeeded"], "history kept, nothing fired after");
    assert.equal((await db.query("select count(*)::int as n from clockwork.job_status where job = 'once'")).rows[0].n, 0);
  });

  test("a one-shot at job with self_destruct: done tidies up once its run ends, whatever the outcome", async () => {
    const id = await defineJob(db, {
      name: "one-shot", schedules: [{ at: "2040-10-01T12:00:00Z" }], policies: { self_destruct: "done" }, steps: [{ name: "a", shell: "exit 3" }],
    }, "2040-10-01T00:00:00Z");
    const claim = (await tick(db.pool, "w1", "2040-10-01T12:00:00Z")).claimed.find((c) => c.job === "one-shot")!;
    assert.equal(await dropped(id), null);
    await db.query("select clockwork.complete_step($1, 'w1', 3, '', '', null, '2040-10-01T12:00:02Z')", [claim.step_run_id]);
    assert.deepEqual(await dropped(id), new Date("2040-10-01T12:00:02Z"));
    const history = await db.query("select state, reason from clockwork.run_history where job = 'one-shot'");
    assert.equal(history.rows[0].state, "failed");
  });

  test("self_destruct: done waits while a slot is left", async () => {
    const id = await defineJob(db, { name: "twice", schedules: [{ at: "2040-11-01T12:00:00Z" }, { at: "2040-11-02T12:00:00Z" }], policies: { self_destruct: "done" }, steps: [{ name: "a", builtin: "noop" }] }, "2040-11-01T00:00:00Z");
    await tick(db.pool, "w1", "2040-11-01T12:00:00Z", 0);
    assert.equal(await dropped(id), null, "the second slot is still to come");
    await tick(db.pool, "w1", "2040-11-02T12:00:00Z", 0);
    assert.notEqual(await dropped(id), null);
    assert.deepEqual((await runsOfJob(db, id)).map((r) => r.state), ["succeeded", "succeeded"]);
  });

  test("a bad self_destruct is refused, naming the field", async () => {
    const error = await sqlErrorOf(db, "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "bad", policies: { self_destruct: "yes" }, steps: [{ name: "a", builtin: "noop" }] })]);
    assert.equal(error.code, SQLSTATE.invalid_policy);
    assert.match(error.message, /policies\.self_destruct/);
  });
});

describe("bounded history: passes round the jobs", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test("passes of JOBS_PER_PASS jobs reach every job, whatever the number of digits of their ids", async () => {
    // Job ids 951 to 1100: as text, 1000-1099 came first and the cursor went to 1099, so
    // the passes went round 1000-1100 and never reached 951-999.
    await db.query("select setval(pg_get_serial_sequence('clockwork.jobs', 'id'), 950)");
    const count = JOBS_PER_PASS + 50;
    for (let i = 0; i < count; i++) {
      const name = `round-${i}`;
      await defineJob(db, { name, policies: { retention: { max_runs: 1 } }, steps: [{ name: "a", builtin: "noop" }] });
      for (const minute of ["00", "01"]) await db.query("select clockwork.run_now($1, '{}', $2::timestamptz)", [name, `2041-01-01T00:${minute}:00Z`]);
    }
    for (let pass = 0; pass < 3; pass++) assert.equal((await prune(db, `2041-01-01T00:1${pass}:00Z`)).pruned, true);
    const { rows } = await db.query(`select j.id::int as id, count(r.id)::int as runs from clockwork.jobs j left join clockwork.runs r on r.job_id = j.id
                                      where j.name like 'round-%' group by j.id having count(r.id) <> 1 order by j.id`);
    assert.deepEqual(rows, [], "every job keeps its one newest run");
  });
});
