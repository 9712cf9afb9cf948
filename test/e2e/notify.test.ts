// End to end: the supervisor sleeps without polling and is woken by NOTIFY; when its
// connections are cut (network loss, terminated backends) it reconnects and loses nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, sleep, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

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
