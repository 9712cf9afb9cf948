// Housekeeping under a backlog (docs/sql-api.md): a worker whose ticks come back full runs
// the passes that look for work made by time or by other sessions (here: a lease that
// expired) at most every BUSY_HOUSEKEEPING_MS, counted by each tick's `now`; the tick after
// one whose claim was not full runs them, and so does a tick with max_claims 0. A worker's ticks share one session, as a
// supervisor's do (the state is per session), so each test ticks on one client.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import type { TestDatabase } from "../support/db.ts";
import { BUSY_HOUSEKEEPING_MS } from "../../extension/src/functions/tick.ts";
import { clockworkDatabase, defineJob, registerWorker, tick } from "./helpers.ts";

const LEASE_MS = 30_000;

describe("housekeeping under a backlog", () => {
  let db: TestDatabase;
  let client: pg.PoolClient | undefined;
  /** When w1's claim of the job "held" ends (its lease was taken at t0). */
  let leaseEnd: number;

  before(async () => {
    db = await clockworkDatabase();
    await defineJob(db, { name: "held", steps: [{ name: "a", shell: "sleep 600" }] });
    await defineJob(db, { name: "backlog", policies: { max_instances: 100 }, steps: [{ name: "a", shell: "true" }] });
  });
  after(async () => {
    client?.release();
    await db.drop();
  });
  beforeEach(async () => {
    client?.release();
    client = undefined;
    await db.query("delete from clockwork.runs");
    await db.query("delete from clockwork.workers");
    await registerWorker(db.pool, "w1");
    await registerWorker(db.pool, "w2");
    await db.query("select clockwork.run_now('held')");
    await db.query("select clockwork.run_now('backlog') from generate_series(1, 20)");
    // w1 claims the held step, then says nothing more: its lease ends 30 s later.
    const t0 = Date.now() + 1000;
    const claimed = (await tick(db.pool, "w1", new Date(t0), 1)).claimed;
    assert.deepEqual(claimed.map((c) => c.job), ["held"]);
    leaseEnd = t0 + LEASE_MS;
    client = await db.pool.connect();
  });

  const heldState = async () =>
    (await db.query("select array_agg(s.state order by s.attempt) as states from clockwork.step_runs as s join clockwork.runs as r on r.id = s.run_id join clockwork.jobs as j on j.id = r.job_id where j.name = 'held'")).rows[0].states as string[];

  test("a busy worker takes back an expired lease in its first tick a housekeeping interval after the last", async () => {
    // Full claims (1 of 20 ready): w2 is busy. Its first tick runs the passes: nothing expired yet.
    const first = leaseEnd - 50;
    assert.equal((await tick(client!, "w2", new Date(first), 1)).claimed.length, 1);
    assert.deepEqual(await heldState(), ["running"]);
    // The lease has ended, but this tick comes within the interval: the passes wait.
    assert.equal((await tick(client!, "w2", new Date(leaseEnd + 10), 1)).claimed.length, 1);
    assert.deepEqual(await heldState(), ["running"]);
    // The interval has passed: the lease is taken back (lost, attempt 2 ready).
    assert.equal((await tick(client!, "w2", new Date(first + BUSY_HOUSEKEEPING_MS), 1)).claimed.length, 1);
    assert.deepEqual(await heldState(), ["lost", "ready"]);
  });

  test("after a tick whose claim is not full, the next tick runs the passes", async () => {
    const first = leaseEnd - 50;
    assert.equal((await tick(client!, "w2", new Date(first), 1)).claimed.length, 1);
    // Room for more than is ready: this tick (still within the interval) ends the busy
    // spell, and says the expired lease is due now, so its supervisor ticks again at once.
    const notFull = await tick(client!, "w2", new Date(leaseEnd + 10), 100);
    assert.ok(notFull.claimed.length > 0 && notFull.claimed.length < 100, `claimed ${notFull.claimed.length}`);
    assert.ok(notFull.next_due_at !== null && Date.parse(notFull.next_due_at) <= leaseEnd + 10, `next_due_at ${notFull.next_due_at}`);
    assert.deepEqual(await heldState(), ["running"]);
    // The next tick, still within the interval, runs them (and claims attempt 2).
    assert.equal((await tick(client!, "w2", new Date(leaseEnd + 20), 1)).claimed.length, 1);
    assert.deepEqual(await heldState(), ["lost", "running"]);
  });

  test("a tick with max_claims 0 runs the passes, busy or not", async () => {
    assert.equal((await tick(client!, "w2", new Date(leaseEnd - 50), 1)).claimed.length, 1);
    await tick(client!, "w2", new Date(leaseEnd + 10), 0);
    assert.deepEqual(await heldState(), ["lost", "ready"]);
  });

  test("another session of the same worker runs the passes (the state is the session's)", async () => {
    const first = leaseEnd - 50;
    assert.equal((await tick(client!, "w2", new Date(first), 1)).claimed.length, 1);
    assert.equal((await tick(db.pool, "w2", new Date(leaseEnd + 10), 1)).claimed.length, 1);
    assert.deepEqual(await heldState(), ["lost", "ready"]);
  });
});
