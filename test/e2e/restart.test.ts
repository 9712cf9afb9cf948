// End to end on a cluster of its own (it is restarted): a supervisor waits for a database
// that is starting, and a PostgreSQL restart in the middle of a busy stretch loses no run
// and doubles none.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { MAX_LOST_LEASES } from "../../extension/src/db/lifecycle.ts";
import { connect, extensionMissing, pool, sleep, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("database restarts", { skip: missing ?? false }, () => {
  let cluster: Cluster;
  let dir: string;

  before(async () => {
    // synchronous_commit as in production: with it off (the test clusters' speed setting) an
    // immediate restart can lose a claim the server already acknowledged, and these tests are
    // about what the scheduler does, not about that setting (test/chaos does the same).
    cluster = await startCluster({ settings: { synchronous_commit: "on" } });
    dir = mkdtempSync(join(tmpdir(), "cw-restart-"));
    const client = await connect(cluster.url("postgres"));
    await client.query(installClockworkSql);
    await client.query("CREATE TABLE executions (job text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    await client.end();
  });

  after(async () => {
    await stopAllSupervisors();
    cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a supervisor started before the database waits for it, then registers", async () => {
    cluster.pgCtl("stop", "-m", "fast");
    const sup = startSupervisor(cluster.url("postgres"), { name: "early-bird" });
    try {
      await sup.waitForLog("a refused connection", (l) => l.msg === "database not available yet; retrying");
      const port = await sup.port();
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503, "not ready without a database");
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, "but alive");
      cluster.pgCtl("start");
      await sup.waitForLog("registration", (l) => l.msg === "worker registered", 20_000);
      await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
    } finally {
      assert.equal(await sup.stop(), 0);
    }
  });

  test("a PostgreSQL restart in a busy stretch loses no run and doubles none", async () => {
    const ledger = join(dir, "shell-runs");
    writeFileSync(ledger, "");
    const client = await connect(cluster.url("postgres"));
    const jobs = ["sql-a", "sql-b", "sql-c", "sh-a", "sh-b"];
    // Misfire "all" with a long grace: slots that fall due while the database is down run late, not never.
    // Runs may overlap freely: on a loaded machine more than ten pile up around the restart,
    // and a slot skipped by max_instances would be a policy decision, not the loss this test looks for.
    const policies = { overlap: { mode: "allow_all" }, misfire: { policy: "all", grace: "5m" } };
    for (const job of jobs) {
      const step = job.startsWith("sql")
        ? { name: "main", sql: `INSERT INTO executions (job) VALUES ('${job}')` }
        : { name: "main", shell: `sleep 0.3; echo "$CLOCKWORK_RUN_ID" >> ${ledger}` };
      await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: job, schedules: ["* * * * * *"], policies, steps: [step] })]);
    }
    await client.end();

    const supervisors = ["restart-1", "restart-2"].map((name) => startSupervisor(cluster.url("postgres"), { name }));
    await Promise.all(supervisors.map((s) => s.waitForLog("registration", (l) => l.msg === "worker registered")));
    await sleep(3000);
    cluster.pgCtl("restart", "-m", "fast");
    await sleep(4000);

    const after = pool(cluster.url("postgres"));
    try {
      for (const job of jobs) await after.query("SELECT clockwork.disable_job($1)", [job]);
      try {
        await waitFor("all runs to finish", async () =>
          (await after.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0, 30_000);
      } catch (error) {
        const stuck = (await after.query(`SELECT r.id, r.state, s.id AS step_run, s.attempt, s.state AS step_state, s.worker_id, s.lease_expires_at, s.ready_at
          FROM clockwork.runs r LEFT JOIN clockwork.step_runs s ON s.run_id = r.id WHERE r.finished_at IS NULL`)).rows;
        const ids = new Set(stuck.map((r) => String(r.id)));
        const logs = supervisors.flatMap((s) => s.logs.filter((l) => ids.has(String(l.run)) || l.level === "error" || l.level === "warn").map((l) => ({ sup: s.name, ...l })));
        throw new Error(`${(error as Error).message}\nstuck: ${JSON.stringify(stuck)}\nlogs: ${JSON.stringify(logs).slice(0, 6000)}`);
      }
      for (const s of supervisors) {
        assert.equal(s.child.exitCode, null, `${s.name} survived the restart`);
        assert.ok(s.logs.some((l) => l.msg === "LISTEN connection restored"), `${s.name} listens again`);
      }
      await Promise.all(supervisors.map((s) => s.stop()));

      const perJob = (await after.query(`
        SELECT j.name AS job, count(*)::int AS runs, count(DISTINCT r.slot_at)::int AS slots,
               (extract(epoch FROM max(r.slot_at) - min(r.slot_at)))::int + 1 AS span,
               count(*) FILTER (WHERE r.state <> 'succeeded')::int AS not_succeeded
          FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id GROUP BY j.name ORDER BY j.name`)).rows;
      const skipped = (await after.query("SELECT * FROM clockwork.skipped_slots")).rows;
      assert.equal(perJob.length, jobs.length);
      for (const job of perJob) {
        assert.ok(job.runs >= 6, `${job.job}: ${job.runs} runs`);
        assert.equal(job.slots, job.runs, `${job.job}: one run per slot`);
        assert.equal(job.span, job.slots, `${job.job}: no slot lost around the restart (skipped: ${JSON.stringify(skipped)})`);
        assert.equal(job.not_succeeded, 0, `${job.job}: every run succeeded`);
      }
      const executions = (await after.query(`
        SELECT j.name AS job, count(DISTINCT r.id)::int AS runs, (SELECT count(*)::int FROM executions e WHERE e.job = j.name) AS executions
          FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'sql-%' GROUP BY j.name`)).rows;
      for (const row of executions) assert.equal(row.executions, row.runs, `${row.job}: executed once per run`);
      const shellRuns = (await after.query(`
        SELECT r.id FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'sh-%' ORDER BY r.id`)).rows.map((r) => String(r.id));
      const ledgerIds = readFileSync(ledger, "utf8").trim().split("\n").sort((a, b) => Number(a) - Number(b));
      assert.deepEqual(ledgerIds, shellRuns, "each shell run executed exactly once");
    } finally {
      await after.end();
    }
  });

  test("pg_ctl restart -m immediate during SQL steps, repeated: the supervisor stays up and its steps finish or are re-run", async () => {
    const client = await connect(cluster.url("postgres"));
    await client.query("CREATE TABLE crash_effects (job text NOT NULL, run_id bigint NOT NULL, attempt integer NOT NULL)");
    // SQL steps that take a while, so that every crash cuts some off mid-statement.
    const policies = { overlap: { mode: "allow_all" }, misfire: { policy: "all", grace: "5m" } };
    for (const job of ["crash-a", "crash-b", "crash-c"]) {
      await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: job, schedules: ["* * * * * *"], policies,
        steps: [{ name: "main", sql: `SELECT pg_sleep(0.4); INSERT INTO crash_effects VALUES ('${job}', current_setting('clockwork.run_id')::bigint, current_setting('clockwork.attempt')::int)` }],
      })]);
    }
    await client.end();
    const sup = startSupervisor(cluster.url("postgres"), { name: "crash-survivor" });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    const db = pool(cluster.url("postgres"));
    db.on("error", () => {}); // its idle connections die with each crash
    // Each crash comes while a step is in its statement, so that it cuts one off (a loaded
    // machine may otherwise crash the server between steps). A probe that fails is tried
    // again: the server may still be coming back from the last crash.
    const stepInFlight = async () => (await db.query(`
      SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_sleep(0.4)%'`)).rows[0].n > 0;
    const cutOffAndRerun = async () => (await db.query(`
      SELECT count(*)::int AS n FROM clockwork.step_runs s JOIN clockwork.runs r ON r.id = s.run_id
        JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'crash-%' AND s.attempt > 1`)).rows[0].n > 0;
    // At least three crashes; more (up to eight) while none has yet cut a step off in its
    // statement: on a loaded machine the statement may end between the probe and the crash.
    const minCrashes = 3;
    const maxCrashes = 8;
    let crashes = 0;
    try {
      for (;;) {
        await sleep(1500);
        if (crashes >= maxCrashes) break;
        if (crashes >= minCrashes && (await waitFor("the server to answer", async () => ({ rerun: await cutOffAndRerun() }), 30_000, 100)).rerun) break;
        await waitFor(`a step in flight before crash ${crashes + 1}`, stepInFlight, 30_000, 20);
        cluster.pgCtl("restart", "-m", "immediate");
        crashes++;
      }
      await sleep(2500);

      for (const job of ["crash-a", "crash-b", "crash-c"]) await db.query("SELECT clockwork.disable_job($1)", [job]);
      await waitFor("all runs to finish", async () =>
        (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0, 60_000);
      assert.equal(sup.child.exitCode, null, "the supervisor stayed up through every crash");
      assert.equal(sup.child.signalCode, null);
      assert.ok(sup.logs.filter((l) => l.msg === "LISTEN connection restored").length >= crashes, "it reconnected after each crash");
      assert.ok(!sup.logs.some((l) => /unhandled|uncaught/i.test(l.msg)), "no unhandled error");
      assert.ok(!sup.stderr.join("").includes("Error"), `nothing on stderr: ${sup.stderr.join("")}`);
      const runs = (await db.query(`
        SELECT r.id, r.state, j.name AS job, max(s.attempt) AS attempts,
               count(*) FILTER (WHERE s.state = 'lost')::int AS lost,
               (SELECT count(*)::int FROM crash_effects e WHERE e.run_id = r.id) AS effects
          FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id JOIN clockwork.step_runs s ON s.run_id = r.id
         WHERE j.name LIKE 'crash-%' GROUP BY r.id, j.name`)).rows;
      assert.ok(runs.length >= 3 * 6, `runs went on between the crashes (${runs.length})`);
      // The defined end of a step cut off MAX_LOST_LEASES times (a loaded machine can put one
      // run under three of the crashes): the run fails, and none of its attempts took effect.
      const lostEveryAttempt = (r: { state: string; attempts: number; lost: number }) =>
        r.state === "failed" && r.attempts === MAX_LOST_LEASES && r.lost === MAX_LOST_LEASES;
      const notSucceeded = runs.filter((r) => r.state !== "succeeded" && !lostEveryAttempt(r));
      assert.deepEqual(notSucceeded, [], "every run finished well: its step finished, or was re-run (or was lost at every attempt)");
      const wrongEffects = runs.filter((r) => r.effects !== (r.state === "succeeded" ? 1 : 0));
      assert.deepEqual(wrongEffects, [], "each run's SQL took effect exactly once (never, when every attempt was lost)");
      assert.ok(runs.some((r) => r.attempts > 1), "some steps were cut off by a crash and re-run");
    } finally {
      await db.end();
      await sup.stop();
    }
  });

  test("an SQL step cut off by a restart is taken back and run again, and takes effect once", async () => {
    const client = await connect(cluster.url("postgres"));
    await client.query("CREATE TABLE slow_effects (run_id bigint, at timestamptz DEFAULT clock_timestamp())");
    await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "slow-sql",
      schedules: [],
      steps: [{ name: "main", sql: "SELECT pg_sleep(2); INSERT INTO slow_effects (run_id) VALUES (1)" }],
    })]);
    const sup = startSupervisor(cluster.url("postgres"), { name: "restart-sql" });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = (await client.query("SELECT clockwork.run_now('slow-sql') AS id")).rows[0].id;
    await client.end();
    await sup.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId);
    await sleep(500);
    cluster.pgCtl("restart", "-m", "fast");
    await sup.waitForLog("the step is taken back", (l) => l.run === runId && /connection lost during an SQL step/.test(l.msg), 15_000);

    const after = pool(cluster.url("postgres"));
    try {
      const state = await waitFor("run to finish", async () =>
        (await after.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 20_000);
      assert.equal(state, "succeeded");
      const steps = (await after.query("SELECT attempt, state FROM clockwork.step_runs WHERE run_id = $1 ORDER BY attempt", [runId])).rows;
      // Its transaction died with the server: the attempt is lost (at once, not at its
      // lease's end) and attempt 2 runs it.
      assert.deepEqual(steps, [{ attempt: 1, state: "lost" }, { attempt: 2, state: "succeeded" }]);
      assert.equal((await after.query("SELECT count(*)::int AS n FROM slow_effects")).rows[0].n, 1, "the SQL took effect once");
    } finally {
      await after.end();
      await sup.stop();
    }
  });
});
