// Worker incarnations (extension/sql/40_workers.sql, docs/faults.md): every start is a new
// incarnation fenced by its id; a supervisor's session proves it alive; a name held by a
// live one is refused; one found gone has its steps taken back at once and its row cleaned
// up once they are settled; a scheduler start is recognised once.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import type { TestDatabase } from "../support/db.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { clockworkDatabase, defineJob, sqlErrorOf, type StepClaim } from "./helpers.ts";

interface Registration {
  worker_id: string;
  lease_ms: number;
  replaced: string | null;
  taken_back: number;
  scheduler_start: boolean;
  installation: string;
}

async function startWorker(client: pg.ClientBase, name: string, options: { dedicated?: boolean; now?: Date } = {}): Promise<Registration> {
  const { rows } = await client.query("select clockwork.start_worker($1, '{}', 'test-host', 4242, $2, $3) as r",
    [name, options.dedicated ?? false, options.now ?? new Date()]);
  return rows[0].r;
}

async function tickAs(db: TestDatabase, workerId: string, now: Date): Promise<{ claimed: StepClaim[]; next_due_at: string | null }> {
  const { rows } = await db.query("select clockwork.tick($1::bigint, 100, $2) as t", [workerId, now]);
  return rows[0].t;
}

async function workerRows(db: TestDatabase, name: string) {
  return (await db.query("select id::text, stopped_at from clockwork.workers where name = $1 order by id", [name])).rows;
}

describe("worker incarnations", () => {
  let db: TestDatabase;
  let n = 0;
  const job = async () => {
    const name = `job-${++n}`;
    await defineJob(db, { name, steps: [{ name: "s", shell: "sleep 60" }] });
    return name;
  };

  before(async () => {
    db = await clockworkDatabase();
  });
  after(async () => {
    await db.drop();
  });
  // Tests pin times far apart: a run left going would be taken over by the next test's tick.
  afterEach(async () => {
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where finished_at is null");
  });

  test("a name whose supervisor's session is connected is refused, and free as soon as that session ends", async () => {
    const a = await db.connect();
    const b = await db.connect();
    const first = await startWorker(a, "alpha");
    const refused = await sqlErrorOf(b, "select clockwork.start_worker('alpha')");
    assert.equal(refused.code, SQLSTATE.worker_name_in_use);
    assert.match(refused.message, new RegExp(`worker name "alpha" is in use by a live supervisor: incarnation ${first.worker_id}, pid 4242 on test-host`));
    assert.equal(refused.detail, "Its session to the database is connected.");
    await a.end();
    const second = await startWorker(b, "alpha");
    assert.equal(second.replaced, first.worker_id);
    assert.notEqual(second.worker_id, first.worker_id);
  });

  test("the same session registering again replaces its own incarnation", async () => {
    const a = await db.connect();
    const first = await startWorker(a, "self");
    const again = await startWorker(a, "self");
    assert.equal(again.replaced, first.worker_id);
    assert.deepEqual((await workerRows(db, "self")).filter((w) => w.stopped_at === null).map((w) => w.id), [again.worker_id]);
  });

  test("a worker registered by hand holds its name while it heartbeats; the refusal says when to try again", async () => {
    await db.query("select clockwork.register_worker('by-hand', '{}', null, null, '2040-01-01T00:00:00Z')");
    const refused = await sqlErrorOf(db, "select clockwork.register_worker('by-hand', '{}', null, null, '2040-01-01T00:00:10Z')");
    assert.equal(refused.code, SQLSTATE.worker_name_in_use);
    assert.match(refused.detail!, /retry_after_ms=20000$/);
    // A lease (30 s) after its last heartbeat, it counts as gone.
    await db.query("select clockwork.register_worker('by-hand', '{}', null, null, '2040-01-01T00:00:31Z')");
  });

  test("a supervisor found gone has its steps taken back by the next tick at once, as attempt 2, and its row goes once they are settled and a day has passed", async () => {
    const name = await job();
    const t0 = new Date("2041-03-01T00:00:00Z");
    const dying = await db.connect();
    const gone = await startWorker(dying, "mortal", { now: t0 });
    const survivor = await startWorker(await db.connect(), "survivor", { now: t0 });
    await db.query("select clockwork.run_now($1, '{}', $2)", [name, t0]);
    const claim = (await tickAs(db, gone.worker_id, t0)).claimed.find((c) => c.job === name)!;
    assert.equal(claim.attempt, 1);
    await dying.end(); // kill -9: its session ends

    // A second later (its lease has 29 s to go), any tick takes the step back.
    const t1 = new Date(t0.getTime() + 1000);
    const retaken = await waitForClaim(db, survivor.worker_id, t1, name);
    assert.equal(retaken.attempt, 2);
    assert.deepEqual(retaken.earlier_attempts, [claim.step_run_id]);
    const steps = (await db.query("select attempt, state, worker_name from clockwork.step_runs where id = any($1::bigint[]) order by attempt",
      [[claim.step_run_id, retaken.step_run_id]])).rows;
    assert.deepEqual(steps, [{ attempt: 1, state: "lost", worker_name: "mortal" }, { attempt: 2, state: "running", worker_name: "survivor" }]);
    // Its lease settled, the dead incarnation's row stays while it is the last word on its
    // name (the worker_lost alert reads it), ended as gone; a day later a tick deletes it.
    await tickAs(db, survivor.worker_id, t1);
    assert.deepEqual((await db.query("select ended_by from clockwork.workers where name = 'mortal'")).rows, [{ ended_by: "gone" }]);
    await tickAs(db, survivor.worker_id, new Date(t1.getTime() + 25 * 3600_000));
    assert.deepEqual(await workerRows(db, "mortal"), []);
    // Its incarnation id is refused from now on.
    assert.equal((await sqlErrorOf(db, "select clockwork.tick($1::bigint, 1)", [gone.worker_id])).code, SQLSTATE.worker_ended);
  });

  test("a replaced incarnation can neither tick, heartbeat, append output nor complete its step", async () => {
    const name = await job();
    const t0 = new Date("2041-04-01T00:00:00Z");
    const old = await db.connect();
    const first = await startWorker(old, "zombie", { now: t0 });
    await db.query("select clockwork.run_now($1, '{}', $2)", [name, t0]);
    const claim = (await tickAs(db, first.worker_id, t0)).claimed.find((c) => c.job === name)!;
    // The old process's session dies (a network cut) and a new one takes the name; the old
    // process lives on, and still knows its incarnation id and its step.
    await old.end();
    const second = await startWorker(await db.connect(), "zombie", { now: t0 });
    assert.equal(second.replaced, first.worker_id);
    assert.equal(second.taken_back, 1);

    const tickError = await sqlErrorOf(db, "select clockwork.tick($1::bigint, 1, $2)", [first.worker_id, t0]);
    assert.equal(tickError.code, SQLSTATE.worker_ended);
    assert.match(tickError.message, new RegExp(`worker incarnation ${first.worker_id} \\("zombie"\\) ended at .*; the name is held by incarnation ${second.worker_id} \\(pid 4242 on test-host\\)`));
    assert.equal((await sqlErrorOf(db, "select clockwork.heartbeat($1::bigint, $2::bigint[], now())", [first.worker_id, [claim.step_run_id]])).code, SQLSTATE.worker_ended);
    assert.equal((await db.query("select clockwork.append_output($1, $2::bigint, 'stdout', 'late') as ok", [claim.step_run_id, first.worker_id])).rows[0].ok, false);
    const done = await db.query("select clockwork.complete_step($1, $2::bigint, 0) as r", [claim.step_run_id, first.worker_id]);
    assert.equal(done.rows[0].r.accepted, false);
    // The new incarnation never extends the old one's lease: it does not run that step.
    const beat = await db.query("select clockwork.heartbeat($1::bigint, '{}', $2) as r", [second.worker_id, new Date(t0.getTime() + 1000)]);
    assert.deepEqual(beat.rows[0].r.extended, []);
    const retaken = await waitForClaim(db, second.worker_id, new Date(t0.getTime() + 1000), name);
    assert.equal(retaken.attempt, 2, "the step is run again as attempt 2, at once");
  });

  test("a heartbeat extends only the leases of the steps it names, and says which it no longer holds", async () => {
    const [j1, j2] = [await job(), await job()];
    const t0 = new Date("2041-05-01T00:00:00Z");
    const me = await startWorker(await db.connect(), "beater", { now: t0 });
    await db.query("select clockwork.run_now($1, '{}', $3), clockwork.run_now($2, '{}', $3)", [j1, j2, t0]);
    const claims = (await tickAs(db, me.worker_id, t0)).claimed;
    const [c1, c2] = [claims.find((c) => c.job === j1)!, claims.find((c) => c.job === j2)!];
    await db.query("select clockwork.cancel_run(run_id) from clockwork.step_runs where id = $1", [c2.step_run_id]);
    const t1 = new Date(t0.getTime() + 20_000);
    const beat = (await db.query("select clockwork.heartbeat($1::bigint, $2::bigint[], $3) as r",
      [me.worker_id, [c1.step_run_id, c2.step_run_id, "999999"], t1])).rows[0].r;
    assert.deepEqual(beat.extended, [c1.step_run_id]);
    assert.deepEqual(beat.lost.sort(), [c2.step_run_id, "999999"].sort(), "a cancelled step and an unknown one are not held");
    const leases = (await db.query("select id::text, lease_expires_at from clockwork.step_runs where id = any($1::bigint[]) order by id",
      [[c1.step_run_id, c2.step_run_id]])).rows;
    assert.equal(leases[0].lease_expires_at.toISOString(), "2041-05-01T00:00:50.000Z");
  });

  test("a session lost with a server restart counts as alive while the supervisor heartbeats", async () => {
    const t0 = new Date("2041-06-01T00:00:00Z");
    const s = await db.connect();
    const first = await startWorker(s, "restarting", { now: t0 });
    // As after a restart: the recorded session belongs to an earlier life of the server.
    await db.query("update clockwork.workers set session_server_start = '2000-01-01' where id = $1", [first.worker_id]);
    await s.end();
    const other = await db.connect();
    const refused = await sqlErrorOf(other, "select clockwork.start_worker('restarting', '{}', null, null, false, $1)", [new Date(t0.getTime() + 5000)]);
    assert.equal(refused.code, SQLSTATE.worker_name_in_use);
    assert.match(refused.detail!, /retry_after_ms=25000$/);
    // A tick does not end it either: it may be reconnecting.
    await db.query("select clockwork.register_worker('bystander', '{}', null, null, $1)", [t0]);
    await db.query("select clockwork.tick('bystander', 0, $1)", [new Date(t0.getTime() + 5000)]);
    assert.equal((await workerRows(db, "restarting"))[0].stopped_at, null);
    // It re-attaches on its new session: present again.
    const s2 = await db.connect();
    await s2.query("select clockwork.attach_worker($1, $2)", [first.worker_id, new Date(t0.getTime() + 6000)]);
    assert.equal((await sqlErrorOf(other, "select clockwork.start_worker('restarting')")).detail, "Its session to the database is connected.");
    // Had it never come back, the name would be free a lease after its last heartbeat.
    await s2.end();
    await db.query("update clockwork.workers set session_server_start = '2000-01-01' where id = $1", [first.worker_id]);
    const later = await startWorker(other, "restarting", { now: new Date(t0.getTime() + 37_000) });
    assert.equal(later.replaced, first.worker_id);
  });

  test("a scheduler start is recognised once when two supervisors start together, and not for a dedicated one", async () => {
    const d = await clockworkDatabase();
    try {
      await defineJob(d, { name: "boot", schedules: ["@reboot"], steps: [{ name: "s", sql: "select 1" }] });
      const sessions = await Promise.all(Array.from({ length: 4 }, () => d.connect()));
      const dedicated = await startWorker(sessions[0]!, "runner", { dedicated: true });
      assert.equal(dedicated.scheduler_start, false);
      const regs = await Promise.all(sessions.slice(1).map((s, i) => startWorker(s, `sup-${i}`)));
      assert.deepEqual(regs.map((r) => r.scheduler_start).filter(Boolean), [true], "exactly one start");
      await d.query("select clockwork.tick($1::bigint, 0)", [regs[0]!.worker_id]);
      await d.query("select clockwork.tick($1::bigint, 0)", [regs[1]!.worker_id]);
      const runs = (await d.query("select count(*)::int as n from clockwork.run_history where job = 'boot'")).rows[0].n;
      assert.equal(runs, 1);
      // A supervisor refused for its name is no start either.
      const refused = await sqlErrorOf(await d.connect(), "select clockwork.start_worker('sup-0')");
      assert.equal(refused.code, SQLSTATE.worker_name_in_use);
      assert.equal((await d.query("select count(*)::int as n from clockwork.schedules where next_fire_at is not null")).rows[0].n, 0);
    } finally {
      await d.drop();
    }
  });
});

/** Ticks as `workerId` at `now` until it claims a step of `job` (a gone worker is noticed by the tick). */
async function waitForClaim(db: TestDatabase, workerId: string, now: Date, job: string): Promise<StepClaim> {
  for (let i = 0; i < 20; i++) {
    const { claimed } = await tickAs(db, workerId, now);
    const claim = claimed.find((c) => c.job === job);
    if (claim) return claim;
    // A session that just ended may linger a moment in pg_stat_activity.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no claim for ${job}`);
}
