// End to end: a supervisor's local queue (--claim-ahead). Under a backlog it claims beyond
// its free slots; a claim that waits a second there without a slot is given back unstarted,
// and another supervisor runs it, as attempt 1, while the first is still busy. A burst
// through two supervisors at the default (auto: a queue sized by the rate, reports held
// for company) is shared, and nothing is lost or recorded twice.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("claiming ahead (the supervisor's local queue)", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_claim_ahead" });
    dir = mkdtempSync(join(tmpdir(), "cw-claim-ahead-"));
  });

  after(async () => {
    if (dir) writeFileSync(join(dir, "go"), "");
    await stopAllSupervisors();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a claim queued behind a long step is given back after a second and runs elsewhere, attempt 1, meanwhile", async () => {
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "slow", policies: { overlap: { mode: "allow", max_instances: 10 } },
      // The first run to start holds its supervisor's one slot until the test lets it go (it
      // slept 6 s: a loaded machine took longer to start the second supervisor, and the busy
      // one ran the given-back step itself when its slot freed); the second ends at once.
      steps: [{ name: "main", shell: `mkdir ${dir}/first 2>/dev/null || exit 0; while [ ! -e ${dir}/go ]; do sleep 0.1; done` }],
    })]);
    const busy = startSupervisor(db.url, { name: "busy", args: ["--concurrency", "1", "--claim-ahead", "1", "--shutdown-grace", "1s"] });
    await busy.waitForLog("registration", (l) => l.msg === "worker registered", 60_000);
    await db.query("SELECT clockwork.run_now('slow') FROM generate_series(1, 2)");
    // The first claim fills its one slot (a backlog: its claim came back full); the next
    // tick claims one ahead, which waits in the queue, and is given back a second later.
    const released = await busy.waitForLog("a queued claim given back", (l) => l.msg === "claim given back unstarted: it waited too long for a slot here", 20_000);
    await waitFor("the first run to hold the busy supervisor's slot", () => existsSync(join(dir, "first")));
    const idle = startSupervisor(db.url, { name: "idle", args: ["--concurrency", "1", "--shutdown-grace", "1s"] });
    await waitFor("the given-back run to succeed", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE state = 'succeeded'")).rows[0].n === 1, 60_000);
    writeFileSync(join(dir, "go"), "");
    await waitFor("both runs to succeed", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE state = 'succeeded'")).rows[0].n === 2, 40_000);
    const steps = (await db.query(`
      SELECT step_run_id::text AS id, worker, attempt, state, started_at, finished_at
        FROM clockwork.step_history WHERE job = 'slow' ORDER BY started_at`)).rows;
    assert.deepEqual(steps.map((s) => [s.worker, s.attempt, s.state]), [["busy", 1, "succeeded"], ["idle", 1, "succeeded"]],
      "one attempt each, the given-back one run by the other supervisor; the release leaves no row");
    assert.equal(steps[1].id, String(released.step_run), "the step given back is the one the other supervisor ran");
    assert.ok(steps[1].started_at < steps[0].finished_at, "it did not wait for the busy supervisor's step to end");
    await Promise.all([busy.stop(), idle.stop()]);
  });

  test("a burst of SQL steps through two supervisors at the default (auto): both take part, every step and run recorded once, every report delivered by a tick", async () => {
    const steps = 600;
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "burst", policies: { overlap: { mode: "allow", max_instances: 100000 } },
      steps: [{ name: "main", sql: "SELECT 1 AS one" }],
    })]);
    const supervisors = ["burst-a", "burst-b"].map((name) => startSupervisor(db.url, { name, args: ["--concurrency", "4", "--shutdown-grace", "1s"] }));
    await Promise.all(supervisors.map((s) => s.waitForLog("registration", (l) => l.msg === "worker registered", 60_000)));
    await db.query("SELECT clockwork.run_now('burst') FROM generate_series(1, $1)", [steps]);
    await waitFor("every run of the burst to succeed", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs AS r JOIN clockwork.jobs AS j ON j.id = r.job_id WHERE j.name = 'burst' AND r.state = 'succeeded'")).rows[0].n === steps, 180_000, 200);
    const ran = (await db.query(`
      SELECT worker, count(*)::int AS steps, count(DISTINCT run_id)::int AS runs,
             count(*) FILTER (WHERE state = 'succeeded' AND attempt = 1 AND started_at IS NOT NULL AND finished_at >= started_at
                                AND result = '[{"one": 1}]'::jsonb)::int AS recorded
        FROM clockwork.step_history WHERE job = 'burst' GROUP BY worker ORDER BY worker`)).rows;
    assert.deepEqual(ran.map((r) => r.worker), ["burst-a", "burst-b"], "both supervisors ran part of the backlog");
    assert.equal(ran.reduce((n, r) => n + r.steps, 0), steps, "one step run per run: nothing ran twice");
    for (const r of ran) {
      assert.equal(r.recorded, r.steps, `${r.worker}: every step run succeeded once, with its times and its rows`);
      assert.equal(r.runs, r.steps, `${r.worker}: one step run per run`);
      assert.ok(r.steps >= 4, `${r.worker} ran at least its first claim (${r.steps})`);
    }
    // Each finished step's report went to the database with some tick (several share one
    // under a backlog); a claim given back unstarted is a report too.
    for (const [i, supervisor] of supervisors.entries()) {
      const expected = ran[i].steps;
      await waitFor(`${supervisor.name}: its ticks' reports to add up`, () => {
        const reported = supervisor.logs.filter((l) => l.msg === "tick").reduce((n, l) => n + Number(l.reports ?? 0), 0);
        const released = supervisor.logs.filter((l) => l.msg === "claim given back unstarted: it waited too long for a slot here").length;
        return reported === expected + released;
      }, 30_000);
    }
    await Promise.all(supervisors.map((s) => s.stop()));
  });
});
