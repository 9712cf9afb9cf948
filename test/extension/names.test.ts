// A job name belongs to its owner (as in pg_cron): two roles can both have "nightly", each
// addresses its own by name, a superuser addresses either as owner/name, and nobody can
// squat a name another role will want. Parameters are checked when a run is asked for.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, sqlErrorOf } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

const nightly = (sql: string) => JSON.stringify({ name: "nightly", steps: [{ name: "a", sql }] });

describe("job names per owner", () => {
  let db: TestDatabase;
  let alice: pg.Client;
  let bob: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    await adminQuery("do $$ begin create role cw_alice login; exception when duplicate_object then null; end $$");
    await adminQuery("do $$ begin create role cw_bob login; exception when duplicate_object then null; end $$");
    alice = await db.connect({ user: "cw_alice" });
    bob = await db.connect({ user: "cw_bob" });
  });
  after(async () => {
    await db.drop();
  });

  test("two roles can both have a job called nightly, and each sees its own", async () => {
    await alice.query("select clockwork.define_job($1::jsonb)", [nightly("select 'alice'")]);
    // Before: "belongs to another role". Now bob simply has his own.
    await bob.query("select clockwork.define_job($1::jsonb)", [nightly("select 'bob'")]);
    const all = await db.query("select owner, job from clockwork.job_status where job = 'nightly' order by owner");
    assert.deepEqual(all.rows.map((r) => r.owner), ["cw_alice", "cw_bob"]);
    const own = await alice.query("select owner from clockwork.job_status where job = 'nightly'");
    assert.deepEqual(own.rows.map((r) => r.owner), ["cw_alice"], "row-level security shows alice her own");
    const defs = await db.query(
      `select j.owner, v.definition #>> '{steps,0,sql}' as sql from clockwork.jobs j
         join clockwork.job_versions v on v.job_id = j.id where j.name = 'nightly' order by j.owner`);
    assert.deepEqual(defs.rows.map((r) => [r.owner, r.sql]), [["cw_alice", "select 'alice'"], ["cw_bob", "select 'bob'"]], "redefining by bob did not touch alice's job");
  });

  test("each role addresses its own job by name; another's owner/name does not exist for it", async () => {
    const run = await alice.query("select clockwork.run_now('nightly') as id");
    const owner = await db.query("select owner from clockwork.run_history where run_id = $1", [run.rows[0].id]);
    assert.equal(owner.rows[0].owner, "cw_alice");
    const error = await sqlErrorOf(bob, "select clockwork.run_now('cw_alice/nightly')");
    assert.equal(error.code, SQLSTATE.not_found);
    assert.match(error.message, /job "cw_alice\/nightly" does not exist/);
  });

  test("a superuser addresses either as owner/name; the bare name is ambiguous and says how to qualify it", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.disable_job('nightly')");
    assert.equal(error.code, SQLSTATE.ambiguous_job);
    assert.match(error.message, /job name "nightly" is ambiguous: cw_alice\/nightly, cw_bob\/nightly/);
    assert.match(error.hint!, /owner\/name/);
    await db.query("select clockwork.disable_job('cw_bob/nightly')");
    const state = await db.query("select owner, enabled from clockwork.job_status where job = 'nightly' order by owner");
    assert.deepEqual(state.rows.map((r) => [r.owner, r.enabled]), [["cw_alice", true], ["cw_bob", false]]);
    const next = await db.query("select count(*)::int as n from clockwork.next_runs('cw_alice/nightly', 3)");
    assert.equal(next.rows[0].n, 0, "no schedule: no next runs, but the job was found");
  });

  test("a name only one visible owner uses needs no owner", async () => {
    await bob.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "only-bob", steps: [{ name: "a", sql: "select 1" }] })]);
    await db.query("select clockwork.run_now('only-bob')");
    await db.query("select clockwork.drop_job('cw_bob/only-bob')");
  });
});

describe("run parameters are checked when a run is asked for", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "typed", parameters: { n: 10, day: { type: "date" } }, steps: [{ name: "a", sql: "select :n::int + 1 as m, :day::date as d" }],
    })]);
  });
  after(async () => {
    await db.drop();
  });

  test("a value of the wrong type is refused (KW012) and no run is made", async () => {
    const error = await sqlErrorOf(db.pool, `select clockwork.run_now('typed', '{"n": "abc"}')`);
    assert.equal(error.code, SQLSTATE.invalid_parameter);
    assert.equal(error.message, 'params.n: expected a number, got "abc" (parameter "n" is a number)');
    const runs = await db.query("select count(*)::int as n from clockwork.runs");
    assert.equal(runs.rows[0].n, 0);
  });

  test("every problem is reported at once", async () => {
    const error = await sqlErrorOf(db.pool, `select clockwork.run_now('typed', '{"n": true, "day": "tomorrow", "x": 1}')`);
    assert.match(error.message, /\(and 2 more; see DETAIL\)/);
    assert.match(error.detail!, /params.day: expected a date YYYY-MM-DD, got "tomorrow"/);
    assert.match(error.detail!, /params.x: job "typed" has no parameter "x"/);
  });

  test("text that reads as the type is taken as it, and stored typed", async () => {
    const { rows } = await db.query(`select clockwork.run_now('typed', '{"n": "41", "day": "2026-11-21"}') as id`);
    const run = await db.query("select params from clockwork.runs where id = $1", [rows[0].id]);
    assert.deepEqual(run.rows[0].params, { n: 41, day: "2026-11-21" });
  });
});
