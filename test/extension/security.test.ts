// Least privilege: each role sees and changes only its own jobs; only supervisors drive
// the scheduler; tables are written through the API only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, sqlErrorOf } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

describe("roles and row-level security", () => {
  let db: TestDatabase;
  let alice: pg.Client;
  let bob: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    for (const role of ["cw_alice", "cw_bob"]) {
      await adminQuery(`do $$ begin create role ${role} login; exception when duplicate_object then null; end $$`);
    }
    alice = await db.connect({ user: "cw_alice" });
    bob = await db.connect({ user: "cw_bob" });
    await alice.query("select clockwork.schedule('alice-job', '0 * * * *', 'select 1')");
    await bob.query("select clockwork.schedule('bob-job', '0 * * * *', 'select 1')");
    await alice.query("select clockwork.run_now('alice-job')");
  });
  after(async () => {
    await db.drop();
  });

  test("a role sees only its own jobs and runs", async () => {
    const jobs = await alice.query("select job from clockwork.job_status order by job");
    assert.deepEqual(jobs.rows.map((r) => r.job), ["alice-job"]);
    const bobRuns = await bob.query("select count(*)::int as n from clockwork.run_history");
    assert.equal(bobRuns.rows[0].n, 0);
    const aliceRuns = await alice.query("select count(*)::int as n from clockwork.runs");
    assert.equal(aliceRuns.rows[0].n, 1);
    const steps = await bob.query("select count(*)::int as n from clockwork.step_runs");
    assert.equal(steps.rows[0].n, 0);
  });

  test("a role cannot run, disable, drop or redefine another role's job", async () => {
    for (const sql of [
      "select clockwork.run_now('alice-job')",
      "select clockwork.disable_job('alice-job')",
      "select clockwork.drop_job('alice-job')",
    ]) {
      const error = await sqlErrorOf(bob, sql);
      assert.equal(error.code, SQLSTATE.not_found, sql);
      assert.match(error.message, /does not exist/);
    }
    // Names belong to their owner: bob's "alice-job" is his own, and alice's is untouched.
    await bob.query("select clockwork.schedule('alice-job', '* * * * *', 'drop table x')");
    const still = await db.query("select owner, definition->'steps'->0->>'sql' as sql from clockwork.jobs where name = 'alice-job' order by owner");
    assert.deepEqual(still.rows.map((r) => [r.owner, r.sql]), [["cw_alice", "select 1"], ["cw_bob", "drop table x"]]);
    const error = await sqlErrorOf(bob, "select clockwork.run_now('cw_alice/alice-job')");
    assert.equal(error.code, SQLSTATE.not_found);
    await bob.query("select clockwork.drop_job('alice-job')");
  });

  test("tables cannot be written directly, only through the API", async () => {
    const error = await sqlErrorOf(alice, "update clockwork.jobs set owner = 'postgres'");
    assert.equal(error.code, "42501");
    const insert = await sqlErrorOf(alice, "insert into clockwork.runs (job_id, job_version, trigger, queued_at) values (1, 1, 'manual', now())");
    assert.equal(insert.code, "42501");
  });

  test("only supervisors may tick, claim and complete steps", async () => {
    for (const sql of ["select clockwork.register_worker('rogue')", "select clockwork.tick('rogue')", "select clockwork.heartbeat('rogue')"]) {
      const error = await sqlErrorOf(alice, sql);
      assert.equal(error.code, "42501", `${sql}: ${error.message}`);
    }
    await adminQuery("do $$ begin create role cw_super login; exception when duplicate_object then null; end $$");
    await adminQuery("grant clockwork_supervisor to cw_super");
    const supervisor = await db.connect({ user: "cw_super" });
    await supervisor.query("select clockwork.register_worker('legit')");
    const { rows } = await supervisor.query("select clockwork.tick('legit', 10) as t");
    assert.equal(rows[0].t.claimed.length, 1, "the supervisor claims alice's manual run");
    const seen = await supervisor.query("select count(*)::int as n from clockwork.jobs");
    assert.equal(seen.rows[0].n, 2, "supervisors see every job");
  });

  test("nobody but register_worker records a scheduler start: an owner or a supervisor cannot forge an outage", async () => {
    // _scheduler_started records a scheduler_down alert (and its notifications) from the
    // times it is given, trusting them: only _register_worker, SECURITY DEFINER, calls it.
    await adminQuery("do $$ begin create role cw_super login; exception when duplicate_object then null; end $$");
    await adminQuery("grant clockwork_supervisor to cw_super");
    const supervisor = await db.connect({ user: "cw_super" });
    try {
      for (const [who, client] of [["an owner", alice], ["a supervisor", supervisor]] as const) {
        const error = await sqlErrorOf(client, "select clockwork._scheduler_started('rogue', now() - interval '3 days', now())");
        assert.equal(error.code, "42501", `${who}: ${error.message}`);
      }
    } finally {
      await supervisor.end();
    }
    const { rows } = await db.query("select count(*)::int as n from clockwork.alerts where condition = 'scheduler_down'");
    assert.equal(rows[0].n, 0, "no outage was recorded");
  });
});
