// The database side of definitions as code: apply_job keeps a definition's text and marks
// the job as managed by a set of files; job_definitions shows both; a dedicated worker
// (clockwork run's in-process supervisor) claims only the jobs pinned to it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { registerWorker, sqlErrorOf, tick, withClockworkDatabase } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

const SOURCE = `# nightly report, kept in git
name: report
steps:
  # the order below is the author's, not jsonb's
  zeta: { sql: select 1 }
  alpha: { sql: select 2, depends: [zeta] }
`;
const DEFINITION = { name: "report", steps: { zeta: { sql: "select 1" }, alpha: { sql: "select 2", depends: ["zeta"] } } };

describe("definitions as code in the database", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  const current = async (job: string) =>
    (await db.query("select version, source, managed_by, applied_from from clockwork.job_definitions where job = $1", [job])).rows[0];

  test("apply_job keeps the text as written and marks the job as managed by its set", async () => {
    await db.query("select clockwork.apply_job($1::jsonb, $2, 'ops')", [JSON.stringify(DEFINITION), SOURCE]);
    const row = await current("report");
    assert.equal(row.version, 1);
    assert.equal(row.source, SOURCE, "comments and step order survive");
    assert.equal(row.managed_by, "ops");
    assert.equal(row.applied_from, "ops");
  });

  test("the same definition with other comments keeps its version and takes the new text", async () => {
    const edited = SOURCE.replace("kept in git", "kept in git (reviewed)");
    await db.query("select clockwork.apply_job($1::jsonb, $2, 'ops')", [JSON.stringify(DEFINITION), edited]);
    const row = await current("report");
    assert.equal(row.version, 1);
    assert.equal(row.source, edited);
  });

  test("a change made by SQL is a new version with no applied_from: drift", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ ...DEFINITION, description: "by hand" })]);
    const row = await current("report");
    assert.equal(row.version, 2);
    assert.equal(row.source, null, "jsonb keeps no text");
    assert.equal(row.applied_from, null);
    assert.equal(row.managed_by, "ops", "the job stays managed by its files");
  });

  test("define_job(text) keeps its text too", async () => {
    const text = "# by hand\nname: adhoc\nsteps:\n  b: { sql: select 1 }\n  a: { sql: select 2 }\n";
    await db.query("select clockwork.define_job($1::text)", [text]);
    const row = await current("adhoc");
    assert.equal(row.source, text);
    assert.equal(row.managed_by, null, "made by SQL: no set manages it");
  });

  test("a bad set name is refused with the field named", async () => {
    const e = await sqlErrorOf(db, "select clockwork.apply_job($1::jsonb, 'x', '../etc')", [JSON.stringify(DEFINITION)]);
    assert.equal(e.code, SQLSTATE.invalid_argument);
    assert.match(e.message, /managed_by: set name "..\/etc"/);
  });

  test("a dedicated worker claims only the steps pinned to it and fires no slot", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "everyone", steps: { s: { sql: "select 1" } } })]);
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "mine", node: "runner-1", steps: { s: { sql: "select 1" } } })]);
    await db.query("select clockwork.define_job($1::jsonb, '2020-01-01T00:00Z')", [JSON.stringify({ name: "scheduled", schedules: ["* * * * *"], steps: { s: { sql: "select 1" } } })]);
    const nextFire = async () => (await db.query("select next_fire_at from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where j.name = 'scheduled'")).rows[0].next_fire_at.toISOString();
    await db.query("select clockwork.run_now('everyone'), clockwork.run_now('mine')");
    await db.query("select clockwork.register_dedicated_worker('runner-1')");
    const now = new Date(Date.now() + 1000).toISOString();
    const claimed = await tick(db, "runner-1", now);
    assert.deepEqual(claimed.claimed.map((c) => c.job), ["mine"]);
    assert.equal(await nextFire(), "2020-01-01T00:01:00.000Z", "the due slot of 'scheduled' was left to the regular supervisors");
    // A regular worker takes the rest, never the pinned job, and fires the slot.
    await registerWorker(db, "regular");
    const other = await tick(db, "regular", now);
    assert.ok(other.claimed.some((c) => c.job === "everyone"));
    assert.ok(!other.claimed.some((c) => c.job === "mine"));
    assert.ok(new Date(await nextFire()) > new Date(now), "the regular worker handled the missed slots");
  });

  test("a dedicated worker is no scheduler start: @reboot jobs wait for a real supervisor", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "at-boot", schedules: ["@reboot"], steps: { s: { sql: "select 1" } } })]);
    await db.query("update clockwork.workers set stopped_at = now()"); // nobody alive
    await db.query("select clockwork.register_dedicated_worker('runner-2')");
    const after = await db.query("select next_fire_at from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where j.name = 'at-boot'");
    assert.equal(after.rows[0].next_fire_at, null);
    await registerWorker(db, "real");
    const started = await db.query("select next_fire_at from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where j.name = 'at-boot'");
    assert.notEqual(started.rows[0].next_fire_at, null);
  });
});
