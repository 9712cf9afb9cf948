// Firing with pinned time: tick is given `now`, so these tests never sleep.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, registerWorker, runsOf, sqlErrorOf, tick, withClockworkDatabase } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

describe("firing schedules", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("a due slot becomes exactly one run, and ticking again does not refire it", async () => {
    await defineJob(db, { name: "every-minute", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] }, "2030-01-01T00:00:30Z");
    await tick(db.pool, "w1", "2030-01-01T00:01:00.500Z", 0);
    await tick(db.pool, "w1", "2030-01-01T00:01:00.700Z", 0);
    await tick(db.pool, "w1", "2030-01-01T00:01:30Z", 0);
    const runs = await runsOf(db.pool, "every-minute");
    assert.deepEqual(runs.map((r) => iso(r.slot_at)), ["2030-01-01T00:01:00.000Z"]);
    assert.equal(runs[0]!.trigger, "schedule");
  });

  test("tick returns the next due time so a supervisor can sleep until then", async () => {
    await defineJob(db, { name: "far-future", schedules: ["0 0 1 1 *"], steps: [{ name: "a", sql: "select 1" }] }, "2030-01-01T00:00:30Z");
    // Claiming the ready step leaves only schedules (and its lease, ending 00:02:01) due.
    const result = await tick(db.pool, "w1", "2030-01-01T00:01:31Z", 100);
    assert.equal(result.claimed.length, 1);
    // every-minute is due next at 00:02:00
    assert.equal(result.next_due_at && new Date(result.next_due_at).toISOString(), "2030-01-01T00:02:00.000Z");
  });

  test("misfire skip: slots missed during an outage are recorded as skipped, not run", async () => {
    await defineJob(db, {
      name: "misfire-skip", schedules: ["*/10 * * * *"], policies: { misfire: "skip" },
      steps: [{ name: "a", sql: "select 1" }],
    }, "2030-02-01T00:00:00Z");
    // Nothing ticked from 00:00 to 00:35: 00:10, 00:20, 00:30 were missed (grace 60 s).
    await tick(db.pool, "w1", "2030-02-01T00:35:00Z", 0);
    assert.deepEqual(await runsOf(db.pool, "misfire-skip"), []);
    // One row for the three consecutive slots skipped for one reason.
    const { rows } = await db.query(
      `select k.slot_at, k.last_slot_at, k.slots, k.reason from clockwork.skipped_slots k join clockwork.schedules s on s.id = k.schedule_id
         join clockwork.jobs j on j.id = s.job_id where j.name = 'misfire-skip' order by k.slot_at`);
    assert.deepEqual(rows.map((r) => [iso(r.slot_at), iso(r.last_slot_at), r.slots, r.reason]), [
      ["2030-02-01T00:10:00.000Z", "2030-02-01T00:30:00.000Z", 3, "misfire_skipped"],
    ]);
    const next = await db.query("select next_fire_at from clockwork.job_status where job = 'misfire-skip'");
    assert.equal(iso(next.rows[0].next_fire_at), "2030-02-01T00:40:00.000Z");
  });

  test("misfire all: every missed slot runs, capped by max_count", async () => {
    await defineJob(db, {
      name: "misfire-all", schedules: ["*/10 * * * *"],
      policies: { misfire: { policy: "all", max_count: 2 }, overlap: { mode: "allow", max_instances: 10 } },
      steps: [{ name: "a", sql: "select 1" }],
    }, "2030-03-01T00:00:00Z");
    await tick(db.pool, "w1", "2030-03-01T00:35:00Z", 0);
    const runs = await runsOf(db.pool, "misfire-all");
    assert.deepEqual(runs.map((r) => iso(r.slot_at)), ["2030-03-01T00:20:00.000Z", "2030-03-01T00:30:00.000Z"]);
  });

  test("overlap skip: a slot due while the previous run is active is skipped", async () => {
    await defineJob(db, {
      name: "overlap-skip", schedules: ["* * * * *"], policies: { overlap: "skip" },
      steps: [{ name: "a", sql: "select 1" }],
    }, "2030-04-01T00:00:30Z");
    await tick(db.pool, "w1", "2030-04-01T00:01:00Z", 0); // run 1 queued, never claimed
    await tick(db.pool, "w1", "2030-04-01T00:02:00Z", 0); // still active: skip
    const runs = await runsOf(db.pool, "overlap-skip");
    assert.equal(runs.length, 1);
    const { rows } = await db.query(
      `select reason from clockwork.skipped_slots k join clockwork.schedules s on s.id = k.schedule_id
         join clockwork.jobs j on j.id = s.job_id where j.name = 'overlap-skip'`);
    assert.deepEqual(rows.map((r) => r.reason), ["overlap_skipped"]);
  });

  test("DST: a daily 02:30 in Europe/Berlin fires after the spring-forward gap and once on fall-back", async () => {
    await defineJob(db, {
      name: "berlin-0230", time_zone: "Europe/Berlin", schedules: ["30 2 * * *"],
      policies: { misfire: { policy: "all" }, overlap: { mode: "allow", max_instances: 100 } },
      steps: [{ name: "a", sql: "select 1" }],
    }, "2030-03-30T12:00:00Z");
    // 2030-03-31: clocks jump 02:00 → 03:00 CEST; 02:30 does not exist → fires at 03:00 CEST = 01:00Z.
    await tick(db.pool, "w1", "2030-03-31T01:00:00.100Z", 0);
    // 2030-10-27: 02:30 happens twice (CEST then CET); default fires at the first, 00:30Z.
    await db.query("select clockwork.disable_job('berlin-0230')");
    await db.query("select clockwork.enable_job('berlin-0230', '2030-10-26T12:00:00Z')");
    await tick(db.pool, "w1", "2030-10-27T00:30:00.100Z", 0);
    await tick(db.pool, "w1", "2030-10-27T01:30:00.100Z", 0);
    const runs = await runsOf(db.pool, "berlin-0230");
    assert.deepEqual(runs.map((r) => iso(r.slot_at)), ["2030-03-31T01:00:00.000Z", "2030-10-27T00:30:00.000Z"]);
  });

  test("a disabled job does not fire; enabling it does not catch up", async () => {
    await defineJob(db, { name: "toggled", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] }, "2030-05-01T00:00:30Z");
    await db.query("select clockwork.disable_job('toggled')");
    await tick(db.pool, "w1", "2030-05-01T00:05:00Z", 0);
    assert.deepEqual(await runsOf(db.pool, "toggled"), []);
    await db.query("select clockwork.enable_job('toggled', '2030-05-01T00:05:10Z')");
    await tick(db.pool, "w1", "2030-05-01T00:06:00.100Z", 0);
    const runs = await runsOf(db.pool, "toggled");
    assert.deepEqual(runs.map((r) => iso(r.slot_at)), ["2030-05-01T00:06:00.000Z"]);
  });

  test("tick refuses an unknown worker", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.tick('nobody')");
    assert.equal(error.code, SQLSTATE.unknown_worker);
  });
});

describe("event schedules", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test("@after fires a fixed delay after the previous run ended", async () => {
    const t0 = Date.parse("2035-01-01T00:00:00Z");
    await registerWorker(db.pool, "w1");
    await defineJob(db, { name: "after", schedules: ["@after 10m"], steps: [{ name: "a", shell: "true" }] }, new Date(t0).toISOString());
    const first = await db.query("select next_fire_at from clockwork.job_status where job = 'after'");
    assert.equal(iso(first.rows[0].next_fire_at), "2035-01-01T00:10:00.000Z", "first delay counts from the definition");
    const claim = (await tick(db.pool, "w1", new Date(t0 + 600_000))).claimed[0]!;
    const waiting = await db.query("select next_fire_at from clockwork.job_status where job = 'after'");
    assert.equal(waiting.rows[0].next_fire_at, null, "nothing is due while the run goes on");
    // The run ends at 00:10:20 (within its lease): the next slot is 00:20:20.
    const done = await db.query("select clockwork.complete_step($1, 'w1', 0, '', '', null, $2) as r", [claim.step_run_id, new Date(t0 + 620_000)]);
    assert.equal(done.rows[0].r.run_state, "succeeded");
    const next = await db.query("select next_fire_at from clockwork.job_status where job = 'after'");
    assert.equal(iso(next.rows[0].next_fire_at), "2035-01-01T00:20:20.000Z");
  });

  test("re-enabling an @after job counts its delay from the moment it is enabled", async () => {
    await db.query("select clockwork.disable_job('after')");
    await db.query("select clockwork.enable_job('after', '2035-01-02T00:00:00Z')");
    const next = await db.query("select next_fire_at from clockwork.job_status where job = 'after'");
    assert.equal(iso(next.rows[0].next_fire_at), "2035-01-02T00:10:00.000Z");
  });

  test("@reboot fires once when a scheduler starts, not when a second worker joins", async () => {
    await defineJob(db, { name: "on-boot", schedules: ["@reboot"], steps: [{ name: "a", sql: "select 1" }] });
    const before = await db.query("select next_fire_at from clockwork.job_status where job = 'on-boot'");
    assert.equal(before.rows[0].next_fire_at, null);
    // w1 from the previous test is alive (heartbeat within the lease): joining is no start.
    await db.query("select clockwork.register_worker('w2')");
    assert.equal((await db.query("select next_fire_at from clockwork.job_status where job = 'on-boot'")).rows[0].next_fire_at, null);
    // Every worker stops; the next one to register is a start.
    await db.query("select clockwork.release_worker('w1'), clockwork.release_worker('w2')");
    await db.query("select clockwork.register_worker('w3')");
    await tick(db.pool, "w3", new Date(), 0);
    await tick(db.pool, "w3", new Date(), 0);
    const runs = await runsOf(db.pool, "on-boot");
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.trigger, "schedule");
  });
});
