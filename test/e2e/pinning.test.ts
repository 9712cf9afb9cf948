// End to end: how a supervisor introduces itself. Without DATABASE_URL it connects through
// libpq-style PG* variables; labels given to it are registered, and a job pinned to a
// label only runs on supervisors that carry it (the database decides; the supervisor only
// tells). A database that forgot the worker (restored, or its row removed) is told again.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("connection settings and labels", { skip: missing ?? false }, () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_pinning" });
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  test("a job pinned to a label runs only on the supervisor carrying it", async () => {
    const plain = startSupervisor(db.url, { name: "plain" });
    const gpu = startSupervisor(db.url, { name: "with-gpu", args: ["--labels", "gpu,eu"] });
    await Promise.all([plain, gpu].map((s) => s.waitForLog("registration", (l) => l.msg === "worker registered")));
    const labels = (await db.query("SELECT name, labels FROM clockwork.workers ORDER BY name")).rows;
    assert.deepEqual(labels, [{ name: "plain", labels: [] }, { name: "with-gpu", labels: ["gpu", "eu"] }]);

    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "needs-gpu", schedules: [], labels: ["gpu"], steps: [{ name: "s", shell: "echo on gpu" }],
    })]);
    const runs: string[] = [];
    for (let i = 0; i < 6; i++) runs.push((await db.query("SELECT clockwork.run_now('needs-gpu') AS id")).rows[0].id);
    await waitFor("all pinned runs to finish", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE id = ANY($1::bigint[]) AND finished_at IS NOT NULL", [runs])).rows[0].n === runs.length);
    const workers = (await db.query(`
      SELECT DISTINCT worker_name AS name FROM clockwork.step_runs WHERE run_id = ANY($1::bigint[])`, [runs])).rows.map((r) => r.name);
    assert.deepEqual(workers, ["with-gpu"]);
  });

  test("without DATABASE_URL it connects through the PG* variables", async () => {
    const sup = startSupervisor("", { name: "via-pg-env", env: { PGDATABASE: db.name } });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    const seen = (await db.query("SELECT count(*)::int AS n FROM clockwork.workers WHERE name = 'via-pg-env'")).rows[0].n;
    assert.equal(seen, 1, "registered in the database PGDATABASE names");
    assert.equal(await sup.stop(), 0);
  });

  test("a supervisor the database no longer knows registers again and carries on", async () => {
    const sup = startSupervisor(db.url, { name: "forgotten", args: ["--labels", "forgotten"] });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    await db.query("DELETE FROM clockwork.workers WHERE name = 'forgotten'");
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "after-forgetting", schedules: [], labels: ["forgotten"], steps: [{ name: "s", shell: "echo still here" }],
    })]);
    const run = (await db.query("SELECT clockwork.run_now('after-forgetting') AS id")).rows[0].id;
    // The tick that run_now's NOTIFY wakes is refused (worker_ended: an unknown incarnation);
    // the supervisor registers a new incarnation and the next tick claims the run.
    await sup.waitForLog("re-registration", (l) => /does not know this worker/.test(l.msg));
    await waitFor("the run to succeed", async () =>
      (await db.query("SELECT state FROM clockwork.runs WHERE id = $1", [run])).rows[0].state === "succeeded");
    const worker = await db.query(`
      SELECT worker_name AS name FROM clockwork.step_runs WHERE run_id = $1`, [run]);
    assert.deepEqual(worker.rows, [{ name: "forgotten" }]);
    assert.equal(await sup.stop(), 0);
  });
});
