// Priorities when a supervisor is full (issue 16): more steps are ready than a worker has
// free slots, and the claim takes them highest policies.priority first, then oldest, from
// an index in the claim's exact order. Strict priority, as graphile-worker, River and
// pg-boss order theirs (docs/policies.md, "Priorities").
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { SQL } from "../../extension/src/db/statements.ts";
import { clockworkDatabase, defineJob, ownerConnections, registerWorker, runSqlClaim, tick, withClockworkDatabase } from "./helpers.ts";

/** The job each claim belongs to, in the order handed out. */
const jobsOf = (claims: { job: string }[]): string[] => claims.map((c) => c.job);

describe("priorities when a worker is full", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  test("ready steps are claimed highest priority first, ties oldest first, one claim at a time and in one claim", async () => {
    const jobs: [string, number][] = [["zero-a", 0], ["low", -5], ["high-a", 10], ["zero-b", 0], ["high-b", 10], ["mid", 3], ["default", 0]];
    for (const [name, priority] of jobs) {
      const policies = name === "default" ? {} : { priority };
      await defineJob(db, { name, policies, steps: [{ name: "s", sql: "select 1" }] });
    }
    // Enqueued in this order, each in its own transaction: ready_at rises with each.
    const expected = ["high-a", "high-b", "mid", "zero-a", "zero-b", "default", "low"];
    const later = new Date(Date.now() + 60_000);
    for (const [name] of jobs) await db.query("select clockwork.run_now($1)", [name]);
    const { rows } = await db.query(`
      select j.name, s.priority from clockwork.step_runs s join clockwork.runs r on r.id = s.run_id
        join clockwork.jobs j on j.id = r.job_id where s.state = 'ready' order by j.name`);
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.priority])),
      { "default": 0, "high-a": 10, "high-b": 10, low: -5, mid: 3, "zero-a": 0, "zero-b": 0 });

    // A worker with one free slot at a time takes them in priority order.
    const oneByOne: string[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const { claimed } = await tick(db.pool, "w1", later, 1);
      assert.equal(claimed.length, 1);
      assert.equal(claimed[0]!.priority, jobs.find(([n]) => n === claimed[0]!.job)![1]);
      oneByOne.push(claimed[0]!.job);
    }
    assert.deepEqual(oneByOne, expected);
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where state in ('queued', 'running')");

    // One claim of many lists them in the same order: the supervisor starts them, or
    // queues them for a slot, as listed.
    for (const [name] of jobs) await db.query("select clockwork.run_now($1)", [name]);
    assert.deepEqual(jobsOf((await tick(db.pool, "w1", later, 100)).claimed), expected);
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where state in ('queued', 'running')");
  });

  test("a run's later steps and the next attempt of a lost step keep its priority", async () => {
    await defineJob(db, {
      name: "urgent-chain", policies: { priority: 7 },
      steps: [{ name: "first", sql: "select 1" }, { name: "second", sql: "select 2", depends: ["first"] }],
    });
    await defineJob(db, { name: "backlog", steps: [{ name: "s", sql: "select 1" }] });
    await db.query("select clockwork.run_now('urgent-chain')");
    const first = (await tick(db.pool, "w1", new Date(), 1)).claimed;
    assert.deepEqual(jobsOf(first), ["urgent-chain"]);
    // A backlog of older, lower steps is ready before the chain's second step.
    await db.query("select clockwork.run_now('backlog') from generate_series(1, 5)");
    const connections = ownerConnections(db.name);
    try {
      assert.equal((await runSqlClaim(db, first[0]!, { connections })).accepted, true);
    } finally {
      await connections.end();
    }
    const later = new Date(Date.now() + 60_000);
    const next = (await tick(db.pool, "w1", later, 1)).claimed;
    assert.deepEqual(next.map((c) => [c.job, c.step, c.priority]), [["urgent-chain", "second", 7]]);

    // Lost: its lease ends without a heartbeat; attempt 2 is ready at priority 7, ahead of the backlog.
    const { rows: [lease] } = await db.query("select extract(epoch from clockwork.lease_duration()) * 1000 as ms");
    const afterLease = new Date(later.getTime() + Number(lease.ms) + 1000);
    const retried = (await tick(db.pool, "w1", afterLease, 1)).claimed;
    assert.deepEqual(retried.map((c) => [c.job, c.step, c.attempt, c.priority]), [["urgent-chain", "second", 2, 7]]);
    assert.deepEqual(new Set(jobsOf((await tick(db.pool, "w1", afterLease, 100)).claimed)), new Set(["backlog"]));
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where state in ('queued', 'running')");
  });

  test("a claim given back unstarted (released) keeps its place among steps of its priority", async () => {
    for (const name of ["tie-first", "tie-second"]) await defineJob(db, { name, steps: [{ name: "s", shell: "true" }] });
    const t0 = Date.parse("2034-01-01T00:00:00Z");
    await db.query("select clockwork.run_now('tie-first', '{}', $1)", [new Date(t0)]);
    await db.query("select clockwork.run_now('tie-second', '{}', $1)", [new Date(t0 + 10)]);
    // Claimed a second after it was due (a backlog), queued on the supervisor, given back.
    const claimedAt = new Date(t0 + 1000);
    const [first] = (await tick(db.pool, "w1", claimedAt, 1)).claimed;
    assert.equal(first!.job, "tie-first");
    assert.equal(first!.due_at, new Date(t0).toISOString());
    const { rows: [t] } = await db.query("select clockwork.tick('w1', 0, $1, 0, $2::jsonb) as t", [new Date(t0 + 2000),
      JSON.stringify([{ step_run: first!.step_run_id, claim: first!.claim, outcome: "released", due_at: first!.due_at }])]);
    assert.deepEqual(t.t.refused_reports, []);
    const { rows: [back] } = await db.query("select state, ready_at from clockwork.step_runs where id = $1", [first!.step_run_id]);
    assert.deepEqual([back.state, back.ready_at.getTime()], ["ready", t0], "due when it was due, not when it was claimed");
    // So it goes before the step that became ready after it, as it would have.
    const again = (await tick(db.pool, "w1", new Date(t0 + 3000), 1)).claimed;
    assert.deepEqual(again.map((c) => [c.job, c.step_run_id, c.attempt]), [["tie-first", first!.step_run_id, 1]]);
    await db.query("select clockwork.cancel_run(id) from clockwork.runs where state in ('queued', 'running')");
  });
});

describe("the claim's plan under a backlog", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    for (const [name, priority] of [["p-low", -1], ["p-zero", 0], ["p-high", 1]] as const) {
      await defineJob(db, { name, policies: { max_instances: 100000, priority }, steps: [{ name: "a", sql: "select 1" }] });
    }
    await db.query("select clockwork.run_now(j) from unnest(array['p-low', 'p-zero', 'p-high']) as j, generate_series(1, 1000)");
    await db.query("vacuum analyze clockwork.runs, clockwork.step_runs");
  });
  after(async () => {
    await db.drop();
  });

  for (const mode of ["force_generic_plan", "force_custom_plan"]) {
    test(`claimReadySteps reads ready steps from step_runs_claim_idx in its order, without sorting the backlog (${mode})`, async () => {
      const statement = SQL.claimReadySteps;
      const client = await db.pool.connect();
      try {
        await client.query(`set plan_cache_mode = ${mode}`);
        await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
        const { rows: [worker] } = await client.query("select id::text from clockwork.workers where name = 'w1' and stopped_at is null");
        await client.query("begin");
        const explain = async (): Promise<any> => (await client.query(
          `explain (costs off, format json) execute probe('${Number(worker.id)}', 10, now(), '{}', now() + interval '1 minute', null)`)).rows[0]["QUERY PLAN"][0].Plan;
        // The generic plan is made on the sixth execution.
        let plan = await explain();
        for (let i = 0; i < 5; i++) plan = await explain();
        await client.query("rollback");
        const claimable = findNode(plan, (n) => n["Subplan Name"] === "CTE claimable");
        assert.ok(claimable, JSON.stringify(plan));
        const types: string[] = [];
        walk(claimable, (n) => { types.push(n["Node Type"] + (n["Index Name"] ? ` ${n["Index Name"]}` : "")); });
        assert.ok(types.some((t) => /^Index (Only )?Scan step_runs_claim_idx$/.test(t)), types.join(", "));
        assert.ok(!types.includes("Sort") && !types.includes("Incremental Sort"), types.join(", "));
      } finally {
        await client.query("rollback").catch(() => {});
        await client.query("deallocate all").catch(() => {});
        client.release();
      }
    });
  }
});

function walk(node: any, visit: (n: any) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

function findNode(node: any, match: (n: any) => boolean): any {
  let found: any = null;
  walk(node, (n) => { if (found === null && match(n)) found = n; });
  return found;
}
