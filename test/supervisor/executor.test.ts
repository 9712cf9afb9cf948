// The step executor against a real database: races between a step's report and the
// heartbeat, driven in order (the supervisor's own StepExecutor, ClockworkApi and a real
// shell step; only the moment complete_step's answer reaches the executor is held back,
// as a slow network would).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClockworkApi } from "../../supervisor/src/api.ts";
import { loadConfig } from "../../supervisor/src/config.ts";
import { createLogger } from "../../supervisor/src/logging.ts";
import { SupervisorMetrics } from "../../supervisor/src/metrics.ts";
import { StepExecutor } from "../../supervisor/src/steps/executor.ts";
import { ProcessRegistry } from "../../supervisor/src/steps/process-registry.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { ownerConnections } from "../support/sql-steps.ts";

describe("the step executor", () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: ["clockwork_v8", "clockwork"] });
    dir = mkdtempSync(join(tmpdir(), "clockwork-executor-"));
  });

  after(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a heartbeat that crosses a finished shell step's report neither stops it nor warns: the step is reported once, succeeded", async () => {
    const name = "report-race";
    const config = loadConfig(["--database-url", db.url, "--name", name, "--runtime-dir", join(dir, "runtime")], {});
    const logFile = join(dir, "supervisor.log");
    const { log } = createLogger("debug", name, logFile);
    const metrics = new SupervisorMetrics();
    const api = new ClockworkApi(db.pool, name, metrics);
    const session = await db.connect();
    await api.startWorker(session, [], "test-host", process.pid, false);

    // complete_step commits in the database; its answer is held here until the heartbeat has crossed it.
    let committed!: () => void;
    const reportCommitted = new Promise<void>((resolve) => (committed = resolve));
    let release!: () => void;
    const answerReleased = new Promise<void>((resolve) => (release = resolve));
    const completeStep = api.completeStep.bind(api);
    api.completeStep = async (...args: Parameters<ClockworkApi["completeStep"]>) => {
      const accepted = await completeStep(...args);
      committed();
      await answerReleased;
      return accepted;
    };

    const connections = ownerConnections(db.name);
    const executor = new StepExecutor(config, api, connections, new ProcessRegistry(config.runtimeDir, log), metrics, log, () => {});
    try {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "quick", steps: [{ name: "a", shell: "echo done" }] })]);
      const runId = (await db.query("SELECT clockwork.run_now('quick') AS id")).rows[0].id as string;
      const [claim] = (await api.tick(1)).claimed;
      assert.ok(claim, "the step was claimed");
      executor.start(claim);
      await reportCommitted;

      // The heartbeat names the step (it is still running here) after its completion committed:
      // the database answers that it no longer holds it.
      const beat = await api.heartbeat(executor.held());
      assert.deepEqual(beat.lost.map(String), [claim.step_run_id], "the database counts the reported step as no longer held");
      executor.lost(beat.lost);
      release();
      assert.ok(await executor.waitIdle(10_000), "the step's entry ended");

      const lines = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
      assert.deepEqual(lines.filter((l) => /stopping step/.test(l.msg)), [], "no step was stopped");
      assert.ok(lines.some((l) => l.msg === "step finished"), "the report's success was logged");
      assert.equal((await metrics.stepsRefused.get()).values.reduce((n, v) => n + v.value, 0), 0, "no report was refused");
      const { rows } = await db.query("SELECT s.state, s.attempt, s.stdout, r.state AS run_state FROM clockwork.step_runs AS s JOIN clockwork.runs AS r ON r.id = s.run_id WHERE s.run_id = $1", [runId]);
      assert.deepEqual(rows.map((r) => ({ ...r })), [{ state: "succeeded", attempt: 1, stdout: "done\n", run_state: "succeeded" }]);
    } finally {
      release();
      executor.killAll();
      await connections.end();
      await api.releaseWorker().catch(() => {});
    }
  });
});
