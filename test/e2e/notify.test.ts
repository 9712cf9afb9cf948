// End to end: the supervisor sleeps without polling and is woken by NOTIFY; when its
// connections are cut (network loss, terminated backends) it reconnects and loses nothing;
// a cancel of thousands of runs reaches it in several notifications.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, setLease, sleep, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();

describe("notifications and lost connections", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let sup: SupervisorProcess;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_notify" });
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "on-demand", schedules: [], steps: [{ name: "s", shell: "echo woken" }] })]);
    sup = startSupervisor(db.url, { name: "notify-1" });
    await sup.waitForLog("first tick", (l) => l.msg === "tick");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  test("an idle supervisor does not poll and is woken by NOTIFY when work is queued", async () => {
    await sleep(1000);
    const ticksBefore = sup.logs.filter((l) => l.msg === "tick").length;
    await sleep(2000);
    assert.equal(sup.logs.filter((l) => l.msg === "tick").length, ticksBefore, "no tick while nothing is due");

    const queued = Date.now();
    const runId = (await db.query("SELECT clockwork.run_now('on-demand') AS id")).rows[0].id;
    const started = await sup.waitForLog("step start", (l) => l.msg === "step started" && l.run === runId, 5000);
    const latency = Date.parse(String(started.time)) - queued;
    assert.ok(latency < 1000, `started ${latency} ms after run_now (the safety tick is 60 s away)`);
    const woke = sup.logs.filter((l) => l.msg === "tick" && l.reason === "notify");
    assert.ok(woke.length >= 1, "a NOTIFY woke the ticker");
  });

  test("terminated connections are re-established and scheduled work carries on", async () => {
    await db.query("CREATE TABLE beats (at timestamptz DEFAULT clock_timestamp())");
    await db.query("SELECT clockwork.schedule('beat', '* * * * * *', 'INSERT INTO beats DEFAULT VALUES')");
    await waitFor("two beats", async () => (await db.query("SELECT count(*)::int AS n FROM beats")).rows[0].n >= 2);
    const killed = await db.query(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'clockwork supervisor%'",
    );
    assert.ok(killed.rows[0].n >= 2, `terminated the LISTEN connection and pooled ones (${killed.rows[0].n})`);
    await sup.waitForLog("LISTEN restored", (l) => l.msg === "LISTEN connection restored", 10_000);
    const cut = new Date();
    await waitFor("beats after the cut", async () =>
      (await db.query("SELECT count(*)::int AS n FROM beats WHERE at > $1", [cut])).rows[0].n >= 2, 10_000);
    await db.query("SELECT clockwork.disable_job('beat')");
    await waitFor("runs to finish", async () => (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0);
    const series = (await db.query(`
      SELECT count(*)::int AS runs, (extract(epoch FROM max(slot_at) - min(slot_at)))::int + 1 AS span,
             count(*) FILTER (WHERE state <> 'succeeded')::int AS bad
        FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'beat'`)).rows[0];
    assert.equal(series.span, series.runs, "no slot lost");
    assert.equal(series.bad, 0);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM beats")).rows[0].n, series.runs, "each run took effect once");
    assert.equal(sup.child.exitCode, null);
  });
});

describe("a cancel of thousands of runs", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let sup: SupervisorProcess;
  let other: pg.Client;
  const cancels: string[][] = [];

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_cancel_many" });
    // A lease of 10 minutes: no heartbeat (every third of it) falls within the test, so the
    // supervisor learns of the cancel from NOTIFY clockwork_cancel only.
    await setLease(db, 600);
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "many", schedules: [], steps: [{ name: "wait", builtin: "sleep", args: { duration: "1h" } }],
    })]);
    // Another worker, this test's session, holds most of the running steps: a supervisor
    // running thousands of steps at once is not what this machine is for.
    other = await db.connect();
    await other.query("SELECT clockwork.register_worker('other', '{}')");
    const listener = await db.connect();
    listener.on("notification", (n) => { if (n.channel === "clockwork_cancel") cancels.push(JSON.parse(n.payload ?? "[]") as string[]); });
    await listener.query("LISTEN clockwork_cancel");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  const runNow = (n: number) => db.query("SELECT clockwork.run_now('many') FROM generate_series(1, $1::int)", [n]);
  const claimElsewhere = async (n: number) => {
    const { rows } = await other.query("SELECT clockwork.tick('other', $1::int) AS t", [n]);
    assert.equal(rows[0].t.claimed.length, n, "claimed by the other worker");
  };
  const runningIds = async () => (await db.query(
    "SELECT s.id::text FROM clockwork.step_runs s JOIN clockwork.runs r ON r.id = s.run_id JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'many' AND s.state = 'running'",
  )).rows.map((r) => r.id as string);

  test("drop_job of a job with 3000 running runs succeeds and the supervisor stops each of its steps, told in several NOTIFYs", async () => {
    // Runs 1-270 run elsewhere, 271-330 on the supervisor, 331-3000 elsewhere: told in run
    // order, 300 ids a NOTIFY, the supervisor's steps are named in the first two.
    await runNow(270);
    await claimElsewhere(270);
    await runNow(60);
    sup = startSupervisor(db.url, { name: "cancel-many", args: ["--concurrency", "60", "--claim-ahead", "0"] });
    await waitFor("60 steps running on the supervisor", () => sup.logs.filter((l) => l.msg === "step started").length === 60 || null, 60_000, 100);
    await runNow(2670);
    await claimElsewhere(2670);
    const onSupervisor = new Set(sup.logs.filter((l) => l.msg === "step started").map((l) => String(l.step_run)));
    assert.equal((await runningIds()).length, 3000);

    // All 3000 ids in one NOTIFY (about 21 000 bytes) made the drop fail: "payload string too long".
    await db.query("SELECT clockwork.drop_job('many')");
    const stopped = () => new Set(sup.logs.filter((l) => l.msg === "cancelling step: its run was cancelled").map((l) => String(l.step_run)));
    await waitFor("every step of the supervisor told to stop", () => stopped().size === 60 || null, 15_000, 100);
    assert.deepEqual([...stopped()].sort(), [...onSupervisor].sort());
    assert.ok(cancels.every((ids) => ids.length <= 300), `ids per NOTIFY: ${cancels.map((ids) => ids.length).join(", ")}`);
    assert.equal(cancels.flat().length, 3000);
    assert.equal(cancels.filter((ids) => ids.some((id) => onSupervisor.has(id))).length, 2, "the supervisor's steps were named in two NOTIFYs");
    await waitFor("the supervisor's steps ended", () => sup.logs.filter((l) => l.msg === "cancelled step ended").length === 60 || null, 30_000, 100);
    assert.equal((await runningIds()).length, 0);
    assert.equal(sup.child.exitCode, null);
  });
});
