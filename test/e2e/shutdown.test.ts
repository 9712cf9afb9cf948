// End to end: SIGTERM stops claiming, lets running steps finish within the grace period,
// kills and hands back the rest (release_worker), and exits 0.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
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

  test("steps still running after the grace period are killed and handed to another supervisor", async () => {
    await define({ name: "too-long", schedules: [], steps: [{ name: "s", shell: 'echo "attempt $CLOCKWORK_ATTEMPT pgid $$"; [ "$CLOCKWORK_ATTEMPT" -ge 2 ] || sleep 60' }] });
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
    const state = await waitFor("run to finish", async () =>
      (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 15_000);
    assert.equal(state, "succeeded");
    const rows = (await db.query(
      "SELECT attempt, state, worker_name AS name FROM clockwork.step_runs WHERE run_id = $1 ORDER BY attempt",
      [runId],
    )).rows;
    assert.deepEqual(rows.at(-1), { attempt: 2, state: "succeeded", name: "term-takeover" });
    assert.notEqual(rows[0].state, "succeeded");
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
