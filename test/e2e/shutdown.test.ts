// End to end: SIGTERM stops claiming, lets running steps finish within the grace period,
// kills and hands back the rest (release_worker), and exits 0. A hand-back is no lost
// lease: its attempt is recorded as handed_back_at_shutdown, another supervisor finishes
// the step, and nothing counts it as a fault; a kill -9 is still a lost lease.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { groupMembers } from "../support/processes.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor, sleep } from "./support.ts";

const missing = await extensionMissing();

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // Zombies waiting to be reaped still answer kill(0); only live members count.
  return groupMembers(pgid).length > 0;
}

describe("SIGTERM shuts a supervisor down cleanly", { skip: missing ?? false }, () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_shutdown" });
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  const define = (definition: object) => db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
  const runNow = async (job: string) => (await db.query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id as string;

  test("running steps finish within the grace period and are reported; nothing new is claimed; exit 0", async () => {
    await define({ name: "finishes", schedules: [], steps: [{ name: "s", shell: "sleep 1; echo finished" }] });
    await define({ name: "after-term", schedules: [], steps: [{ name: "s", shell: "echo should not run here" }] });
    const sup = startSupervisor(db.url, { name: "term-graceful", args: ["--shutdown-grace", "10s"] });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("finishes");
    await sup.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId);
    sup.child.kill("SIGTERM");
    await sup.waitForLog("shutdown begins", (l) => l.msg === "shutting down: no new claims");
    const late = await runNow("after-term");
    assert.equal(await sup.exited, 0);
    const step = (await db.query("SELECT state, stdout FROM clockwork.step_runs WHERE run_id = $1", [runId])).rows[0];
    assert.deepEqual(step, { state: "succeeded", stdout: "finished\n" });
    const lateStep = (await db.query("SELECT state, worker_id FROM clockwork.step_runs WHERE run_id = $1", [late])).rows;
    assert.ok(lateStep.every((s) => s.worker_id === null), "a run started after SIGTERM was not claimed");
    const worker = (await db.query("SELECT stopped_at FROM clockwork.workers WHERE name = 'term-graceful'")).rows[0];
    assert.notEqual(worker.stopped_at, null, "release_worker marked the worker stopped");
    assert.ok(sup.logs.some((l) => l.msg === "supervisor stopped"));
  });

  const attempts = async (runId: string) => (await db.query(
    "SELECT attempt, state, sql_state, error, worker_name AS name FROM clockwork.step_runs WHERE run_id = $1 ORDER BY attempt", [runId])).rows;
  const alertsOf = async (job: string) => (await db.query(
    "SELECT a.condition FROM clockwork.alerts AS a JOIN clockwork.jobs AS j ON j.id = a.job_id WHERE j.name = $1", [job])).rows.map((r) => r.condition);
  /** The counters of a supervisor's /metrics that a fault would move, by name (labels summed). */
  const faultCounters = async (sup: { port(): Promise<number> }) => {
    const text = await (await fetch(`http://127.0.0.1:${await sup.port()}/metrics`)).text();
    const sum = (name: string) => text.split("\n").filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    return { failed: sum("clockwork_steps_failed_total"), refused: sum("clockwork_steps_refused_total"), handed_back: sum("clockwork_steps_handed_back_total") };
  };
  /** Waits for the run's end; its attempts. */
  const finished = async (runId: string) => {
    const state = await waitFor("run to finish", async () =>
      (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 15_000);
    assert.equal(state, "succeeded");
    return attempts(runId);
  };

  test("steps still running after the grace period are killed and handed to another supervisor", async () => {
    await define({ name: "too-long", schedules: [], alerts: { failures: 1 }, steps: [{ name: "s", shell: 'echo "attempt $CLOCKWORK_ATTEMPT pgid $$"; [ "$CLOCKWORK_ATTEMPT" -ge 2 ] || sleep 60' }] });
    const a = startSupervisor(db.url, { name: "term-kill", args: ["--shutdown-grace", "500ms", "--kill-grace", "500ms"] });
    await a.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("too-long");
    const first = await waitFor("attempt 1 output", async () => {
      const row = (await db.query("SELECT stdout FROM clockwork.step_runs WHERE run_id = $1 AND attempt = 1", [runId])).rows[0];
      return row?.stdout ? row.stdout as string : undefined;
    });
    const pgid = Number(/pgid (\d+)/.exec(first)![1]);
    assert.equal(groupAlive(pgid), true);
    const started = Date.now();
    a.child.kill("SIGTERM");
    assert.equal(await a.exited, 0);
    assert.ok(Date.now() - started < 5000, `exited within grace + kill grace (${Date.now() - started} ms)`);
    await sleep(100);
    assert.equal(groupAlive(pgid), false, "the step's processes were killed");
    assert.ok(a.logs.some((l) => l.msg === "worker released" && Number(l.handed_back) === 1), "release_worker handed the step back");

    const b = startSupervisor(db.url, { name: "term-takeover" });
    const rows = await finished(runId);
    assert.deepEqual(rows.map((r) => [r.attempt, r.state, r.sql_state, r.name]), [
      [1, "lost", SQLSTATE.handed_back_at_shutdown, "term-kill"],
      [2, "succeeded", null, "term-takeover"],
    ]);
    assert.match(rows[0].error, /^handed back at a clean shutdown of supervisor term-kill/);
    assert.deepEqual(await faultCounters(b), { failed: 0, refused: 0, handed_back: 0 });
    assert.deepEqual(await alertsOf("too-long"), [], "no failure alert");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.alerts WHERE condition = 'worker_lost'")).rows[0].n, 0);
    await b.stop();
  });

  test("an SQL step running at SIGTERM is cancelled, handed back as handed_back_at_shutdown and finished by another supervisor", async () => {
    // nextval is not rolled back with the cancelled attempt: the first sleeps, the next does not.
    await db.query("CREATE SEQUENCE sql_tries");
    await define({ name: "sql-too-long", schedules: [], alerts: { failures: 1 }, steps: [{ name: "q", sql: "SELECT pg_sleep(CASE WHEN nextval('sql_tries') = 1 THEN 60 ELSE 0 END) AS slept" }] });
    const a = startSupervisor(db.url, { name: "term-sql", args: ["--shutdown-grace", "500ms", "--kill-grace", "500ms"] });
    await a.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("sql-too-long");
    await waitFor("pg_sleep running", async () =>
      (await db.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%' AND state = 'active' AND pid <> pg_backend_pid()")).rows.length > 0);
    a.child.kill("SIGTERM");
    assert.equal(await a.exited, 0);
    assert.ok(a.logs.some((l) => l.msg === "worker released" && Number(l.handed_back) === 1), "release_worker handed the step back");
    const b = startSupervisor(db.url, { name: "term-sql-takeover" });
    const rows = await finished(runId);
    assert.deepEqual(rows.map((r) => [r.attempt, r.state, r.sql_state, r.name]), [
      [1, "lost", SQLSTATE.handed_back_at_shutdown, "term-sql"],
      [2, "succeeded", null, "term-sql-takeover"],
    ]);
    assert.deepEqual(await faultCounters(b), { failed: 0, refused: 0, handed_back: 0 });
    assert.deepEqual(await alertsOf("sql-too-long"), [], "no failure alert");
    await b.stop();
  });

  test("a supervisor killed with kill -9 still loses its lease: lost, not handed back", async () => {
    await define({ name: "killed", schedules: [], steps: [{ name: "s", shell: 'echo "attempt $CLOCKWORK_ATTEMPT"; [ "$CLOCKWORK_ATTEMPT" -ge 2 ] || sleep 60' }] });
    const a = startSupervisor(db.url, { name: "kill-nine" });
    await a.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("killed");
    await waitFor("attempt 1 output", async () =>
      (await db.query("SELECT stdout FROM clockwork.step_runs WHERE run_id = $1 AND attempt = 1", [runId])).rows[0]?.stdout || undefined);
    a.child.kill("SIGKILL");
    await a.exited;
    const b = startSupervisor(db.url, { name: "kill-nine-takeover" });
    const rows = await finished(runId);
    assert.deepEqual(rows.map((r) => [r.attempt, r.state, r.sql_state, r.name]), [
      [1, "lost", null, "kill-nine"],
      [2, "succeeded", null, "kill-nine-takeover"],
    ]);
    assert.doesNotMatch(rows[0].error, /handed back/);
    await b.stop();
  });

  test("SIGINT is a clean shutdown too, and a second signal kills running steps at once", async () => {
    await define({ name: "second-signal", schedules: [], steps: [{ name: "s", shell: "sleep 60" }] });
    const sup = startSupervisor(db.url, { name: "term-twice", args: ["--shutdown-grace", "60s", "--kill-grace", "500ms"] });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("second-signal");
    await sup.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId);
    sup.child.kill("SIGINT");
    await sup.waitForLog("shutdown begins", (l) => l.msg === "shutting down: no new claims" && l.signal === "SIGINT");
    await sleep(300);
    assert.equal(sup.child.exitCode, null, "waits for the running step (grace 60 s)");
    const started = Date.now();
    sup.child.kill("SIGINT");
    assert.equal(await sup.exited, 0);
    assert.ok(Date.now() - started < 5000, `the second signal ended it quickly (${Date.now() - started} ms)`);
    assert.ok(sup.logs.some((l) => l.msg === "second signal: killing running steps now"));
  });
});
