// Named connections and calendars through the API: every role defines its own, uses
// another's only when granted, and nobody can make a step log in as someone else.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { renderClaimedSqlStep } from "../../extension/src/core/sql-step.ts";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, registerWorker, sqlErrorOf, tick } from "./helpers.ts";

const define = (client: pg.ClientBase | pg.Pool, definition: object) =>
  client.query("select clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);

describe("named connections", () => {
  let db: TestDatabase;
  let alice: pg.Client;
  let bob: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    for (const role of ["cn_alice", "cn_bob", "cn_team"]) {
      await adminQuery(`do $$ begin create role ${role} login; exception when duplicate_object then null; end $$`);
    }
    await adminQuery("grant cn_team to cn_bob");
    alice = await db.connect({ user: "cn_alice" });
    bob = await db.connect({ user: "cn_bob" });
    await registerWorker(db.pool, "w1");
  });
  after(async () => {
    await db.drop();
  });

  test("a role defines its own, and sees only its own and those granted to it", async () => {
    await alice.query("select clockwork.define_connection('warehouse', 'host=wh.internal port=5433 dbname=dw sslmode=require', 'primary', 'fail', 'the warehouse')");
    const row = (await alice.query("select name, conninfo, server_role, on_role_mismatch, owner, description from clockwork.connections")).rows;
    assert.deepEqual(row, [{ name: "warehouse", conninfo: "host=wh.internal port=5433 dbname=dw sslmode=require", server_role: "primary", on_role_mismatch: "fail", owner: "cn_alice", description: "the warehouse" }]);
    assert.deepEqual((await bob.query("select name from clockwork.connections")).rows, [], "not bob's, not granted");
    const error = await sqlErrorOf(bob, "select clockwork.alter_connection('warehouse', server_role => 'standby')");
    assert.equal(error.code, SQLSTATE.unknown_connection);
    const taken = await sqlErrorOf(bob, "select clockwork.define_connection('warehouse', 'host=evil')");
    assert.equal(taken.code, SQLSTATE.invalid_argument);
    assert.match(taken.message, /exists and belongs to another role/);
  });

  test("bad input is refused with every problem at once, nothing stored", async () => {
    const error = await sqlErrorOf(alice, "select clockwork.define_connection('bad', 'host=db password=hunter2 sslkey=/etc/ssl/key hots=x', 'leader', 'ignore')");
    assert.equal(error.code, SQLSTATE.password_in_conninfo);
    assert.equal(error.detail, [
      "conninfo: it contains a password",
      "conninfo: only a superuser may name files on the supervisor's machine (sslkey)",
      'conninfo: unknown parameter "hots"',
      'server_role: server_role must be primary, standby or any, not "leader"',
      'on_role_mismatch: on_role_mismatch must be fail or skip, not "ignore"',
    ].join("\n"));
    assert.equal((await db.query("select count(*)::int as n from clockwork.connections where name = 'bad'")).rows[0].n, 0);
  });

  test("only a superuser's connection may name a login role: postgres under another host name is no way in", async () => {
    for (const conninfo of ["host=localhost user=postgres", "postgresql://postgres@127.0.0.2/postgres", "host=127.0.0.1 user=cn_alice"]) {
      const error = await sqlErrorOf(alice, "select clockwork.define_connection('sneaky', $1)", [conninfo]);
      assert.equal(error.code, SQLSTATE.invalid_definition, conninfo);
      assert.match(error.message, /only a superuser may name a login role/);
    }
    // Nor through a step's own conninfo.
    const step = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "sneaky", steps: [{ name: "a", sql: "alter role cn_alice superuser", conninfo: "host=localhost user=postgres" }] })]);
    assert.equal(step.code, SQLSTATE.invalid_definition);
    assert.match(step.message, /steps\.a\.conninfo: user=postgres: steps log in as their owner \(cn_alice\)/);
    // A superuser may: an explicit trust decision, usable by the roles it grants it to.
    await db.query("select clockwork.define_connection('reporting-as-reader', 'host=127.0.0.1 user=cn_team dbname=postgres')");
  });

  test("a step may use a connection only when its owner may: own, or granted (to it, a role it is in, or public)", async () => {
    const job = (name: string) => ({ name, steps: [{ name: "a", sql: "select 1", connection: "warehouse" }] });
    const refused = await sqlErrorOf(bob, "select clockwork.define_job($1::jsonb)", [JSON.stringify(job("bob-wh"))]);
    assert.equal(refused.code, SQLSTATE.unknown_connection);
    await alice.query("select clockwork.grant_connection('warehouse', 'cn_team')");
    await define(bob, job("bob-wh"));
    assert.deepEqual((await bob.query("select name from clockwork.connections")).rows, [{ name: "warehouse" }]);
    // Bob may use it, not change it.
    const change = await sqlErrorOf(bob, "select clockwork.alter_connection('warehouse', 'host=evil')");
    assert.equal(change.code, SQLSTATE.not_found);
    assert.match(change.message, /belongs to cn_alice/);
    // Revoked: bob's step fails at its next claim, saying why; nothing logs in anywhere.
    await alice.query("select clockwork.revoke_connection('warehouse', 'cn_team')");
    await bob.query("select clockwork.run_now('bob-wh')");
    const { claimed } = await tick(db.pool, "w1", new Date());
    assert.equal(claimed.filter((c) => c.job === "bob-wh").length, 0, "not handed to a supervisor");
    const step = (await db.query("select s.state, s.sql_state, s.error from clockwork.step_runs s join clockwork.runs r on r.id = s.run_id join clockwork.jobs j on j.id = r.job_id where j.name = 'bob-wh'")).rows[0];
    assert.deepEqual(step, { state: "failed", sql_state: SQLSTATE.invalid_state, error: "role cn_bob may no longer use connection \"warehouse\" (its owner cn_alice can grant it with clockwork.grant_connection)" });
  });

  test("a claim carries where to connect and as whom", async () => {
    await alice.query("select clockwork.alter_connection('warehouse', server_role => 'standby', on_role_mismatch => 'skip')");
    await define(alice, { name: "alice-wh", steps: [{ name: "a", sql: "select 1", connection: "warehouse" }] });
    await alice.query("select clockwork.run_now('alice-wh')");
    await db.query("select clockwork.grant_connection('reporting-as-reader', 'cn_alice')");
    await define(alice, { name: "alice-reader", steps: [{ name: "a", sql: "select 1", connection: "reporting-as-reader" }] });
    await alice.query("select clockwork.run_now('alice-reader')");
    const { claimed } = await tick(db.pool, "w1", new Date());
    const whClaim = claimed.find((c) => c.job === "alice-wh")!;
    const wh = whClaim.sql!;
    assert.deepEqual([wh.login, wh.target, wh.exactly_once], ["cn_alice", {
      database: null, connection: "warehouse", conninfo: "host=wh.internal port=5433 dbname=dw sslmode=require", server_role: "standby", on_role_mismatch: "skip",
    }, false]);
    assert.doesNotMatch(renderClaimedSqlStep(whClaim).messages[0]!, /_finish_sql_step/, "at least once on another server: no finish there");
    const reader = claimed.find((c) => c.job === "alice-reader")!.sql!;
    assert.equal(reader.login, "cn_team", "the superuser's mapping");
  });

  test("a connection in use is not dropped; unused, it is", async () => {
    const error = await sqlErrorOf(alice, "select clockwork.drop_connection('warehouse')");
    assert.equal(error.code, SQLSTATE.invalid_state);
    assert.equal(error.message, 'connection "warehouse" is used by job "alice-wh" and 1 job of other roles; change or drop them first');
    await alice.query("select clockwork.define_connection('spare', 'host=spare')");
    await alice.query("select clockwork.drop_connection('spare')");
    assert.equal((await db.query("select count(*)::int as n from clockwork.connections where name = 'spare'")).rows[0].n, 0);
  });

  test("a step on another database of this server names it, and must name one that exists", async () => {
    const error = await sqlErrorOf(alice, "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "other-db", steps: [{ name: "a", sql: "select 1", database: "postgress" }] })]);
    assert.equal(error.code, SQLSTATE.invalid_definition);
    assert.match(error.message, /steps\.a\.database: unknown database "postgress" \(did you mean "postgres"\?\)/);
    await define(alice, { name: "here-by-name", steps: [{ name: "a", sql: "select 1", database: db.name }] });
    await alice.query("select clockwork.run_now('here-by-name')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "here-by-name")!;
    assert.equal(claim.sql!.exactly_once, true, "its own database by name is the scheduler's: exactly once");
  });
});

describe("calendars", () => {
  let db: TestDatabase;
  let alice: pg.Client;
  let bob: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    for (const role of ["cal_alice", "cal_bob"]) {
      await adminQuery(`do $$ begin create role ${role} login; exception when duplicate_object then null; end $$`);
    }
    alice = await db.connect({ user: "cal_alice" });
    bob = await db.connect({ user: "cal_bob" });
  });
  after(async () => {
    await db.drop();
  });

  test("a role that is not a superuser defines, changes, grants and drops its own", async () => {
    await alice.query("select clockwork.define_calendar('holidays', array['2031-12-25', '2031-12-26', '2031-12-25']::date[], 'Christmas')");
    assert.deepEqual((await alice.query("select name, dates::text[] as dates, owner from clockwork.calendars")).rows, [
      { name: "holidays", dates: ["2031-12-25", "2031-12-26"], owner: "cal_alice" },
    ]);
    assert.deepEqual((await bob.query("select name from clockwork.calendars")).rows, []);
    const notGranted = await sqlErrorOf(bob, "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "b", schedules: [{ cron: "0 9 * * *", exclude: { calendars: ["holidays"] } }], steps: [{ name: "a", sql: "select 1" }] })]);
    assert.equal(notGranted.code, SQLSTATE.unknown_calendar);
    await alice.query("select clockwork.grant_calendar('holidays', 'cal_bob')");
    await define(bob, { name: "b", schedules: [{ cron: "0 9 * * *", exclude: { calendars: ["holidays"] } }], steps: [{ name: "a", sql: "select 1" }] });
    const change = await sqlErrorOf(bob, "select clockwork.alter_calendar('holidays', add_dates => array['2031-01-01']::date[])");
    assert.equal(change.code, SQLSTATE.not_found);
    const drop = await sqlErrorOf(alice, "select clockwork.drop_calendar('holidays')");
    assert.equal(drop.code, SQLSTATE.invalid_state);
    assert.match(drop.message, /is excluded by 1 jobs of other roles/);
  });

  test("a change re-plans the next slot of the schedules that exclude it", async () => {
    await define(alice, { name: "daily", time_zone: "UTC", schedules: [{ cron: "0 9 * * *", exclude: { calendars: ["holidays"] } }], steps: [{ name: "a", sql: "select 1" }] });
    const next = async () => ((await db.query("select next_fire_at from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where j.name = 'daily'")).rows[0].next_fire_at as Date).toISOString();
    await db.query("update clockwork.schedules s set next_fire_at = '2031-12-24T09:00Z', last_slot_at = '2031-12-23T09:00Z' from clockwork.jobs j where j.id = s.job_id and j.name = 'daily'");
    // Christmas Eve becomes a holiday too: the next slot moves past the three of them.
    await alice.query("select clockwork.alter_calendar('holidays', add_dates => array['2031-12-24']::date[], now => '2031-12-23T12:00Z')");
    assert.equal(await next(), "2031-12-27T09:00:00.000Z");
    // And back: removing a date brings its slot back.
    await alice.query("select clockwork.alter_calendar('holidays', remove_dates => array['2031-12-24', '2031-12-26']::date[], now => '2031-12-23T12:00Z')");
    assert.equal(await next(), "2031-12-24T09:00:00.000Z");
  });
});
