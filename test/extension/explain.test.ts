// clockwork.explain(job, at): "why didn't my job run?" answered for every case, with
// pinned time.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { adminQuery } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, sqlErrorOf, tick } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

describe("explain", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    await db.query("insert into clockwork.calendars (name, dates) values ('holidays', '{2043-12-25}')");
    await defineJob(db, {
      name: "report", time_zone: "Europe/Berlin",
      schedules: [{ cron: "0 9,17 * * *", exclude: { calendars: ["holidays"], times: ["09:00"] } }],
      steps: [{ name: "a", shell: "true" }],
    }, "2043-12-01T00:00:00Z");
    await defineJob(db, {
      name: "hourly", schedules: ["0 * * * *"], steps: [{ name: "a", shell: "sleep 600" }],
    }, "2043-01-01T00:30:00Z");
  });
  after(async () => {
    await db.drop();
  });

  const explain = async (job: string, at: string, now = "2043-06-01T00:00:00Z") =>
    (await db.query("select clockwork.explain($1, $2, $3) as e", [job, at, now])).rows[0].e;

  test("a slot that ran: it names the run and how it ended", async () => {
    const claim = (await tick(db.pool, "w1", "2043-01-01T01:00:00Z")).claimed.find((c) => c.job === "hourly")!;
    await db.query("select clockwork.complete_step($1, 'w1', 0, '', '', null, '2043-01-01T01:00:05Z')", [claim.step_run_id]);
    const e = await explain("hourly", "2043-01-01T01:00:00Z");
    assert.equal(e.outcome, "ran");
    assert.equal(String(e.run.id), claim.run_id);
    assert.equal(e.run.state, "succeeded");
    assert.match(e.text, new RegExp(`became run ${claim.run_id}, which succeeded`));
  });

  test("a slot that was skipped: the reason in words, also inside a range of skipped slots", async () => {
    // Nothing ticks until 05:30: 02:00 … 05:00 were missed (misfire skip): one range row.
    await tick(db.pool, "w1", "2043-01-01T05:30:00Z", 0);
    const e = await explain("hourly", "2043-01-01T03:00:00Z");
    assert.equal(e.outcome, "skipped");
    assert.equal(e.skip.reason, "misfire_skipped");
    assert.deepEqual([e.skip.slot_at, e.skip.last_slot_at, e.skip.slots], ["2043-01-01T02:00:00.000Z", "2043-01-01T05:00:00.000Z", 4]);
    assert.match(e.text, /missed while no supervisor was running/);
    assert.match(e.text, /one of 4 consecutive slots/);
    // 03:30 lies inside the range but is no slot of the schedule.
    assert.equal((await explain("hourly", "2043-01-01T03:30:00Z")).outcome, "not_a_slot");
  });

  test("a slot skipped because an earlier run was still going", async () => {
    await tick(db.pool, "w1", "2043-01-01T06:00:00Z");
    await tick(db.pool, "w1", "2043-01-01T07:00:00Z", 0);
    const e = await explain("hourly", "2043-01-01T07:00:00Z");
    assert.equal(e.outcome, "skipped");
    assert.equal(e.skip.reason, "overlap_skipped");
    assert.match(e.text, /an earlier run of the job was still going \(overlap: skip\)/);
  });

  test("a time removed by a calendar, a date or a time of day is 'excluded', with which one", async () => {
    let e = await explain("report", "2043-12-25T08:00:00Z");
    assert.equal(e.outcome, "excluded");
    assert.match(e.excluded_by, /calendar "holidays" \(2043-12-25\)/);
    // The times exclusion removes 09:00 every day: any day's 09:00 Berlin is excluded by it.
    e = await explain("report", "2043-12-10T08:00:00Z");
    assert.equal(e.outcome, "excluded");
    assert.match(e.excluded_by, /time of day 09:00:00/);
  });

  test("a time that is no slot: the nearest slots before and after", async () => {
    const e = await explain("hourly", "2043-03-03T10:17:00Z");
    assert.equal(e.outcome, "not_a_slot");
    assert.deepEqual(e.nearest, {
      before: { slot_at: "2043-03-03T10:00:00.000Z", schedule: 0 },
      after: { slot_at: "2043-03-03T11:00:00.000Z", schedule: 0 },
    });
    assert.match(e.text, /not a slot of any schedule/);
  });

  test("a future slot will fire; a disabled job's will not", async () => {
    assert.equal((await explain("hourly", "2043-07-01T10:00:00Z")).outcome, "will_fire");
    await db.query("select clockwork.disable_job('hourly')");
    const e = await explain("hourly", "2043-07-01T10:00:00Z");
    assert.equal(e.outcome, "will_not_fire");
    assert.match(e.text, /the job is disabled/);
    await db.query("select clockwork.enable_job('hourly', '2043-01-01T07:30:00Z')");
  });

  test("a past slot nothing was recorded for says why that can be; a due one says it is due", async () => {
    assert.equal((await explain("hourly", "2042-12-31T10:00:00Z")).outcome, "not_recorded");
    assert.equal((await explain("hourly", "2043-01-01T08:00:00Z", "2043-01-01T08:00:10Z")).outcome, "due");
  });

  test("someone else's job does not exist for explain; bad times are refused", async () => {
    await adminQuery("do $$ begin create role cw_stranger login; exception when duplicate_object then null; end $$");
    const stranger = await db.connect({ user: "cw_stranger" });
    const error = await sqlErrorOf(stranger, "select clockwork.explain('hourly', now())");
    assert.equal(error.code, SQLSTATE.not_found);
    const bad = await sqlErrorOf(db.pool, "select clockwork.explain('hourly', 'infinity')");
    assert.equal(bad.code, SQLSTATE.invalid_argument);
    assert.match(bad.message, /at must be a finite timestamp/);
  });
});
