// End to end: what SQL steps can do, as a DBA would use them, with real supervisors. The
// everyday work that refuses a transaction block runs as psql runs a file; a step in the
// scheduler's own database runs exactly once even when its supervisor is killed halfway;
// an autonomous one runs again, and says which attempt it is; history keeps wall-clock
// times and the rows a step returned.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, setLease, sleep, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();

interface Finished {
  state: string;
  reason: string | null;
}

function helpers(db: () => TestDatabase) {
  const runNow = async (job: string): Promise<string> => (await db().query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id;
  const finished = (runId: string, timeoutMs = 20_000) =>
    waitFor(`run ${runId} to finish`, async () => {
      const { rows } = await db().query("SELECT state, reason FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId]);
      return rows[0] as Finished | undefined;
    }, timeoutMs);
  const steps = async (runId: string) =>
    (await db().query(`SELECT step, attempt, state, sql_state, error, result, output_truncated, started_at, finished_at,
                              extract(epoch FROM finished_at - started_at) AS seconds
                         FROM clockwork.step_runs WHERE run_id = $1 ORDER BY id`, [runId])).rows;
  const define = (definition: object) => db().query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
  return { runNow, finished, steps, define };
}

describe("SQL steps as a DBA uses them", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let sup: SupervisorProcess;
  const { runNow, finished, steps, define } = helpers(() => db);

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_sql" });
    sup = startSupervisor(db.url, { name: "sql-1", args: ["--concurrency", "4"] });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  test("clockwork.schedule('v', '30 3 * * *', 'VACUUM ANALYZE') just works", async () => {
    await db.query("SELECT clockwork.schedule('v', '30 3 * * *', 'VACUUM ANALYZE')");
    const run = await finished(await runNow("v"));
    assert.equal(run.state, "succeeded", run.reason ?? "");
    const vacuumed = await db.query("SELECT count(*)::int AS n FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND relname = 'jobs'");
    assert.equal(vacuumed.rows[0].n, 1, "clockwork.jobs was vacuumed");
  });

  test("VACUUM, REINDEX DATABASE, CREATE INDEX CONCURRENTLY, CREATE DATABASE and a committing procedure succeed as steps", async () => {
    const other = `${db.name}_made`;
    await db.query("CREATE TABLE big (x int); INSERT INTO big SELECT generate_series(1, 1000)");
    await db.query(`CREATE TABLE proc_log (n int);
      CREATE PROCEDURE fill() LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO proc_log VALUES (1); COMMIT; INSERT INTO proc_log VALUES (2); COMMIT; END $$`);
    const cases: Array<[string, string]> = [
      ["vacuum-reindex", `VACUUM ANALYZE big;\nREINDEX DATABASE ${db.name}`],
      ["index-concurrently", "CREATE INDEX CONCURRENTLY big_x ON big (x)"],
      ["create-database", `CREATE DATABASE ${other}`],
      ["procedure", "CALL fill()"],
    ];
    try {
      for (const [name, sql] of cases) {
        await define({ name, steps: [{ name: "main", sql }] });
        const runId = await runNow(name);
        const run = await finished(runId);
        assert.equal(run.state, "succeeded", `${name}: ${run.reason}`);
      }
      assert.equal((await db.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_x'::regclass")).rows[0].indisvalid, true);
      assert.equal((await adminQuery("SELECT count(*)::int AS n FROM pg_database WHERE datname = $1", [other])).rows[0].n, 1);
      assert.deepEqual((await db.query("SELECT n FROM proc_log ORDER BY n")).rows, [{ n: 1 }, { n: 2 }]);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${other}`);
    }
  });

  test("a multi-statement step that creates a table and then uses it succeeds, as psql -c would run it", async () => {
    await define({ name: "ddl-then-use", steps: [{ name: "main", sql: "CREATE TABLE made_here (x int);\nINSERT INTO made_here VALUES (1), (2);\nSELECT count(*) AS n FROM made_here" }] });
    const runId = await runNow("ddl-then-use");
    assert.equal((await finished(runId)).state, "succeeded");
    const [step] = await steps(runId);
    assert.deepEqual(step.result, [{ n: 2 }]);
  });

  test("a 2 s pg_sleep is recorded as taking about 2 s", async () => {
    await define({ name: "sleepy", steps: [{ name: "main", sql: "SELECT pg_sleep(2)" }] });
    const runId = await runNow("sleepy");
    await finished(runId);
    const [step] = await steps(runId);
    assert.ok(Number(step.seconds) >= 1.99 && Number(step.seconds) < 3, `recorded ${step.seconds} s`);
  });

  test("a result of more than 100 rows keeps the first 100 and says it was cut", async () => {
    await define({ name: "many-rows", steps: [{ name: "main", sql: "SELECT n FROM generate_series(1, 150) AS n" }] });
    const runId = await runNow("many-rows");
    await finished(runId);
    const [step] = await steps(runId);
    assert.equal(step.result.length, 100);
    assert.deepEqual(step.result[99], { n: 100 });
    assert.equal(step.output_truncated, true);
  });

  test("a condition reads an earlier step's result rows", async () => {
    await define({
      name: "conditional",
      steps: [
        { name: "extract", sql: "SELECT 3 AS n" },
        { name: "load", sql: "SELECT 'loaded' AS done", depends: ["extract"], when: "extract.row.n > 0" },
        { name: "never", sql: "SELECT 1", depends: ["extract"], when: "extract.row.n > 5" },
      ],
    });
    const runId = await runNow("conditional");
    assert.equal((await finished(runId)).state, "succeeded");
    assert.deepEqual((await steps(runId)).map((s) => [s.step, s.state]), [["extract", "succeeded"], ["load", "succeeded"], ["never", "skipped"]]);
  });

  test("every SQL step knows its run, step and attempt (current_setting('clockwork.…'))", async () => {
    await define({ name: "whoami", steps: [{ name: "main", sql: "SELECT current_setting('clockwork.run_id') AS run, current_setting('clockwork.step') AS step, current_setting('clockwork.attempt') AS attempt, current_setting('clockwork.job') AS job" }] });
    const runId = await runNow("whoami");
    await finished(runId);
    assert.deepEqual((await steps(runId))[0].result, [{ run: runId, step: "main", attempt: "1", job: "whoami" }]);
  });
});

describe("a supervisor killed in the middle of an SQL step", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  const { runNow, finished, steps, define } = helpers(() => db);

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_kill" });
    await setLease(db, 3);
    await db.query("CREATE TABLE effects (job text, attempt text, at timestamptz DEFAULT clock_timestamp())");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  async function killDuring(job: string): Promise<string> {
    await stopAllSupervisors();
    const first = startSupervisor(db.url, { name: `${job}-1` });
    await first.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow(job);
    await waitFor("the step's first statement", async () => (await db.query("SELECT 1 FROM effects WHERE job = $1", [job])).rows.length > 0
      || (await db.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND state = 'active' AND pid <> pg_backend_pid()")).rows.length > 0);
    await sleep(300);
    first.child.kill("SIGKILL");
    await first.exited;
    const second = startSupervisor(db.url, { name: `${job}-2` });
    await second.waitForLog("registration", (l) => l.msg === "worker registered");
    return runId;
  }

  test("between a step's statements and its commit: the step runs once in the end", async () => {
    await define({ name: "once", steps: [{ name: "main", sql: "INSERT INTO effects (job, attempt) VALUES ('once', current_setting('clockwork.attempt')); SELECT pg_sleep(3)" }] });
    const runId = await killDuring("once");
    const run = await finished(runId, 30_000);
    assert.equal(run.state, "succeeded", run.reason ?? "");
    // Attempt 1's transaction died with its connection (its backend noticed the client was
    // gone and rolled back); attempt 2 ran it, and its insert is the only one.
    const effects = (await db.query("SELECT attempt FROM effects WHERE job = 'once'")).rows;
    assert.deepEqual(effects, [{ attempt: "2" }]);
    assert.deepEqual((await steps(runId)).map((s) => [s.attempt, s.state]), [[1, "lost"], [2, "succeeded"]]);
  });

  test("an autonomous step killed mid-way runs again as attempt 2", async () => {
    await define({ name: "again", steps: [{ name: "main", autonomous: true, sql: "INSERT INTO effects (job, attempt) VALUES ('again', current_setting('clockwork.attempt'));\nSELECT pg_sleep(3)" }] });
    const runId = await killDuring("again");
    const run = await finished(runId, 30_000);
    assert.equal(run.state, "succeeded", run.reason ?? "");
    // Statement by statement, without a transaction around them: attempt 1's insert stays.
    const effects = (await db.query("SELECT attempt FROM effects WHERE job = 'again' ORDER BY at")).rows;
    assert.deepEqual(effects, [{ attempt: "1" }, { attempt: "2" }]);
    assert.deepEqual((await steps(runId)).map((s) => [s.attempt, s.state]), [[1, "lost"], [2, "succeeded"]]);
  });
});
