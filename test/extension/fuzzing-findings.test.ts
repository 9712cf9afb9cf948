// What differential checks and fuzzing found, through the SQL API: each input refused with
// a Clockwork error naming the field (it reached the database as XX000), a never-firing
// schedule refused at definition time, historic zone offsets to the second, and next_runs
// agreeing with job_status.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, sqlErrorOf, withClockworkDatabase } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { sqlFunctions } from "../../extension/src/functions/index.ts";
import { splitArguments } from "../../extension/src/db/sql-function.ts";

describe("fuzzing findings, through the SQL API", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  const define = (definition: object) => sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
  const stored = async (name: string) => (await db.query("select count(*)::int as n from clockwork.jobs where name = $1", [name])).rows[0].n;

  test("a schedule whose every slot is excluded is refused at definition time, and nothing is stored", async () => {
    const error = await define({
      name: "never", steps: [{ name: "a", sql: "select 1" }],
      schedules: [{ cron: "0 0 * * *", time_zone: "Europe/Berlin", exclude: { times: ["00:00"] } }],
    });
    assert.equal(error.code, SQLSTATE.invalid_schedule);
    assert.match(error.message, /^schedules\[0\]: never fires: its exclusions remove every slot/);
    assert.equal(await stored("never"), 0);
  });

  test("out-of-range intervals and timestamps are Clockwork errors naming the field", async () => {
    for (const [schedule, field] of [
      ["@every 99999999999999999999s", /^schedules\[0\]: @every: interval .* is too long/],
      [`@after ${"9".repeat(300)}s`, /^schedules\[0\]: @after: interval .* is too long/],
      [{ cron: "* * * * *", starts_at: 1e16 }, /^schedules\[0\]\.starts_at: 10000000000000000 is out of range/],
      [{ at: 1e16 }, /^schedules\[0\]\.at: at: 10000000000000000 is out of range/],
      [{ every: "0.5ms", anchor: -1e16 }, /^schedules\[0\]\.every: @every: interval "0.5ms" is not a whole number of milliseconds/],
    ] as const) {
      const error = await define({ name: "bad", steps: [{ name: "a", sql: "select 1" }], schedules: [schedule] });
      assert.equal(error.code, SQLSTATE.invalid_schedule, JSON.stringify(schedule));
      assert.match(error.message, field);
    }
  });

  test("a YAML text with several documents is a definition error, not an internal one", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::text)", ["name: a\n---\nname: b\n"]);
    assert.equal(error.code, SQLSTATE.invalid_definition);
    assert.match(error.message, /not valid YAML: expected a single document/);
  });

  test("next_runs refuses an infinite now", async () => {
    await defineJob(db, { name: "hourly", schedules: ["0 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    const error = await sqlErrorOf(db.pool, "select * from clockwork.next_runs('hourly', 3, 'infinity')");
    assert.equal(error.code, SQLSTATE.invalid_argument);
    assert.match(error.message, /now must be a finite timestamp/);
  });

  test("define_job at an infinite or NULL now is refused naming now, and nothing is stored", async () => {
    const definition = JSON.stringify({ name: "at-infinity", schedules: ["*/5 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    for (const now of ["infinity", "-infinity", null]) {
      const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb, $2::timestamptz)", [definition, now]);
      assert.equal(error.code, SQLSTATE.invalid_argument, String(now));
      assert.equal(error.message, "now: now must be a finite timestamp");
    }
    assert.equal(await stored("at-infinity"), 0);
  });

  test("every function refuses an infinite timestamptz argument, and a NULL one unless NULL means something there", async () => {
    // Dummy values for the other arguments: the check comes before the body reads them.
    const dummy: Record<string, string | null> = { text: "x", bigint: "1", integer: "1", jsonb: "{}", boolean: "false", timestamptz: "2040-01-01T00:00:00Z" };
    let checked = 0;
    for (const fn of sqlFunctions) {
      const args = splitArguments(fn.args).map((a) => ({ name: a.split(/\s+/)[0]!, type: a.split(/\s+/)[1]!.toLowerCase() }));
      const call = `select clockwork.${fn.name}(${args.map((a, i) => `$${i + 1}::${a.type}`).join(", ")})`;
      for (const [at, arg] of args.entries()) {
        if (arg.type !== "timestamptz") continue;
        const values = [...(fn.nullableInstants?.includes(arg.name) || fn.strict ? [] : [null]), "infinity", "-infinity"];
        for (const value of values) {
          const params = args.map((a, i) => (i === at ? value : dummy[a.type]!));
          const error = await sqlErrorOf(db.pool, call, params);
          assert.deepEqual([error.code, error.message], [SQLSTATE.invalid_argument, `${arg.name}: ${arg.name} must be a finite timestamp`], `${fn.name}(${arg.name} => ${value})`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 40, `checked ${checked} calls`);
  });

  test("historic offsets change at odd seconds: Berlin's 1893 switch from local mean time to CET", async () => {
    // Local mean time was +00:53:28 until 1893-04-01 00:00 LMT (1893-03-31T23:06:32Z); clocks
    // then jumped 6 min 32 s, so local 00:00 on that day did not exist (gap: shift fires at
    // the transition itself).
    // 00:05 lies in that gap: it fires at the transition, to the second (found to the minute,
    // the transition was 23:07:00Z and the slot 28 s late).
    await defineJob(db, { name: "lmt", time_zone: "Europe/Berlin", schedules: ["0 12 31 3 *", "5 0 1 4 *", "0 7 0 1 4 *"], steps: [{ name: "a", sql: "select 1" }] });
    const { rows } = await db.query("select fire_at from clockwork.next_runs('lmt', 3, '1893-03-01T00:00Z') order by fire_at");
    assert.deepEqual(rows.map((r) => r.fire_at.toISOString()), ["1893-03-31T11:06:32.000Z", "1893-03-31T23:06:32.000Z", "1893-03-31T23:07:00.000Z"]);
  });

  test("next_runs shows an @after job's next slot, as job_status does, and names each schedule as written", async () => {
    await defineJob(db, { name: "after", schedules: ["@after 30s", "0 9 * * 1,3"], steps: [{ name: "a", sql: "select 1" }] }, "2040-01-01T00:00:00Z");
    const status = await db.query("select next_fire_at from clockwork.job_status where job = 'after'");
    const { rows } = await db.query("select fire_at, schedule, description, schedule_position from clockwork.next_runs('after', 2, '2040-01-01T00:00:00Z')");
    assert.deepEqual(rows.map((r) => [r.fire_at.toISOString(), r.schedule, r.description, r.schedule_position]), [
      ["2040-01-01T00:00:30.000Z", "@after 30s", "30 seconds after the previous run ends", 0],
      ["2040-01-02T09:00:00.000Z", "0 9 * * 1,3", "at 09:00 on Monday or Wednesday", 1],
    ]);
    assert.equal(status.rows[0].next_fire_at.toISOString(), rows[0].fire_at.toISOString());
  });
});
