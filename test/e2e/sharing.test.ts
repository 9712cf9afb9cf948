// End to end: three supervisors share a load of many jobs; every schedule slot runs
// exactly once, and the work is spread over the supervisors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, sleep, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();
const SQL_JOBS = 20;
const SHELL_JOBS = 10;

describe("three supervisors share many jobs", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_sharing" });
    dir = mkdtempSync(join(tmpdir(), "cw-sharing-"));
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("every slot of every job runs exactly once, spread over the supervisors", async () => {
    const ledger = join(dir, "shell-runs");
    writeFileSync(ledger, "");
    await db.query("CREATE TABLE executions (job text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    const supervisors = ["share-1", "share-2", "share-3"].map((name) => startSupervisor(db.url, { name, args: ["--concurrency", "6"] }));
    await Promise.all(supervisors.map((s) => s.waitForLog("registration", (l) => l.msg === "worker registered", 60_000)));

    // Overlapping runs are allowed: a slow run under load must not make the next slot skip.
    const policies = { overlap: { mode: "allow", max_instances: 10 } };
    for (let i = 0; i < SQL_JOBS; i++) {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: `sql-${i}`, schedules: ["* * * * * *"], policies,
        steps: [{ name: "main", sql: `INSERT INTO executions (job) VALUES ('sql-${i}')` }],
      })]);
    }
    for (let i = 0; i < SHELL_JOBS; i++) {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: `sh-${i}`, schedules: ["* * * * * *"], policies,
        steps: [{ name: "main", shell: `echo "$CLOCKWORK_RUN_ID" >> ${ledger}` }],
      })]);
    }
    await sleep(6000);
    for (let i = 0; i < SQL_JOBS; i++) await db.query("SELECT clockwork.disable_job($1)", [`sql-${i}`]);
    for (let i = 0; i < SHELL_JOBS; i++) await db.query("SELECT clockwork.disable_job($1)", [`sh-${i}`]);
    await waitFor("all runs to finish", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0, 20_000);
    await Promise.all(supervisors.map((s) => s.stop()));

    // Per job: the slots form an unbroken series of seconds, one run each, all succeeded.
    const perJob = (await db.query(`
      SELECT j.name AS job, count(*)::int AS runs, count(DISTINCT r.slot_at)::int AS slots,
             (extract(epoch FROM max(r.slot_at) - min(r.slot_at)))::int + 1 AS span,
             count(*) FILTER (WHERE r.state <> 'succeeded')::int AS not_succeeded
        FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id
       GROUP BY j.name ORDER BY j.name`)).rows;
    const skippedSlots = (await db.query("SELECT * FROM clockwork.skipped_slots")).rows;
    assert.equal(perJob.length, SQL_JOBS + SHELL_JOBS);
    for (const job of perJob) {
      assert.ok(job.runs >= 4, `${job.job}: ${job.runs} runs`);
      assert.equal(job.slots, job.runs, `${job.job}: one run per slot`);
      assert.equal(job.span, job.slots, `${job.job}: no slot missing between the first and the last (skipped: ${JSON.stringify(skippedSlots)})`);
      assert.equal(job.not_succeeded, 0, `${job.job}: every run succeeded`);
    }
    assert.deepEqual(skippedSlots, [], "no slot was skipped");

    // Each step ran once: one attempt per run, one execution per SQL run, one ledger line per shell run.
    const attempts = (await db.query("SELECT count(*)::int AS n FROM clockwork.step_runs WHERE attempt > 1")).rows[0].n;
    assert.equal(attempts, 0, "no step needed a second attempt");
    const sqlCounts = (await db.query(`
      SELECT j.name AS job, count(DISTINCT r.id)::int AS runs, (SELECT count(*)::int FROM executions e WHERE e.job = j.name) AS executions
        FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'sql-%' GROUP BY j.name`)).rows;
    for (const row of sqlCounts) assert.equal(row.executions, row.runs, `${row.job}: SQL step executed once per run`);
    const shellRunIds = (await db.query(`
      SELECT r.id FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'sh-%' ORDER BY r.id`)).rows.map((r) => String(r.id));
    const ledgerIds = readFileSync(ledger, "utf8").trim().split("\n").sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(ledgerIds, shellRunIds, "each shell run executed exactly once");

    // The load was shared (history keeps the worker's name: the stopped workers' rows are gone).
    const workers = (await db.query(`
      SELECT worker_name AS name, count(*)::int AS steps FROM clockwork.step_runs GROUP BY worker_name`)).rows;
    assert.ok(workers.length >= 2, `work spread over supervisors: ${JSON.stringify(workers)}`);
  });
});
