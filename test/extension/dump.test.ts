// pg_dump keeps definitions and history: they are the user's data, not the extension's.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pgConfig } from "../support/cluster.ts";
import { clusterEnv, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, tick } from "./helpers.ts";

const bindir = pgConfig("--bindir");

describe("pg_dump and restore", () => {
  let source: TestDatabase;
  let target: TestDatabase;
  before(async () => {
    source = await clockworkDatabase();
    target = await createTestDatabase({ prefix: "restored" });
  });
  after(async () => {
    await source.drop();
    await target.drop();
  });

  test("a restored database has the jobs, versions and run history, and ids continue", async () => {
    await defineJob(source, { name: "kept", schedules: ["*/5 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    await defineJob(source, { name: "kept", schedules: ["*/10 * * * *"], steps: [{ name: "a", sql: "select 2" }] });
    await registerWorker(source.pool, "w");
    await source.query("select clockwork.run_now('kept')");
    await tick(source.pool, "w", new Date());

    const { host, port, user } = clusterEnv();
    const dump = execFileSync(join(bindir, "pg_dump"), ["-h", host, "-p", String(port), "-U", user, "--no-owner", source.name], { encoding: "utf8" });
    execFileSync(join(bindir, "psql"), ["-h", host, "-p", String(port), "-U", user, "-v", "ON_ERROR_STOP=1", "-q", "-d", target.name], {
      input: dump,
      encoding: "utf8",
    });

    const jobs = await target.query("select name, version from clockwork.jobs");
    assert.deepEqual(jobs.rows, [{ name: "kept", version: 2 }]);
    const versions = await target.query("select count(*)::int as n from clockwork.job_versions");
    assert.equal(versions.rows[0].n, 2);
    const runs = await target.query("select state from clockwork.run_history where job = 'kept'");
    assert.equal(runs.rows.length, 1);
    const steps = await target.query("select state from clockwork.step_runs");
    assert.deepEqual(steps.rows, [{ state: "running" }]);
    const schedule = await target.query("select schedules, next_fire_at is not null as scheduled from clockwork.job_status where job = 'kept'");
    assert.equal(schedule.rows[0].scheduled, true);
    // Identity sequences were restored too: a new job does not collide with restored ids.
    await defineJob(target, { name: "new-after-restore", steps: [{ name: "a", sql: "select 1" }] });
    await target.query("select clockwork.run_now('kept')");
    const ids = await target.query("select count(*)::int as n from clockwork.runs");
    assert.equal(ids.rows[0].n, 2);
  });
});
