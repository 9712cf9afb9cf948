// End to end: the scheduler's own server refusing connections for a while, as it does while
// it restarts or recovers from a crash. A supervisor that claimed an SQL step then cannot
// open the owner's connection. That is no login this supervisor lacks: the step waits for
// the server and runs, attempt 1, and is never handed back (with no other supervisor, a
// hand-back failed the run with no_supervisor_can_log_in because of a restart). Here the owners' connections
// go through a TCP relay that drops them at first, as a server still starting does.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import pg from "pg";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { clusterEnv, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS, installClockworkSql } from "../support/runtime.ts";
import { connect, extensionMissing, sleep, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("the scheduler's server refusing connections for a while", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let relay: Server | undefined;
  const sockets = new Set<Socket>();

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_refuses" });
    await db.query("CREATE TABLE effects (run bigint, attempt int)");
  });
  after(async () => {
    await stopAllSupervisors();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
    await db?.drop();
  });

  test("a claimed SQL step waits for the server and runs, attempt 1, not handed back", async () => {
    const { host, port: serverPort } = clusterEnv();
    // The owners' connections go through this relay: it drops the first ones at once (a
    // server still starting), then relays to the server.
    let dropped = 0;
    let answering = false;
    relay = createServer((client) => {
      sockets.add(client);
      client.on("error", () => {});
      client.on("close", () => sockets.delete(client));
      if (!answering) {
        dropped++;
        client.destroy();
        return;
      }
      const upstream = netConnect(serverPort, host === "localhost" ? "127.0.0.1" : host);
      sockets.add(upstream);
      upstream.on("error", () => client.destroy());
      upstream.on("close", () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay!.listen(0, "127.0.0.1", resolve));
    const port = (relay.address() as { port: number }).port;
    const sup = startSupervisor(db.url, { name: "refused-sup", args: ["--owner-conninfo", `host=127.0.0.1 port=${port}`] });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    await db.query(`SELECT clockwork.define_job($1::jsonb)`, [JSON.stringify({
      name: "refused", steps: [{ name: "main", sql: "INSERT INTO effects VALUES (current_setting('clockwork.run_id')::bigint, current_setting('clockwork.attempt')::int)" }],
    })]);
    const runId = (await db.query("SELECT clockwork.run_now('refused') AS id")).rows[0].id as string;
    await waitFor("three of the step's connections dropped", async () => dropped >= 3, 30_000);
    answering = true;
    const run = await waitFor(`run ${runId} to finish`, async () =>
      (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0] as { state: string } | undefined, 60_000);
    assert.equal(run.state, "succeeded");
    const steps = (await db.query("SELECT attempt, state, coalesce(cardinality(refused_by), 0) AS refused FROM clockwork.step_runs WHERE run_id = $1", [runId])).rows;
    assert.deepEqual(steps, [{ attempt: 1, state: "succeeded", refused: 0 }]);
    assert.deepEqual((await db.query("SELECT attempt FROM effects WHERE run = $1", [runId])).rows, [{ attempt: 1 }]);
    assert.ok(!sup.logs.some((l) => /handed back/.test(String(l.msg))), "nothing was handed back");
  });
});

// max_connections reached: the server refuses every new connection of a role that is not a
// superuser ("remaining connection slots are reserved…", 53300), for every supervisor alike.
// That is not a login this supervisor lacks either: a hand-back failed the run at once with
// no_supervisor_can_log_in and a hint about .pgpass, though the owner could log in a moment later.
describe("the scheduler's server full (max_connections reached)", { skip: missing ?? false }, () => {
  let cluster: Cluster;
  const fillers: pg.Client[] = [];

  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 20, superuser_reserved_connections: 3 } });
    const admin = await connect(cluster.url("postgres"));
    await admin.query(installClockworkSql);
    await admin.query(`CREATE ROLE full_sup LOGIN IN ROLE clockwork_supervisor; CREATE ROLE full_alice LOGIN; CREATE ROLE full_filler LOGIN;
      CREATE TABLE effects (run bigint, attempt int); GRANT INSERT ON effects TO full_alice`);
    await admin.query("SET ROLE full_alice");
    const effect = "INSERT INTO effects VALUES (current_setting('clockwork.run_id')::bigint, current_setting('clockwork.attempt')::int)";
    await admin.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "while-full", steps: [{ name: "main", sql: effect }],
    })]);
    await admin.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "run-transaction-while-full", transaction: "run",
      steps: [{ name: "first", sql: effect }, { name: "second", sql: effect, depends: "first" }],
    })]);
    await admin.end();
  });
  after(async () => {
    await stopAllSupervisors();
    for (const c of fillers) await c.end().catch(() => {});
    cluster?.stop();
  });

  /** Takes every connection slot a role without superuser may use; returns the SQLSTATE of the refusal. */
  async function fillServer(): Promise<string | undefined> {
    for (;;) {
      const c = new pg.Client({ connectionString: cluster.url("postgres").replace("postgres@", "full_filler@") });
      c.on("error", () => {});
      try {
        await c.connect();
        fillers.push(c);
      } catch (error) {
        return (error as { code?: string }).code;
      }
    }
  }

  test("a claimed SQL step waits for a free connection and runs, attempt 1, not handed back", async () => {
    const db = await connect(cluster.url("postgres"));
    try {
      const sup = startSupervisor(cluster.url("postgres").replace("postgres@", "full_sup@"), { name: "full-sup" });
      await sup.waitForLog("registration", (l) => l.msg === "worker registered");
      // Every slot a role without superuser may use is taken (the supervisor's own
      // connections are open already).
      assert.equal(await fillServer(), "53300");
      const runId = (await db.query("SELECT clockwork.run_now('while-full') AS id")).rows[0].id as string;
      await waitFor("the step to be claimed", async () =>
        (await db.query("SELECT 1 FROM clockwork.step_runs WHERE run_id = $1 AND worker_id IS NOT NULL", [runId])).rows.length > 0);
      await sleep(1500);
      for (const c of fillers.splice(0, 5)) await c.end();
      const run = await waitFor(`run ${runId} to finish`, async () =>
        (await db.query("SELECT state, reason FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0] as { state: string; reason: string | null } | undefined, 60_000);
      assert.deepEqual(run, { state: "succeeded", reason: null });
      const steps = (await db.query("SELECT attempt, state, coalesce(cardinality(refused_by), 0) AS refused FROM clockwork.step_runs WHERE run_id = $1", [runId])).rows;
      assert.deepEqual(steps, [{ attempt: 1, state: "succeeded", refused: 0 }]);
      assert.deepEqual((await db.query("SELECT attempt FROM effects WHERE run = $1", [runId])).rows, [{ attempt: 1 }]);
      assert.ok(!sup.logs.some((l) => /handed back/.test(String(l.msg))), "nothing was handed back");
    } finally {
      await db.end();
    }
  });
  // The first step of a run's transaction opens it. Past the wait (30 s) it goes back
  // unstarted with the transaction it opened, so that its next claim opens it again: it
  // was handed back, and with one supervisor the run failed with no_supervisor_can_log_in.
  test("the first step of a run's transaction on a full server outlasting the wait goes back unstarted, transaction and all, and the run commits, attempt 1", async () => {
    const db = await connect(cluster.url("postgres"));
    try {
      await stopAllSupervisors();
      for (const c of fillers.splice(0)) await c.end();
      const sup = startSupervisor(cluster.url("postgres").replace("postgres@", "full_sup@"), { name: "full-sup-2" });
      await sup.waitForLog("registration", (l) => l.msg === "worker registered");
      assert.equal(await fillServer(), "53300");
      const runId = (await db.query("SELECT clockwork.run_now('run-transaction-while-full') AS id")).rows[0].id as string;
      await sup.waitForLog("the step given back unstarted", (l) => /given back unstarted/.test(String(l.msg)), 60_000);
      for (const c of fillers.splice(0, 5)) await c.end();
      const run = await waitFor(`run ${runId} to finish`, async () =>
        (await db.query("SELECT state, reason FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0] as { state: string; reason: string | null } | undefined, 90_000);
      assert.deepEqual(run, { state: "succeeded", reason: null });
      const steps = (await db.query("SELECT step, attempt, state FROM clockwork.step_runs WHERE run_id = $1 ORDER BY step", [runId])).rows;
      assert.deepEqual(steps, [{ step: "first", attempt: 1, state: "succeeded" }, { step: "second", attempt: 1, state: "succeeded" }]);
      assert.deepEqual((await db.query("SELECT attempt FROM effects WHERE run = $1", [runId])).rows, [{ attempt: 1 }, { attempt: 1 }], "both steps committed, once");
      assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.run_transactions")).rows[0].n, 0);
      assert.ok(!sup.logs.some((l) => /handed back/.test(String(l.msg))), "nothing was handed back");
    } finally {
      await db.end();
    }
  });
});
