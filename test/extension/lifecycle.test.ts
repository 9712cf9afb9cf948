// One run lifecycle: every way a run ends (a step's report, a check, cancel_run, an
// overlap replacement, a time-out, disable_job, drop_job) re-arms @after schedules,
// releases runs held back, and records states and reasons the same way. Pinned time.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import type { TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, tick, type StepClaim, withClockworkDatabase } from "./helpers.ts";

const at = (iso: string) => new Date(iso);

type Queryable = { query(sql: string, params?: unknown[]): Promise<pg.QueryResult<any>> };

async function complete(db: Queryable, claim: StepClaim, now: string, exitCode = 0, stdout = "") {
  const { rows } = await db.query("select clockwork.complete_step($1, 'w1', $2, $3, '', null, $4) as r", [claim.step_run_id, exitCode, stdout, now]);
  return rows[0].r as { accepted: boolean; state?: string; run_state?: string };
}

async function runRows(db: TestDatabase, job: string) {
  const { rows } = await db.query(
    `select run_id, slot_at, state, reason, steps_succeeded::int, steps_failed::int
       from clockwork.run_history where job = $1 order by run_id`, [job]);
  return rows as { run_id: string; slot_at: Date | null; state: string; reason: string | null; steps_succeeded: number; steps_failed: number }[];
}

async function nextFireAt(db: TestDatabase, job: string): Promise<string | null> {
  const { rows } = await db.query("select next_fire_at from clockwork.job_status where job = $1", [job]);
  return rows[0].next_fire_at === null ? null : (rows[0].next_fire_at as Date).toISOString();
}

describe("one run lifecycle", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("after cancel_run, an @after job fires again a delay after the cancel", async () => {
    await defineJob(db, { name: "after-cancel", schedules: ["@after 10m"], steps: [{ name: "a", shell: "sleep 600" }] }, "2040-01-01T00:00:00Z");
    const { claimed } = await tick(db.pool, "w1", "2040-01-01T00:10:00Z");
    const claim = claimed.find((c) => c.job === "after-cancel")!;
    assert.equal(await nextFireAt(db, "after-cancel"), null, "nothing is due while the run goes on");
    await db.query("select clockwork.cancel_run($1, $2)", [claim.run_id, at("2040-01-01T00:12:00Z")]);
    assert.equal(await nextFireAt(db, "after-cancel"), "2040-01-01T00:22:00.000Z");
    const [run] = await runRows(db, "after-cancel");
    assert.equal(run!.state, "cancelled");
    assert.equal(run!.reason, "cancelled by postgres");
  });

  test("a run held back by overlap: queue starts when the run ahead of it is cancelled", async () => {
    await defineJob(db, {
      name: "queued-cancel", schedules: ["* * * * *"], policies: { overlap: "queue" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-02-01T00:00:30Z");
    const first = (await tick(db.pool, "w1", "2040-02-01T00:01:00Z")).claimed.find((c) => c.job === "queued-cancel")!;
    await tick(db.pool, "w1", "2040-02-01T00:02:00Z", 0);
    let runs = await runRows(db, "queued-cancel");
    assert.deepEqual(runs.map((r) => r.state), ["running", "waiting"]);
    await db.query("select clockwork.cancel_run($1, $2)", [first.run_id, at("2040-02-01T00:02:30Z")]);
    runs = await runRows(db, "queued-cancel");
    assert.deepEqual(runs.map((r) => r.state), ["cancelled", "queued"]);
    const second = (await tick(db.pool, "w1", "2040-02-01T00:02:31Z")).claimed.find((c) => c.job === "queued-cancel");
    assert.equal(second?.run_id, runs[1]!.run_id, "its step is ready and claimed");
  });

  test("runs held back by buffer_all start oldest first when their ids have different lengths (9 before 10)", async () => {
    // Ids are compared as numbers: as text, run 10000001 went before 9999991, and a run
    // waited behind every later one whose id sorted first (seen after a crash, which moves
    // the id sequence on by 32).
    await defineJob(db, {
      name: "buffer-order", schedules: ["* * * * * *"], policies: { overlap: { mode: "buffer_all", max_queue: 5 } },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-02-02T00:00:00.500Z");
    const nextIdAfter = (id: number) => db.query("select setval(pg_get_serial_sequence('clockwork.runs', 'id'), $1)", [id]);
    const first = (await tick(db.pool, "w1", "2040-02-02T00:00:01Z")).claimed.find((c) => c.job === "buffer-order")!;
    await nextIdAfter(9_999_990);
    await tick(db.pool, "w1", "2040-02-02T00:00:02Z", 0);
    await nextIdAfter(10_000_000);
    await tick(db.pool, "w1", "2040-02-02T00:00:03Z", 0);
    let runs = await runRows(db, "buffer-order");
    assert.deepEqual(runs.map((r) => [r.run_id.length, r.state]), [[runs[0]!.run_id.length, "running"], [7, "waiting"], [8, "waiting"]]);
    await complete(db, first, "2040-02-02T00:00:03.500Z");
    runs = await runRows(db, "buffer-order");
    assert.deepEqual(runs.map((r) => r.state), ["succeeded", "queued", "waiting"], "the second's run starts, the third's still waits");
  });

  test("an @after job whose slot was missed during an outage keeps firing", async () => {
    await defineJob(db, { name: "after-missed", schedules: ["@after 30s"], steps: [{ name: "a", sql: "select 1" }] }, "2040-03-01T00:00:00Z");
    assert.equal(await nextFireAt(db, "after-missed"), "2040-03-01T00:00:30.000Z");
    // No supervisor until 00:10: the slot at 00:00:30 is missed (misfire skip, grace 60 s).
    await tick(db.pool, "w1", "2040-03-01T00:10:00Z", 0);
    assert.deepEqual(await runRows(db, "after-missed"), []);
    const skipped = await db.query(
      `select k.reason from clockwork.skipped_slots k join clockwork.schedules s on s.id = k.schedule_id
         join clockwork.jobs j on j.id = s.job_id where j.name = 'after-missed'`);
    assert.deepEqual(skipped.rows.map((r) => r.reason), ["misfire_skipped"]);
    assert.equal(await nextFireAt(db, "after-missed"), "2040-03-01T00:10:30.000Z", "the delay counts from the tick that skipped the slot");
    await tick(db.pool, "w1", "2040-03-01T00:10:30Z", 0);
    assert.equal((await runRows(db, "after-missed")).length, 1);
  });

  test("a check that gets its expected non-zero exit code is recorded as passed and counted as a success", async () => {
    await defineJob(db, {
      name: "check-exit-4",
      steps: [{ name: "work", shell: "true" }],
      checks: [{ name: "verify", shell: "exit 4", expected_exit_code: 4 }],
    });
    await db.query("select clockwork.run_now('check-exit-4', '{}', '2040-04-01T00:00:00Z')");
    const work = (await tick(db.pool, "w1", "2040-04-01T00:00:00Z")).claimed.find((c) => c.job === "check-exit-4")!;
    await complete(db, work, "2040-04-01T00:00:01Z");
    const check = (await tick(db.pool, "w1", "2040-04-01T00:00:01Z")).claimed.find((c) => c.job === "check-exit-4")!;
    assert.equal(check.step, "verify");
    const answer = await complete(db, check, "2040-04-01T00:00:02Z", 4);
    assert.deepEqual([answer.state, answer.run_state], ["succeeded", "succeeded"]);
    const steps = await db.query("select step, state, exit_code, error from clockwork.step_history where job = 'check-exit-4' order by step_run_id");
    assert.deepEqual(steps.rows.map((r) => [r.step, r.state, r.exit_code]), [["work", "succeeded", 0], ["verify", "succeeded", 4]]);
    assert.match(steps.rows[1].error, /exit code 4 was expected/);
    const [run] = await runRows(db, "check-exit-4");
    assert.deepEqual([run!.state, run!.steps_succeeded, run!.steps_failed], ["succeeded", 2, 0]);
  });

  test("a check that exits 0 without its expected output is recorded as failed", async () => {
    await defineJob(db, {
      name: "check-output",
      steps: [{ name: "work", shell: "true" }],
      checks: [{ name: "verify", shell: "echo nope", expected: ["OK"] }],
    });
    await db.query("select clockwork.run_now('check-output', '{}', '2040-04-02T00:00:00Z')");
    const work = (await tick(db.pool, "w1", "2040-04-02T00:00:00Z")).claimed.find((c) => c.job === "check-output")!;
    await complete(db, work, "2040-04-02T00:00:01Z");
    const check = (await tick(db.pool, "w1", "2040-04-02T00:00:01Z")).claimed.find((c) => c.job === "check-output")!;
    const answer = await complete(db, check, "2040-04-02T00:00:02Z", 0, "nope\n");
    assert.deepEqual([answer.state, answer.run_state], ["failed", "failed"]);
    const [run] = await runRows(db, "check-output");
    assert.deepEqual([run!.steps_succeeded, run!.steps_failed], [1, 1]);
    assert.match(run!.reason!, /lacks expected "OK"/);
  });

  test("a step with on_error: succeed that fails is recorded as a success, with its error kept", async () => {
    await defineJob(db, {
      name: "on-error-succeed",
      steps: [{ name: "flaky", shell: "exit 3", on_error: "succeed" }, { name: "next", shell: "true", depends: ["flaky"] }],
    });
    await db.query("select clockwork.run_now('on-error-succeed', '{}', '2040-05-01T00:00:00Z')");
    const flaky = (await tick(db.pool, "w1", "2040-05-01T00:00:00Z")).claimed.find((c) => c.job === "on-error-succeed")!;
    const answer = await complete(db, flaky, "2040-05-01T00:00:01Z", 3);
    assert.equal(answer.state, "succeeded");
    const steps = await db.query("select step, state, exit_code, error from clockwork.step_history where job = 'on-error-succeed' order by step_run_id");
    assert.deepEqual([steps.rows[0].state, steps.rows[0].exit_code], ["succeeded", 3]);
    assert.match(steps.rows[0].error, /on_error: succeed/);
    const [run] = await runRows(db, "on-error-succeed");
    assert.equal(run!.steps_failed, 0);
  });

  test("a run ended by its time-out is timed_out, and its @after schedule is re-armed", async () => {
    await defineJob(db, {
      name: "timeout-after", schedules: ["@after 5m"], policies: { timeout: "1m" },
      steps: [{ name: "hang", shell: "sleep 600" }],
    }, "2040-06-01T00:00:00Z");
    await tick(db.pool, "w1", "2040-06-01T00:05:00Z");
    await tick(db.pool, "w1", "2040-06-01T00:06:00Z", 0);
    const [run] = await runRows(db, "timeout-after");
    assert.deepEqual([run!.state, run!.reason], ["timed_out", "run exceeded its time-out of 1 minute"]);
    assert.equal(await nextFireAt(db, "timeout-after"), "2040-06-01T00:11:00.000Z");
  });

  test("overlap replace names the run that replaced the old one", async () => {
    await defineJob(db, {
      name: "replacing", schedules: ["* * * * *"], policies: { overlap: "replace" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-07-01T00:00:30Z");
    await tick(db.pool, "w1", "2040-07-01T00:01:00Z");
    const second = (await tick(db.pool, "w1", "2040-07-01T00:02:00Z")).claimed.find((c) => c.job === "replacing")!;
    const runs = await runRows(db, "replacing");
    assert.deepEqual(runs.map((r) => r.state), ["cancelled", "running"]);
    assert.equal(runs[0]!.reason, `replaced by run ${second.run_id} (overlap: terminate_other)`);
  });

  test("disable_job cancels runs held back, lets running ones finish, and does not re-arm @after", async () => {
    await defineJob(db, {
      name: "disabled-queue", schedules: ["@after 1m"], policies: { overlap: "queue" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-08-01T00:00:00Z");
    const first = (await tick(db.pool, "w1", "2040-08-01T00:01:00Z")).claimed.find((c) => c.job === "disabled-queue")!;
    const extra = await db.query("select clockwork.run_now('disabled-queue', '{}', '2040-08-01T00:01:10Z') as id");
    await db.query("select clockwork.disable_job('disabled-queue')");
    // the manual run is not held back (manual runs ignore the overlap policy): it continues
    let runs = await runRows(db, "disabled-queue");
    assert.deepEqual(runs.map((r) => r.state), ["running", "queued"]);
    await complete(db, first, "2040-08-01T00:02:00Z");
    assert.equal(await nextFireAt(db, "disabled-queue"), null, "a disabled job is not re-armed by a run's end");
    await db.query("select clockwork.cancel_run($1, '2040-08-01T00:02:01Z')", [extra.rows[0].id]);
    await db.query("select clockwork.enable_job('disabled-queue', '2040-08-01T00:03:00Z')");
    assert.equal(await nextFireAt(db, "disabled-queue"), "2040-08-01T00:04:00.000Z");
    runs = await runRows(db, "disabled-queue");
    assert.deepEqual(runs.map((r) => r.state), ["succeeded", "cancelled"]);
  });

  test("disable_job cancels a run waiting behind a running one", async () => {
    await defineJob(db, {
      name: "disabled-waiting", schedules: ["* * * * *"], policies: { overlap: "queue" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2040-08-02T00:00:30Z");
    await tick(db.pool, "w1", "2040-08-02T00:01:00Z");
    await tick(db.pool, "w1", "2040-08-02T00:02:00Z", 0);
    await db.query("select clockwork.disable_job('disabled-waiting')");
    const runs = await runRows(db, "disabled-waiting");
    assert.deepEqual(runs.map((r) => [r.state, r.reason]), [["running", null], ["cancelled", "job disabled by postgres"]]);
  });

  test("drop_job stops running steps through the lifecycle (their supervisor is told)", async () => {
    const listener = await db.pool.connect();
    const cancels: string[] = [];
    listener.on("notification", (n) => { if (n.channel === "clockwork_cancel") cancels.push(n.payload ?? ""); });
    await listener.query("listen clockwork_cancel");
    try {
      await defineJob(db, { name: "dropped", steps: [{ name: "a", shell: "sleep 600" }] });
      await db.query("select clockwork.run_now('dropped', '{}', '2040-09-01T00:00:00Z')");
      const claim = (await tick(db.pool, "w1", "2040-09-01T00:00:00Z")).claimed.find((c) => c.job === "dropped")!;
      await db.query("select clockwork.drop_job('dropped')");
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(cancels.some((p) => p.includes(claim.step_run_id)), `cancel notified: ${JSON.stringify(cancels)}`);
      const late = await complete(db, claim, "2040-09-01T00:00:05Z");
      assert.equal(late.accepted, false);
    } finally {
      await listener.query("unlisten *");
      listener.release();
    }
  });

  test("drop_job of a job with 3000 running steps succeeds and tells their supervisors, at most 300 ids a NOTIFY", async () => {
    // NOTIFY payloads are limited to 8000 bytes: all 3000 ids in one (about 21 000 bytes)
    // made the drop fail with "payload string too long". Step run ids as long as a bigint
    // gets (19 digits), so that 300 of them must still fit.
    await db.query("select setval(pg_get_serial_sequence('clockwork.step_runs', 'id'), 9000000000000000000)");
    const listener = await db.pool.connect();
    const cancels: string[] = [];
    listener.on("notification", (n) => { if (n.channel === "clockwork_cancel") cancels.push(n.payload ?? ""); });
    await listener.query("listen clockwork_cancel");
    try {
      await defineJob(db, { name: "dropped-many", steps: [{ name: "a", shell: "sleep 600" }] });
      await db.query("select clockwork.run_now('dropped-many', '{}', '2040-09-02T00:00:00Z') from generate_series(1, 3000)");
      const claimed = (await tick(db.pool, "w1", "2040-09-02T00:00:00Z", 3000)).claimed.filter((c) => c.job === "dropped-many");
      assert.equal(claimed.length, 3000);
      await db.query("select clockwork.drop_job('dropped-many')");
      await new Promise((r) => setTimeout(r, 200));
      for (const payload of cancels) assert.ok(Buffer.byteLength(payload) < 8000, `${Buffer.byteLength(payload)} bytes`);
      const told = cancels.map((p) => JSON.parse(p) as string[]);
      assert.ok(told.every((ids) => ids.length <= 300), `ids per NOTIFY: ${told.map((ids) => ids.length).join(", ")}`);
      const ids = new Set(claimed.map((c) => String(c.step_run_id)));
      // (The tick may also have stopped a step of an earlier test's run: only this job's count.)
      assert.deepEqual(told.flat().filter((id) => ids.has(id)).sort(), [...ids].sort(), "every running step, each once");
      const late = await complete(db, claimed[2999]!, "2040-09-02T00:00:05Z");
      assert.equal(late.accepted, false);
    } finally {
      await listener.query("unlisten *");
      listener.release();
    }
  });
});

// Issue 15, item 1: session A completes the last step of run R while session B ticks the
// slot after R's. Whatever the interleaving, the next run must not be left waiting with
// nothing running.
describe("overlap queue: a run ending while the next slot fires", () => {
  let db: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;
  let n = 0;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    a = await db.connect();
    b = await db.connect();
  });
  after(async () => {
    await db.drop();
  });

  /** A queue job (every 10 s) whose run R (slot 00:00:10) is running; returns R's claim. */
  async function setUp(): Promise<{ job: string; claim: StepClaim; day: string }> {
    const job = `race-${++n}`;
    const day = `2041-01-${String(n).padStart(2, "0")}`;
    await defineJob(db, {
      name: job, schedules: ["*/10 * * * * *"], policies: { overlap: "queue" },
      steps: [{ name: "a", shell: "true" }],
    }, `${day}T00:00:05Z`);
    const claim = (await tick(db.pool, "w1", `${day}T00:00:10Z`)).claimed.find((c) => c.job === job)!;
    return { job, claim, day };
  }

  /** After the interleaving (and one more tick at the same time): nothing is stuck. */
  async function assertNothingStuck(job: string, day: string): Promise<void> {
    await tick(db.pool, "w1", `${day}T00:00:20.100Z`, 0);
    const runs = await runRows(db, job);
    assert.deepEqual(runs.map((r) => r.slot_at?.toISOString()), [`${day}T00:00:10.000Z`, `${day}T00:00:20.000Z`]);
    assert.equal(runs[0]!.state, "succeeded");
    assert.equal(runs[1]!.state, "queued", `the 00:00:20 run starts (states: ${runs.map((r) => r.state)})`);
    const ready = await db.query(
      "select count(*)::int as n from clockwork.step_runs where run_id = $1 and state = 'ready'", [runs[1]!.run_id]);
    assert.equal(ready.rows[0].n, 1);
  }

  test("complete first, then tick", async () => {
    const { job, claim, day } = await setUp();
    await complete(a, claim, `${day}T00:00:20Z`);
    await tick(b, "w1", `${day}T00:00:20Z`, 0);
    await assertNothingStuck(job, day);
  });

  test("tick first (the new run waits), then complete releases it", async () => {
    const { job, claim, day } = await setUp();
    await tick(b, "w1", `${day}T00:00:20Z`, 0);
    assert.deepEqual((await runRows(db, job)).map((r) => r.state), ["running", "waiting"]);
    await complete(a, claim, `${day}T00:00:20Z`);
    await assertNothingStuck(job, day);
  });

  test("complete's transaction open while the tick runs and commits", async () => {
    const { job, claim, day } = await setUp();
    await a.query("begin");
    await complete(a, claim, `${day}T00:00:20Z`);
    await b.query("begin");
    await tick(b, "w1", `${day}T00:00:20Z`, 0); // must not wait for A, must not create a stuck run
    await b.query("commit");
    await a.query("commit");
    await assertNothingStuck(job, day);
  });

  test("the tick's transaction open while complete runs (it waits), then both commit", async () => {
    const { job, claim, day } = await setUp();
    await b.query("begin");
    await tick(b, "w1", `${day}T00:00:20Z`, 0);
    await a.query("begin");
    const completing = complete(a, claim, `${day}T00:00:20Z`);
    await new Promise((r) => setTimeout(r, 100));
    await b.query("commit");
    await completing;
    await a.query("commit");
    await assertNothingStuck(job, day);
  });

  test("both at once, many times", async () => {
    for (let i = 0; i < 15; i++) {
      const { job, claim, day } = await setUp();
      await Promise.all([
        complete(a, claim, `${day}T00:00:20Z`),
        tick(b, "w1", `${day}T00:00:20Z`, 0),
      ]);
      await assertNothingStuck(job, day);
    }
  });
});

// Issue 9 flagged tick's catch around jobVersion: only a definition this version cannot read
// may be survived (recorded as definition_unreadable); anything else ends the tick.
describe("a stored definition tick cannot read", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("stops that job's schedule with the reason, and every other job fires", async () => {
    await defineJob(db, { name: "unreadable", schedules: ["* * * * *"], steps: [{ name: "a", shell: "true" }] }, "2044-01-01T00:00:30Z");
    await defineJob(db, { name: "fine", schedules: ["* * * * *"], steps: [{ name: "a", shell: "true" }] }, "2044-01-01T00:00:30Z");
    // As an older version might have stored it: a field this version refuses.
    await db.query(`UPDATE clockwork.job_versions v SET definition = v.definition || '{"policies": {"overlap": "sometimes"}}'
                      FROM clockwork.jobs j WHERE j.id = v.job_id AND j.name = 'unreadable'`);
    // A new session, as after an upgrade: no parsed definition cached from define_job.
    const fresh = await db.connect();
    const { claimed } = await tick(fresh, "w1", "2044-01-01T00:01:00Z");
    await fresh.end();
    assert.deepEqual(claimed.map((c) => c.job), ["fine"]);
    const skips = (await db.query("select job, reason from clockwork.skip_history where job = 'unreadable'")).rows;
    assert.deepEqual(skips, [{ job: "unreadable", reason: "definition_unreadable" }]);
    assert.equal(await nextFireAt(db, "unreadable"), null);
  });
});
