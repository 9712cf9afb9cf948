// End to end: supervisors that die and come back (docs/faults.md). A supervisor killed
// with kill -9 leaves no process behind; restarted under its name, it proves the dead one
// gone and takes its step over at once, as the next attempt, after the dead attempt's
// processes have ended; a second live supervisor with a name already in use is refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, sleep, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

/** Whether a process group has a member that is not a zombie. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** Polls until the group is gone; resolves with the ms it took, or rejects after `timeoutMs`. */
async function groupGone(pgid: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (groupAlive(pgid)) {
    if (performance.now() - started > timeoutMs) throw new Error(`process group ${pgid} still alive after ${timeoutMs} ms`);
    await sleep(10);
  }
  return performance.now() - started;
}

describe("supervisors that die and come back", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;
  let runtimeDir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_workers" });
    dir = mkdtempSync(join(tmpdir(), "cw-workers-"));
    runtimeDir = join(dir, "runtime");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const define = (definition: object) => db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
  const runNow = async (job: string) => String((await db.query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id);
  const supervisor = (name: string, args: string[] = []) =>
    startSupervisor(db.url, { name, args: ["--kill-grace", "1s", "--runtime-dir", runtimeDir, ...args] });
  const stdoutOf = async (runId: string, attempt: number) => waitFor(`attempt ${attempt} output`, async () => {
    const row = (await db.query("SELECT stdout FROM clockwork.step_runs WHERE run_id = $1 AND attempt = $2", [runId, attempt])).rows[0];
    return row?.stdout ? String(row.stdout) : undefined;
  });

  test("an orphan is gone within a second of its supervisor's kill -9, and a slow-to-die one is SIGKILLed", async () => {
    await define({ name: "orphan-quick", schedules: [], steps: [{ name: "s", shell: "echo pgid $$; sleep 100 & sleep 100 & wait" }] });
    await define({ name: "orphan-slow", schedules: [], steps: [{ name: "s", shell: "trap '' TERM; echo pgid $$; sleep 100 & wait" }] });
    const sup = supervisor("orphan-maker", ["--kill-grace", "2s"]);
    try {
      await sup.waitForLog("registration", (l) => l.msg === "worker registered");
      const quickRun = await runNow("orphan-quick");
      const slowRun = await runNow("orphan-slow");
      const quick = Number(/pgid (\d+)/.exec(await stdoutOf(quickRun, 1))![1]);
      const slow = Number(/pgid (\d+)/.exec(await stdoutOf(slowRun, 1))![1]);
      assert.ok(groupAlive(quick) && groupAlive(slow));

      assert.equal(await sup.stop("SIGKILL"), "SIGKILL");
      // Both measured from the kill.
      const [quickGoneMs, slowGoneMs] = (await Promise.all([groupGone(quick, 5000), groupGone(slow, 5000)])).map(Math.round) as [number, number];
      assert.ok(quickGoneMs < 1000, `an orphan is gone within a second: ${quickGoneMs} ms`);
      assert.ok(slowGoneMs >= 1800, `the one that ignores SIGTERM lives through the kill grace (2 s): ${slowGoneMs} ms`);
      assert.ok(slowGoneMs < 3500, `and is SIGKILLed then: ${slowGoneMs} ms`);
    } finally {
      await sup.stop("SIGKILL");
      await db.query("SELECT clockwork.cancel_run(r.id) FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name LIKE 'orphan-%' AND r.finished_at IS NULL");
    }
  });

  test("a same-name restart after kill -9 takes the dead incarnation's step over as attempt 2 within one lease", async () => {
    await define({ name: "phoenix-job", schedules: [], steps: [{ name: "s", shell: 'echo "attempt $CLOCKWORK_ATTEMPT pgid $$"; [ "$CLOCKWORK_ATTEMPT" -ge 2 ] || sleep 60' }] });
    const first = supervisor("phoenix");
    const registered = await first.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("phoenix-job");
    const pgid = Number(/pgid (\d+)/.exec(await stdoutOf(runId, 1))![1]);

    assert.equal(await first.stop("SIGKILL"), "SIGKILL");
    const killedAt = Date.now();
    const second = supervisor("phoenix");
    try {
      const again = await second.waitForLog("registration", (l) => l.msg === "worker registered");
      assert.equal(again.replaced, registered.worker_id, "the new incarnation replaced the dead one");
      assert.equal(again.taken_back, 1, "and took its running step back at once");
      const state = await waitFor("run to finish", async () =>
        (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 30_000);
      const tookMs = Date.now() - killedAt;
      assert.equal(state, "succeeded");
      assert.ok(tookMs < 30_000, `taken over within one lease (30 s): ${tookMs} ms`);
      assert.ok(tookMs < 10_000, `not by waiting for the lease, but at once: ${tookMs} ms`);
      const steps = (await db.query("SELECT attempt, state, worker_name, error FROM clockwork.step_runs WHERE run_id = $1 ORDER BY attempt", [runId])).rows;
      assert.deepEqual(steps.map((s) => [s.attempt, s.state, s.worker_name]), [[1, "lost", "phoenix"], [2, "succeeded", "phoenix"]]);
      assert.equal(groupAlive(pgid), false, "attempt 1's processes are gone");
      // The dead incarnation's row is gone once its lease was settled; one current incarnation remains.
      const rows = await waitFor("the dead incarnation's row to be cleaned up", async () => {
        const r = (await db.query("SELECT id::text, stopped_at FROM clockwork.workers WHERE name = 'phoenix'")).rows;
        return r.length === 1 ? r : undefined;
      });
      assert.deepEqual(rows, [{ id: again.worker_id, stopped_at: null }]);
    } finally {
      await second.stop();
    }
  });

  test("a re-run on the same host waits until the earlier attempt's processes have ended", async () => {
    const ledger = join(dir, "rerun-ledger");
    writeFileSync(ledger, "");
    await define({
      name: "overlap-guard", schedules: [],
      steps: [{
        name: "s",
        // Attempt 1 ignores SIGTERM: its watcher SIGKILLs it after the kill grace (8 s, longer
        // than a supervisor takes to start on a loaded machine). The trap comes before the
        // ledger line the test waits for: set after it, a loaded machine let the watcher's
        // SIGTERM arrive first, and attempt 1 was gone before there was anything to wait for.
        // Attempt 2 looks whether attempt 1's first process still runs as it starts.
        shell: `trap '' TERM
          echo "start $CLOCKWORK_ATTEMPT $(date +%s%3N) $$" >> ${ledger}
          if [ "$CLOCKWORK_ATTEMPT" -ge 2 ]; then
            p=$(awk '$1 == "start" && $2 == 1 { print $4 }' ${ledger})
            if grep -qs '^State:[[:space:]]*[A-WY]' /proc/$p/status; then echo "overlap $p" >> ${ledger}; fi
            exit 0
          fi
          sleep 100 & wait`,
      }],
    });
    const args = ["--kill-grace", "8s"];
    const first = supervisor("guarded", args);
    await first.waitForLog("registration", (l) => l.msg === "worker registered");
    const runId = await runNow("overlap-guard");
    const line = await waitFor("attempt 1 to start", () => readFileSync(ledger, "utf8").split("\n").find((l) => l.startsWith("start 1 ")));
    const pgid = Number(line.split(" ")[3]);
    assert.equal(await first.stop("SIGKILL"), "SIGKILL");
    const second = supervisor("guarded", args);
    try {
      await second.waitForLog("the re-run waits", (l) => /an earlier attempt of this step still runs on this host/.test(l.msg), 15_000);
      const goneAfterMs = await groupGone(pgid, 15_000);
      const goneAt = Date.now();
      await waitFor("run to finish", async () =>
        (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state === "succeeded", 20_000);
      const startOf2 = Number(readFileSync(ledger, "utf8").split("\n").find((l) => l.startsWith("start 2 "))!.split(" ")[2]);
      assert.ok(goneAfterMs > 500, `attempt 1 outlived the re-run's claim (it ignored SIGTERM): ${Math.round(goneAfterMs)} ms`);
      assert.ok(startOf2 >= goneAt - 150, `attempt 2 started ${goneAt - startOf2} ms before attempt 1's processes were gone`);
      assert.doesNotMatch(readFileSync(ledger, "utf8"), /overlap/, "attempt 1 ran no more when attempt 2 started");
    } finally {
      await second.stop();
    }
  });

  test("two live supervisors with one name: the second is refused, and the name is free as soon as the first stops", async () => {
    await define({ name: "on-boot", schedules: ["@reboot"], steps: [{ name: "s", sql: "SELECT 1" }] });
    const bootRuns = async () => Number((await db.query(
      "SELECT count(*) FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'on-boot'")).rows[0].count);
    const first = supervisor("twin");
    await first.waitForLog("registration", (l) => l.msg === "worker registered");
    await waitFor("the scheduler start to fire @reboot", async () => (await bootRuns()) === 1);

    const second = supervisor("twin");
    assert.equal(await second.exited, 6, "refused: exit code 6");
    assert.match(second.stderr.join(""), /worker name "twin" is in use: worker name "twin" is in use by a live supervisor: incarnation \d+, pid \d+ on /);
    assert.ok(second.logs.some((l) => l.level === "fatal"), "logged as fatal");
    assert.ok(!second.logs.some((l) => l.msg === "worker registered"));
    await sleep(300);
    assert.equal(await bootRuns(), 1, "the refused one was no scheduler start");
    assert.equal(first.child.exitCode, null, "the first one runs on");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.workers WHERE name = 'twin' AND stopped_at IS NULL")).rows[0].n, 1);

    await first.stop();
    const third = supervisor("twin");
    await third.waitForLog("registration", (l) => l.msg === "worker registered");
    await third.stop();
  });
});
