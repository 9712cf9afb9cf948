// Concurrency groups across jobs (issue 16): a named limit that runs of several jobs share.
// Defined through the API with the grant shape of calendars, named in policies.group and
// checked at definition time; a run that finds its group full waits, says why (run
// history, explain), and is let in when a slot frees, whichever way the run holding it
// ended, highest priority first. Pinned time; concurrent sessions for the races.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, sqlErrorOf, tick, type StepClaim } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

type Queryable = { query(sql: string, params?: unknown[]): Promise<pg.QueryResult<any>> };

async function complete(db: Queryable, claim: StepClaim, now: string, worker = "w1") {
  const { rows } = await db.query("select clockwork.complete_step($1, $2, 0, '', '', null, $3) as r", [claim.step_run_id, worker, now]);
  return rows[0].r as { accepted: boolean; run_state?: string };
}

/** Runs of a group's jobs: state, why, and whether a step is ready or running. */
async function groupRuns(db: Queryable, group: string) {
  const { rows } = await db.query(
    `select r.id::text as run_id, j.name as job, r.state, r.waiting_for, r.reason, r.priority,
            (select count(*)::int from clockwork.step_runs s where s.run_id = r.id and s.state in ('ready', 'running')) as live_steps
       from clockwork.runs r join clockwork.jobs j on j.id = r.job_id
      where r.concurrency_group = $1 order by r.id`, [group]);
  return rows as { run_id: string; job: string; state: string; waiting_for: string | null; reason: string | null; priority: number; live_steps: number }[];
}

async function occupancy(db: Queryable, group: string): Promise<number> {
  return (await groupRuns(db, group)).filter((r) => r.state === "queued" || r.state === "running").length;
}

const shellJob = (name: string, group: string, extra: object = {}) => ({
  name, steps: [{ name: "a", shell: "sleep 600" }], policies: { group, ...extra },
});

describe("concurrency groups: definition", () => {
  let db: TestDatabase;
  let alice: pg.Client;
  let bob: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    await adminQuery("do $$ begin create role cw_galice login; exception when duplicate_object then null; end $$");
    await adminQuery("do $$ begin create role cw_gbob login; exception when duplicate_object then null; end $$");
    alice = await db.connect({ user: "cw_galice" });
    bob = await db.connect({ user: "cw_gbob" });
  });
  after(async () => {
    await alice.end();
    await bob.end();
    await db.drop();
  });

  test("an unknown group is refused at definition time, naming the field, and nothing is stored", async () => {
    await alice.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "nightly", steps: [{ name: "a", sql: "select 1" }] })]);
    const before = (await alice.query("select version from clockwork.jobs where name = 'nightly'")).rows[0].version;
    const e = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "nightly", steps: [{ name: "a", sql: "select 2" }], policies: { group: "etl" },
    })]);
    assert.equal(e.code, SQLSTATE.unknown_group);
    assert.match(e.message, /policies\.group/);
    assert.match(e.message, /concurrency group "etl" does not exist/);
    assert.match(e.hint ?? "", /define_group/);
    const after = (await alice.query("select version, definition #>> '{steps,0,sql}' as sql from clockwork.jobs where name = 'nightly'")).rows[0];
    assert.deepEqual([after.version, after.sql], [before, "select 1"], "the stored job is untouched");
    const fresh = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "other", steps: [{ name: "a", sql: "select 2" }], policies: { group: "etl" },
    })]);
    assert.equal(fresh.code, SQLSTATE.unknown_group);
    assert.equal((await alice.query("select count(*)::int as n from clockwork.jobs where name = 'other'")).rows[0].n, 0);
  });

  test("bad group names, limits and priorities are refused with the field named", async () => {
    for (const [args, pattern] of [
      [["bad name!", 1], /group name/],
      [["ok", 0], /max_running/],
      [["ok", 10001], /max_running/],
      [["ok", null], /max_running/],
    ] as const) {
      const e = await sqlErrorOf(alice, "select clockwork.define_group($1, $2)", [...args]);
      assert.equal(e.code, SQLSTATE.invalid_argument);
      assert.match(e.message, pattern);
    }
    await alice.query("select clockwork.define_group('prio-check', 1)");
    for (const priority of [1.5, "high", 1001, -1001]) {
      const e = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: "p", steps: [{ name: "a", sql: "select 1" }], policies: { group: "prio-check", priority },
      })]);
      assert.equal(e.code, SQLSTATE.invalid_policy);
      assert.match(e.message, /policies\.priority/);
    }
    const e = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "p", steps: [{ name: "a", sql: "select 1" }], policies: { group: 7 },
    })]);
    assert.equal(e.code, SQLSTATE.invalid_policy);
    assert.match(e.message, /policies\.group/);
  });

  test("another role's group does not exist for bob until its owner grants it; revoking stops new definitions", async () => {
    await alice.query("select clockwork.define_group('reports', 2, 'the reporting replica')");
    const job = JSON.stringify({ name: "bob-report", steps: [{ name: "a", sql: "select 1" }], policies: { group: "reports" } });
    const refused = await sqlErrorOf(bob, "select clockwork.define_job($1::jsonb)", [job]);
    assert.equal(refused.code, SQLSTATE.unknown_group);
    assert.equal((await bob.query("select count(*)::int as n from clockwork.concurrency_groups")).rows[0].n, 0, "bob cannot see alice's group");
    // Bob can neither change, grant nor drop it, nor take its name.
    for (const sql of [
      "select clockwork.grant_group('reports', 'cw_gbob')",
      "select clockwork.drop_group('reports')",
    ]) assert.equal((await sqlErrorOf(bob, sql)).code, SQLSTATE.unknown_group);
    const squat = await sqlErrorOf(bob, "select clockwork.define_group('reports', 100)");
    assert.equal(squat.code, SQLSTATE.invalid_argument);
    assert.match(squat.message, /belongs to another role/);
    assert.equal((await db.query("select max_running from clockwork.concurrency_groups where name = 'reports'")).rows[0].max_running, 2);

    await alice.query("select clockwork.grant_group('reports', 'cw_gbob')");
    await bob.query("select clockwork.define_job($1::jsonb)", [job]);
    // A grantee may use the group, not manage it.
    const manage = await sqlErrorOf(bob, "select clockwork.grant_group('reports', 'public')");
    assert.equal(manage.code, SQLSTATE.not_found);
    assert.match(manage.message, /only its owner/);
    await alice.query("select clockwork.revoke_group('reports', 'cw_gbob')");
    const again = await sqlErrorOf(bob, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "bob-report-2", steps: [{ name: "a", sql: "select 1" }], policies: { group: "reports" },
    })]);
    assert.equal(again.code, SQLSTATE.unknown_group);
    // A superuser manages any group.
    await db.query("select clockwork.define_group('reports', 3)");
    assert.equal((await db.query("select max_running, owner from clockwork.concurrency_groups where name = 'reports'")).rows[0].max_running, 3);
  });

  test("a group in use cannot be dropped; the message says by which jobs", async () => {
    await alice.query("select clockwork.define_group('busy', 1)");
    await alice.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "uses-busy", steps: [{ name: "a", sql: "select 1" }], policies: { group: "busy" } })]);
    const e = await sqlErrorOf(alice, "select clockwork.drop_group('busy')");
    assert.equal(e.code, SQLSTATE.invalid_state);
    assert.match(e.message, /"uses-busy"/);
    await alice.query("select clockwork.drop_job('uses-busy')");
    await alice.query("select clockwork.drop_group('busy')");
    assert.equal((await db.query("select count(*)::int as n from clockwork.concurrency_groups where name = 'busy'")).rows[0].n, 0);
  });
});

describe("concurrency groups: a shared limit", () => {
  let db: TestDatabase;
  let n = 0;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
  });
  after(async () => {
    await db.drop();
  });

  /** A group and `count` jobs in it, each fired by run_now in order; returns the jobs' names. */
  async function setUp(limit: number, count: number, extra: (i: number) => object = () => ({})) {
    const group = `g${++n}`;
    await db.query("select clockwork.define_group($1, $2)", [group, limit]);
    const jobs: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${group}-job${i}`;
      await defineJob(db, shellJob(name, group, extra(i)));
      jobs.push(name);
    }
    return { group, jobs };
  }

  test("limit 1 across jobs (exclusive execution): the second run waits, says why, and starts when the first ends", async () => {
    const group = `g${++n}`;
    await db.query("select clockwork.define_group($1, 1)", [group]);
    await defineJob(db, { name: "excl-a", schedules: ["* * * * *"], steps: [{ name: "a", shell: "sleep 600" }], policies: { group } }, "2050-01-01T00:00:30Z");
    await defineJob(db, { name: "excl-b", schedules: ["* * * * *"], steps: [{ name: "a", shell: "sleep 600" }], policies: { group } }, "2050-01-01T00:00:30Z");
    const { claimed } = await tick(db.pool, "w1", "2050-01-01T00:01:00Z");
    const mine = claimed.filter((c) => c.job.startsWith("excl-"));
    assert.equal(mine.length, 1, "one step of the group claimed");
    const runs = await groupRuns(db, group);
    assert.deepEqual(runs.map((r) => r.state).sort(), ["running", "waiting"]);
    const waiting = runs.find((r) => r.state === "waiting")!;
    assert.equal(waiting.waiting_for, "group");
    assert.match(waiting.reason!, new RegExp(`waiting for a slot in concurrency group "${group}"`));
    // Run history and explain say why.
    const history = (await db.query("select state, reason from clockwork.run_history where run_id = $1", [waiting.run_id])).rows[0];
    assert.deepEqual([history.state, history.reason], ["waiting", waiting.reason]);
    const e = (await db.query("select clockwork.explain($1, '2050-01-01T00:01:00Z', '2050-01-01T00:01:01Z') as e", [waiting.job])).rows[0].e;
    assert.equal(e.outcome, "waiting");
    assert.match(e.text, /waiting for a slot in concurrency group/);

    // The next slot of the busy job is skipped by its overlap policy (it has an instance);
    // the waiting one keeps its place.
    await complete(db.pool, mine[0]!, "2050-01-01T00:01:30Z");
    const after = await groupRuns(db, group);
    const released = after.find((r) => r.run_id === waiting.run_id)!;
    assert.equal(released.state, "queued", "released in the same transaction as the end");
    assert.equal(released.live_steps, 1);
    assert.equal(released.reason, null);
    assert.equal(await occupancy(db, group), 1);
  });

  test("limit n (a pool): at most n of several jobs' runs at once; each end lets the next in", async () => {
    const { group, jobs } = await setUp(2, 5);
    for (const job of jobs) await db.query("select clockwork.run_now($1, '{}', '2050-02-01T00:00:00Z')", [job]);
    assert.equal(await occupancy(db, group), 2);
    assert.equal((await groupRuns(db, group)).filter((r) => r.state === "waiting").length, 3);
    const claims: StepClaim[] = [];
    for (let round = 0; round < 5; round++) {
      // Seconds apart: every claim stays within its lease.
      claims.push(...(await tick(db.pool, "w1", `2050-02-01T00:00:1${round}Z`)).claimed.filter((c) => c.job.startsWith(group)));
      assert.ok(await occupancy(db, group) <= 2);
      assert.equal((await complete(db.pool, claims.shift()!, `2050-02-01T00:00:1${round}.500Z`)).accepted, true);
      const runs = await groupRuns(db, group);
      const waiting = runs.filter((r) => r.state === "waiting").length;
      assert.equal(await occupancy(db, group), Math.min(2, runs.length - (round + 1)), "every end lets the next in at once");
      assert.equal(waiting, Math.max(0, 5 - (round + 1) - 2));
    }
    assert.deepEqual((await groupRuns(db, group)).map((r) => r.state), Array(5).fill("succeeded"));
  });

  test("priorities: when the group is full, the highest priority goes first, then the oldest", async () => {
    const { group, jobs } = await setUp(1, 4, (i) => ({ priority: [0, 0, 5, 5][i] }));
    const ids: string[] = [];
    for (const job of jobs) ids.push(String((await db.query("select clockwork.run_now($1, '{}', '2050-03-01T00:00:00Z') as id", [job])).rows[0].id));
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const running = (await groupRuns(db, group)).filter((r) => r.state === "queued" || r.state === "running");
      assert.equal(running.length, 1);
      order.push(running[0]!.job);
      await db.query("select clockwork.cancel_run($1, '2050-03-01T00:01:00Z')", [running[0]!.run_id]);
    }
    // job0 took the free slot at once; then priority 5 (job2 before job3, oldest first), then job1.
    assert.deepEqual(order, [jobs[0], jobs[2], jobs[3], jobs[1]]);
  });

  test("oldest first compares run ids as numbers: a run 9999991 goes before a run 10000001", async () => {
    const { group, jobs } = await setUp(1, 3);
    const nextIdAfter = (id: number) => db.query("select setval(pg_get_serial_sequence('clockwork.runs', 'id'), $1)", [id]);
    const runNow = async (job: string) => String((await db.query("select clockwork.run_now($1, '{}', '2050-03-02T00:00:00Z') as id", [job])).rows[0].id);
    const first = await runNow(jobs[0]!);
    await nextIdAfter(9_999_990);
    const older = await runNow(jobs[1]!);
    await nextIdAfter(10_000_000);
    await runNow(jobs[2]!);
    await db.query("select clockwork.cancel_run($1, '2050-03-02T00:01:00Z')", [first]);
    const running = (await groupRuns(db, group)).filter((r) => r.state === "queued" || r.state === "running");
    assert.deepEqual(running.map((r) => r.run_id), [older]);
  });

  test("every way a run ends frees its slot: cancel, disable, drop, time-out, replace, lease loss", async () => {
    const { group } = await setUp(1, 0);
    const define = (name: string, extra: object = {}, steps: object[] = [{ name: "a", shell: "sleep 600" }]) =>
      defineJob(db, { name, steps, policies: { group, ...extra } });
    /** Starts `holder` (which takes the slot) and `next` (which waits); returns the holder's run. */
    const holdAndWait = async (holder: string, next: string, at: string) => {
      const run = String((await db.query("select clockwork.run_now($1, '{}', $2) as id", [holder, at])).rows[0].id);
      await db.query("select clockwork.run_now($1, '{}', $2)", [next, at]);
      const runs = await groupRuns(db, group);
      assert.equal(runs.find((r) => r.run_id === run)!.state, "queued", `${holder} holds the slot`);
      assert.equal(runs.filter((r) => r.job === next && r.state === "waiting").length, 1, `${next} waits`);
      return run;
    };
    const assertNextIn = async (next: string, how: string) => {
      const runs = (await groupRuns(db, group)).filter((r) => r.job === next);
      assert.equal(runs.at(-1)!.state, "queued", `after ${how}, ${next} holds the slot`);
      assert.equal(runs.at(-1)!.live_steps, 1);
      assert.equal(await occupancy(db, group), 1);
    };
    await define("next");

    await define("by-cancel");
    let run = await holdAndWait("by-cancel", "next", "2050-04-01T00:00:00Z");
    await db.query("select clockwork.cancel_run($1, '2050-04-01T00:00:01Z')", [run]);
    await assertNextIn("next", "cancel_run");
    await db.query("select clockwork.cancel_run(id, '2050-04-01T00:00:02Z') from clockwork.runs where concurrency_group = $1 and state <> 'cancelled'", [group]);

    await define("by-disable");
    run = await holdAndWait("by-disable", "next", "2050-04-01T00:01:00Z");
    // disable_job stops only waiting runs; its running run goes on holding the slot.
    await db.query("select clockwork.disable_job('by-disable')");
    assert.equal(await occupancy(db, group), 1);
    await db.query("select clockwork.cancel_run($1, '2050-04-01T00:01:02Z')", [run]);
    await assertNextIn("next", "the disabled job's run ended");
    await db.query("select clockwork.cancel_run(id, '2050-04-01T00:01:03Z') from clockwork.runs where concurrency_group = $1 and state not in ('cancelled', 'succeeded')", [group]);

    await define("by-drop");
    await holdAndWait("by-drop", "next", "2050-04-01T00:02:00Z");
    await db.query("select clockwork.drop_job('by-drop')");
    await assertNextIn("next", "drop_job");
    await db.query("select clockwork.cancel_run(id, '2050-04-01T00:02:03Z') from clockwork.runs where concurrency_group = $1 and state not in ('cancelled', 'succeeded')", [group]);

    await define("by-timeout", { timeout: "1m" });
    await holdAndWait("by-timeout", "next", "2050-04-01T00:03:00Z");
    await tick(db.pool, "w1", "2050-04-01T00:04:01Z", 0);
    assert.equal((await groupRuns(db, group)).filter((r) => r.job === "by-timeout").at(-1)!.state, "timed_out");
    await assertNextIn("next", "the time-out");
    await db.query("select clockwork.cancel_run(id, '2050-04-01T00:04:03Z') from clockwork.runs where concurrency_group = $1 and state not in ('cancelled', 'succeeded')", [group]);

    // Lease loss: the holder's step is lost by worker after worker until it counts as failed.
    // Each worker is found gone (as tick finds a dead supervisor): a clean shutdown
    // (release_worker) would hand the step back, which is no lease loss and never fails it.
    await define("by-lease");
    run = await holdAndWait("by-lease", "next", "2050-04-01T00:05:00Z");
    for (let i = 0; i < 6; i++) {
      const worker = `gone-${n}-${i}`;
      await registerWorker(db.pool, worker);
      const { claimed } = await tick(db.pool, worker, `2050-04-01T00:05:0${i + 1}Z`);
      assert.ok(claimed.some((c) => c.run_id === run), "the holder's step is claimed again");
      await db.query("select clockwork._end_worker(id, $2, 'gone') from clockwork.workers where name = $1 and stopped_at is null",
        [worker, `2050-04-01T00:05:0${i + 1}.500Z`]);
      await tick(db.pool, "w1", `2050-04-01T00:05:0${i + 1}.600Z`, 0);
      const state = (await groupRuns(db, group)).find((r) => r.run_id === run)!.state;
      if (state === "failed") break;
      assert.equal(await occupancy(db, group), 1);
    }
    assert.equal((await groupRuns(db, group)).find((r) => r.run_id === run)!.state, "failed");
    await assertNextIn("next", "lease loss");
    await db.query("select clockwork.cancel_run(id, '2050-04-01T00:06:03Z') from clockwork.runs where concurrency_group = $1 and state not in ('cancelled', 'succeeded', 'failed')", [group]);

    // Replace: a terminate_other job's new slot stops its run; the slot goes to the oldest waiting run.
    await defineJob(db, { name: "by-replace", schedules: ["* * * * *"], steps: [{ name: "a", shell: "sleep 600" }], policies: { group, overlap: "terminate_other" } }, "2050-04-01T00:06:30Z");
    await tick(db.pool, "w1", "2050-04-01T00:07:00Z", 0);
    await db.query("select clockwork.run_now('next', '{}', '2050-04-01T00:07:10Z')");
    await tick(db.pool, "w1", "2050-04-01T00:08:00Z", 0);
    const replaced = (await groupRuns(db, group)).filter((r) => r.job === "by-replace");
    assert.equal(replaced[0]!.state, "cancelled");
    assert.match(replaced[0]!.reason!, /replaced by run/);
    await assertNextIn("next", "overlap replace");
    assert.equal(replaced[1]!.state, "waiting", "the replacing run waits its turn in the group");
    assert.equal(replaced[1]!.waiting_for, "group");
  });

  test("a raised limit lets waiting runs in at the next tick; a lowered one stops nothing", async () => {
    const { group, jobs } = await setUp(1, 3);
    for (const job of jobs) await db.query("select clockwork.run_now($1, '{}', '2050-05-01T00:00:00Z')", [job]);
    await db.query("select clockwork.define_group($1, 3)", [group]);
    await tick(db.pool, "w1", "2050-05-01T00:00:01Z", 0);
    assert.equal(await occupancy(db, group), 3);
    await db.query("select clockwork.define_group($1, 1)", [group]);
    await tick(db.pool, "w1", "2050-05-01T00:00:02Z", 0);
    assert.equal(await occupancy(db, group), 3, "a lower limit stops no run");
    await db.query("select clockwork.run_now($1, '{}', '2050-05-01T00:00:03Z')", [jobs[0]]);
    const runs = await groupRuns(db, group);
    assert.equal(runs.at(-1)!.state, "waiting");
  });
});

// Race-free across sessions: the group's row is the serialisation point. Session A holds it
// (an admission not yet committed) while session B starts runs and ends the one holding a
// slot: B never waits, never lets a run in past the limit, and what B could not do is done
// by the next tick, so nothing stays waiting while the group has room.
describe("concurrency groups: two sessions at once", () => {
  let db: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;
  let n = 0;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    a = await db.connect();
    b = await db.connect();
    await b.query("set lock_timeout = '5s'"); // B must never wait: a wait fails the test instead of hanging
  });
  after(async () => {
    // A failed test may leave A's transaction open (it holds the group's row): end it first.
    await a.query("rollback").catch(() => undefined);
    await a.end();
    await b.end();
    await db.drop();
  });

  async function setUp(limit: number, count: number) {
    // Runs of earlier tests would make tick's next_due_at theirs.
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where state in ('waiting', 'queued', 'running')");
    const group = `race${++n}`;
    await db.query("select clockwork.define_group($1, $2)", [group, limit]);
    const jobs: string[] = [];
    for (let i = 0; i < count; i++) {
      await defineJob(db, shellJob(`${group}-${i}`, group));
      jobs.push(`${group}-${i}`);
    }
    return { group, jobs };
  }

  test("two sessions start runs of one group at once: the limit holds", async () => {
    const { group, jobs } = await setUp(1, 2);
    await a.query("begin");
    await a.query("select clockwork.run_now($1, '{}', '2051-01-01T00:00:00Z')", [jobs[0]]);
    await b.query("begin");
    await b.query("select clockwork.run_now($1, '{}', '2051-01-01T00:00:00Z')", [jobs[1]]);
    await b.query("commit");
    await a.query("commit");
    assert.equal(await occupancy(db, group), 1);
    await tick(db.pool, "w1", "2051-01-01T00:00:01Z", 0);
    assert.equal(await occupancy(db, group), 1, "the settle pass lets nobody in past the limit");
    assert.equal((await groupRuns(db, group)).filter((r) => r.state === "waiting").length, 1);
  });

  test("the slot frees while another session holds the group: the next tick lets the waiting run in", async () => {
    const { group, jobs } = await setUp(1, 3);
    const holder = String((await db.query("select clockwork.run_now($1, '{}', '2051-02-01T00:00:00Z') as id", [jobs[0]])).rows[0].id);
    await db.query("select clockwork.run_now($1, '{}', '2051-02-01T00:00:00Z')", [jobs[1]]);
    // A holds the group's row: its run_now of a third job looks for a slot and finds none.
    await a.query("begin");
    await a.query("select clockwork.run_now($1, '{}', '2051-02-01T00:00:01Z')", [jobs[2]]);
    // B ends the holder while A holds the group: B cannot take the row and does not wait.
    await b.query("select clockwork.cancel_run($1, '2051-02-01T00:00:02Z')", [holder]);
    assert.equal(await occupancy(db, group), 0);
    await a.query("commit");
    // The waiting runs are let in by the next tick (B's NOTIFY wakes the supervisors),
    // the oldest first; the tick asks to be called again soon only if it met a lock.
    await tick(db.pool, "w1", "2051-02-01T00:00:03Z", 0);
    const runs = await groupRuns(db, group);
    assert.equal(await occupancy(db, group), 1);
    assert.equal(runs.find((r) => r.job === jobs[1])!.state, "queued", "the oldest waiting run goes first");
    assert.equal(runs.find((r) => r.job === jobs[2])!.state, "waiting");
  });

  test("a tick while another session holds the group asks to be called again soon, and then lets the run in", async () => {
    const { group, jobs } = await setUp(1, 2);
    const holder = String((await db.query("select clockwork.run_now($1, '{}', '2051-03-01T00:00:00Z') as id", [jobs[0]])).rows[0].id);
    await db.query("select clockwork.run_now($1, '{}', '2051-03-01T00:00:00Z')", [jobs[1]]);
    await a.query("begin");
    await a.query("select 1 from clockwork.concurrency_groups where name = $1 for update", [group]);
    await b.query("select clockwork.cancel_run($1, '2051-03-01T00:00:01Z')", [holder]);
    const t = await tick(b, "w1", "2051-03-01T00:00:02Z", 0);
    assert.equal(t.next_due_at, "2051-03-01T00:00:02.200Z", "retried 200 ms later, not spun on");
    assert.equal(await occupancy(db, group), 0);
    await a.query("commit");
    await tick(b, "w1", "2051-03-01T00:00:02.200Z", 0);
    assert.equal(await occupancy(db, group), 1);
  });
});
