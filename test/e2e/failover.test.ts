// End to end: leases. A supervisor that dies mid-step loses its step to another one when
// the lease expires (attempt 2), and a supervisor that comes back late is refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, setLease, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("leases hand a dead supervisor's steps to another one", { skip: missing ?? false }, () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_failover" });
    await setLease(db, 2);
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  async function attempts(runId: string) {
    const { rows } = await db.query(
      `SELECT attempt, state, stdout, worker_name AS worker
         FROM clockwork.step_runs WHERE run_id = $1 ORDER BY attempt`,
      [runId],
    );
    return rows;
  }

  async function finished(runId: string, timeoutMs = 20_000): Promise<string> {
    return waitFor(`run ${runId} to finish`, async () =>
      (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, timeoutMs);
  }

  test("kill -9 of a supervisor mid-step: another supervisor re-runs the step as attempt 2", async () => {
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "survives-kill",
      schedules: [],
      steps: [{ name: "work", shell: 'echo "attempt $CLOCKWORK_ATTEMPT"; sleep 1; echo done' }],
    })]);
    const a = startSupervisor(db.url, { name: "kill-a" });
    await a.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = (await db.query("SELECT clockwork.run_now('survives-kill') AS id")).rows[0].id;
    await a.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId);
    assert.equal(await a.stop("SIGKILL"), "SIGKILL");

    const b = startSupervisor(db.url, { name: "kill-b" });
    assert.equal(await finished(runId), "succeeded");
    const rows = await attempts(runId);
    assert.equal(rows.length, 2);
    assert.deepEqual([rows[0].attempt, rows[0].worker], [1, "kill-a"]);
    assert.notEqual(rows[0].state, "succeeded", "the dead supervisor's attempt did not count");
    assert.deepEqual([rows[1].attempt, rows[1].state, rows[1].worker, rows[1].stdout], [2, "succeeded", "kill-b", "attempt 2\ndone\n"]);
    await b.stop();
  });

  test("a supervisor paused past its lease comes back to find its late report refused", async () => {
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "late-report",
      schedules: [],
      steps: [{ name: "work", shell: 'sleep 1; echo "attempt $CLOCKWORK_ATTEMPT done"' }],
    })]);
    const a = startSupervisor(db.url, { name: "late-a" });
    await a.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = (await db.query("SELECT clockwork.run_now('late-report') AS id")).rows[0].id;
    await a.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId);
    a.child.kill("SIGSTOP"); // frozen: no heartbeats, no reports; its step's process runs on

    const b = startSupervisor(db.url, { name: "late-b" });
    try {
      assert.equal(await finished(runId), "succeeded");
      const byB = await attempts(runId);
      assert.deepEqual([byB[1].attempt, byB[1].worker, byB[1].stdout], [2, "late-b", "attempt 2 done\n"]);
      // Attempt 1 had ended; only its launcher's watcher lived on, blocked on the pipe of the
      // frozen supervisor. The re-run did not wait for it (it once waited a kill grace and
      // more, which a loaded machine stretched past this test's deadline).
      assert.ok(!b.logs.some((l) => /the earlier attempt did not end/.test(l.msg)), "the re-run did not wait out the watcher");
    } finally {
      a.child.kill("SIGCONT");
    }
    const refused = await a.waitForLog("refusal", (l) => l.run === runId && /refused/.test(l.msg), 10_000);
    assert.equal(refused.level, "warn");
    const rows = await attempts(runId);
    assert.notEqual(rows[0].state, "succeeded", "the late report did not overwrite the lost attempt");
    assert.equal(rows[0].stdout, "", "the late output was not stored");
    assert.equal(rows[1].state, "succeeded");
    assert.equal(await finished(runId), "succeeded");
    await Promise.all([a.stop(), b.stop()]);
  });
});
