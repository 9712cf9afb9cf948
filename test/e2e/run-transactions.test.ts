// End to end: whole-run transactions (transaction: run, pg_timetable's chain transaction)
// with real supervisors. A run's SQL steps share one transaction held by the supervisor
// that claimed the first of them: nothing is visible to others until the run succeeds and
// commits; a failing shell step in the middle, a failing SQL step, a cancel or the death of
// that supervisor (kill -9) roll it all back. The run's later steps are pinned to that
// supervisor while others are running.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { SQLSTATE } from "../../extension/src/core/index.ts";
import { extensionMissing, setLease, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

interface Finished {
  state: string;
  reason: string | null;
}

describe("transaction: run", { skip: missing ?? false }, () => {
  let db: TestDatabase;

  const runNow = async (job: string): Promise<string> => (await db.query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id;
  const finished = (runId: string, timeoutMs = 30_000) =>
    waitFor(`run ${runId} to finish`, async () => {
      const { rows } = await db.query("SELECT state, reason FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId]);
      return rows[0] as Finished | undefined;
    }, timeoutMs);
  const steps = async (runId: string) =>
    (await db.query("SELECT step, state, worker_id::text AS worker FROM clockwork.step_runs WHERE run_id = $1 ORDER BY id", [runId])).rows as { step: string; state: string; worker: string | null }[];
  const ledger = async (runId: string) =>
    (await db.query("SELECT step FROM ledger WHERE run = $1 ORDER BY step", [runId])).rows.map((r) => r.step as string);
  const define = (definition: object) => db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
  const insert = (step: string) => `INSERT INTO ledger VALUES ('${step}', current_setting('clockwork.run_id')::bigint)`;
  const stepRunning = (runId: string, step: string) =>
    waitFor(`step ${step} of run ${runId} running`, async () =>
      (await db.query("SELECT 1 FROM clockwork.step_runs WHERE run_id = $1 AND step = $2 AND state = 'running'", [runId, step])).rows.length > 0, 20_000);
  /** Sessions still in a transaction that touched the ledger (a run's transaction left behind). */
  const openTransactions = async () =>
    (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity
                      WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()`)).rows[0].n as number;

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_runtx" });
    await setLease(db, 3);
    await db.query("CREATE TABLE ledger (step text, run bigint)");
    const one = startSupervisor(db.url, { name: "tx-1", args: ["--concurrency", "4"] });
    const two = startSupervisor(db.url, { name: "tx-2", args: ["--concurrency", "4"] });
    await one.waitForLog("registration", (l) => l.msg === "worker registered");
    await two.waitForLog("registration", (l) => l.msg === "worker registered");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  test("commits when the run succeeds: no step's rows are visible before the run ends, all are after", async () => {
    await define({
      name: "commit", transaction: "run",
      steps: [
        { name: "a", sql: insert("a") },
        { name: "wait", shell: "sleep 2", depends: "a" },
        { name: "c", sql: `${insert("c")}; SELECT count(*)::int AS n FROM ledger WHERE run = current_setting('clockwork.run_id')::bigint`, depends: "wait" },
      ],
      // A check runs in the transaction too: it sees the run's own rows before they commit.
      checks: [{ name: "both", sql: "SELECT 1 FROM ledger WHERE run = current_setting('clockwork.run_id')::bigint HAVING count(*) = 2", expected: ["1"] }],
    });
    const runId = await runNow("commit");
    await stepRunning(runId, "wait");
    assert.equal((await steps(runId)).find((s) => s.step === "a")?.state, "succeeded", "step a ran");
    assert.deepEqual(await ledger(runId), [], "step a's row is not visible while the run goes on");
    const run = await finished(runId);
    assert.equal(run.state, "succeeded", run.reason ?? "");
    assert.deepEqual(await ledger(runId), ["a", "c"]);
    const c = (await db.query("SELECT result FROM clockwork.step_runs WHERE run_id = $1 AND step = 'c'", [runId])).rows[0];
    assert.deepEqual(c.result, [{ n: 2 }], "step c saw step a's row in the run's transaction");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.run_transactions")).rows[0].n, 0);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("a run's steps stay on the supervisor that holds its transaction while another supervisor runs", async () => {
    await define({
      name: "pinned", transaction: "run",
      steps: [
        { name: "a", sql: insert("a") },
        { name: "b", shell: "sleep 0.3", depends: "a" },
        { name: "c", sql: insert("c"), depends: "b" },
        { name: "d", shell: "true", depends: "c" },
        { name: "e", sql: insert("e"), depends: "d" },
      ],
    });
    const runs = await Promise.all(Array.from({ length: 6 }, () => runNow("pinned")));
    const workers = new Set<string>();
    for (const runId of runs) {
      const run = await finished(runId);
      assert.equal(run.state, "succeeded", run.reason ?? "");
      assert.deepEqual(await ledger(runId), ["a", "c", "e"]);
      const held = new Set((await steps(runId)).slice(1).map((s) => s.worker));
      assert.equal(held.size, 1, `run ${runId}: every step after the first SQL step on one worker`);
      workers.add([...held][0]!);
    }
    assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.step_runs s JOIN clockwork.runs r ON r.id = s.run_id WHERE r.id = ANY($1::bigint[]) AND s.state <> 'succeeded'", [runs])).rows[0].n, 0);
  });

  test("rolls back after a failing shell step in the middle", async () => {
    await define({
      name: "shell-fails", transaction: "run",
      steps: [
        { name: "a", sql: insert("a") },
        { name: "b", shell: "exit 3", depends: "a" },
        { name: "c", sql: insert("c"), depends: "b" },
      ],
    });
    const runId = await runNow("shell-fails");
    const run = await finished(runId);
    assert.equal(run.state, "failed");
    assert.match(run.reason ?? "", /step "b" failed.*exit code 3; the run's transaction was rolled back/);
    assert.deepEqual(await ledger(runId), [], "step a's insert was rolled back");
    assert.deepEqual((await steps(runId)).map((s) => [s.step, s.state]), [["a", "succeeded"], ["b", "failed"], ["c", "skipped"]]);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("rolls back on a failing SQL step, with the statement named", async () => {
    await define({
      name: "sql-fails", transaction: "run",
      steps: [
        { name: "a", sql: insert("a") },
        { name: "b", shell: "true", depends: "a" },
        { name: "c", sql: `${insert("c")}; SELECT 1 / 0`, depends: "b" },
      ],
    });
    const runId = await runNow("sql-fails");
    const run = await finished(runId);
    assert.equal(run.state, "failed");
    assert.match(run.reason ?? "", /step "c" failed: statement 2 of 2: division by zero; the run's transaction was rolled back/);
    assert.deepEqual(await ledger(runId), []);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("a COMMIT that fails (a deferred constraint) fails the run: nothing kept, nothing recorded as succeeded", async () => {
    await db.query(`CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE child (parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED, run bigint)`);
    await define({
      name: "deferred", transaction: "run",
      steps: [
        { name: "a", sql: `${insert("a")}; INSERT INTO child VALUES (42, current_setting('clockwork.run_id')::bigint)` },
        { name: "b", shell: "true", depends: "a" },
      ],
    });
    const runId = await runNow("deferred");
    const run = await finished(runId);
    assert.equal(run.state, "failed");
    assert.match(run.reason ?? "", /the run's transaction could not commit \(its commit failed: insert or update on table "child" violates foreign key constraint/);
    assert.deepEqual(await ledger(runId), []);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM child")).rows[0].n, 0);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("time-outs roll back: an SQL step's, and the job's while a shell step runs", async () => {
    await define({
      name: "step-timeout", transaction: "run",
      steps: [{ name: "a", sql: insert("a") }, { name: "b", sql: "SELECT pg_sleep(30)", timeout: "1s", depends: "a" }],
    });
    await define({
      name: "job-timeout", transaction: "run", policies: { timeout: "2s" },
      steps: [{ name: "a", sql: insert("a") }, { name: "b", shell: "sleep 30", depends: "a" }, { name: "c", sql: insert("c"), depends: "b" }],
    });
    const [stepRun, jobRun] = [await runNow("step-timeout"), await runNow("job-timeout")];
    const step = await finished(stepRun);
    assert.equal(step.state, "failed");
    assert.match(step.reason ?? "", /step "b" timed out.*; the run's transaction was rolled back/);
    const whole = await finished(jobRun);
    assert.equal(whole.state, "timed_out");
    assert.match(whole.reason ?? "", /run exceeded its time-out of 2 seconds; the run's transaction was rolled back/);
    assert.deepEqual([await ledger(stepRun), await ledger(jobRun)], [[], []]);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("a cancelled run rolls back", async () => {
    await define({
      name: "cancelled", transaction: "run",
      steps: [{ name: "a", sql: insert("a") }, { name: "b", shell: "sleep 30", depends: "a" }, { name: "c", sql: insert("c"), depends: "b" }],
    });
    const runId = await runNow("cancelled");
    await stepRunning(runId, "b");
    await db.query("SELECT clockwork.cancel_run($1)", [runId]);
    const run = await finished(runId);
    assert.equal(run.state, "cancelled");
    assert.match(run.reason ?? "", /the run's transaction was rolled back/);
    assert.deepEqual(await ledger(runId), []);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
  });

  test("a commit can only come from the transaction's holder, for a run asked to commit", async () => {
    const runId = (await db.query("SELECT id FROM clockwork.runs WHERE state = 'succeeded' ORDER BY id LIMIT 1")).rows[0].id;
    await assert.rejects(db.query("SELECT clockwork._commit_run($1, 'deadbeef')", [runId]), (e: { code?: string; message: string }) => {
      assert.equal(e.code, SQLSTATE.claim_not_held);
      assert.match(e.message, /may not commit its transaction/);
      return true;
    });
  });

  test("a holder whose incarnation ended while it was stalled rolls back when it resumes, and never commits", async () => {
    await stopAllSupervisors();
    const holder = startSupervisor(db.url, { name: "tx-stalled" });
    await holder.waitForLog("registration", (l) => l.msg === "worker registered");
    await define({
      name: "stalled", transaction: "run",
      steps: [{ name: "a", sql: insert("a") }, { name: "b", shell: "sleep 1", depends: "a" }, { name: "c", sql: insert("c"), depends: "b" }],
    });
    const runId = await runNow("stalled");
    await stepRunning(runId, "b");
    holder.child.kill("SIGSTOP");
    try {
      // Its session stays connected, so only an end decided elsewhere ends it (here by hand,
      // as a lapse or a replacement would): the run fails at once, its transaction still open.
      await db.query("SELECT clockwork.release_worker(id) FROM clockwork.workers WHERE name = 'tx-stalled' AND stopped_at IS NULL");
      // Another worker's tick settles it (registered by hand: no supervisor would run step c).
      await db.query("SELECT clockwork.register_worker('tx-observer', '{}')");
      await db.query("SELECT clockwork.tick('tx-observer', 0)");
      const run = await finished(runId);
      assert.equal(run.state, "failed");
      assert.match(run.reason ?? "", /supervisor "tx-stalled" \(incarnation \d+\) ended before the run committed/);
      assert.equal(await openTransactions(), 1, "the stalled holder still has it open");
    } finally {
      holder.child.kill("SIGCONT");
    }
    // Resumed, it learns its incarnation ended and closes what it held: rolled back, never committed.
    await holder.waitForLog("incarnation ended", (l) => /worker incarnation has ended/.test(String(l.msg)), 20_000);
    await waitFor("its transaction closed", async () => (await openTransactions()) === 0);
    assert.deepEqual(await ledger(runId), []);
    await db.query("SELECT clockwork.release_worker('tx-observer')");
  });

  test("kill -9 of the supervisor holding the transaction: rolled back by the server, the run fails saying so", async () => {
    await stopAllSupervisors();
    const first = startSupervisor(db.url, { name: "tx-killed" });
    await first.waitForLog("registration", (l) => l.msg === "worker registered");
    await define({
      name: "killed", transaction: "run",
      steps: [{ name: "a", sql: insert("a") }, { name: "b", shell: "sleep 30", depends: "a" }, { name: "c", sql: insert("c"), depends: "b" }],
    });
    const runId = await runNow("killed");
    await stepRunning(runId, "b");
    assert.equal(await openTransactions(), 1, "the run's transaction is open, idle, on its owner connection");
    const port = await first.port();
    await waitFor("the supervisor counts the transaction it holds", async () =>
      /^clockwork_run_transactions_open 1$/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
    first.child.kill("SIGKILL");
    await first.exited;
    const second = startSupervisor(db.url, { name: "tx-after" });
    await second.waitForLog("registration", (l) => l.msg === "worker registered");
    const run = await finished(runId);
    assert.equal(run.state, "failed");
    assert.match(run.reason ?? "", /supervisor "tx-killed" \(incarnation \d+\) ended before the run committed: the server rolled the run's transaction back/);
    assert.deepEqual(await ledger(runId), []);
    await waitFor("no transaction left open", async () => (await openTransactions()) === 0);
    // The next run goes on the new supervisor, and commits.
    await define({
      name: "killed", transaction: "run",
      steps: [{ name: "a", sql: insert("a") }, { name: "b", shell: "sleep 0.2", depends: "a" }, { name: "c", sql: insert("c"), depends: "b" }],
    });
    const again = await runNow("killed");
    assert.equal((await finished(again)).state, "succeeded");
    assert.deepEqual(await ledger(again), ["a", "c"]);
  });
});
