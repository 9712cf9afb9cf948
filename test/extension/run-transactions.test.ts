// Whole-run transactions (transaction: run) through the SQL API, playing the supervisor
// by hand: claims pinned to the worker that opened the run's transaction, the commit
// asked for once the steps succeeded, fenced by the first step's claim and by the holder's
// incarnation, and a commit that happened winning over a cancel that came after it.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { SQLSTATE, commitRunMessage, renderClaimedSqlStep } from "../../extension/src/core/index.ts";
import type { TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, sqlErrorOf, type StepClaim } from "./helpers.ts";

interface Answer {
  claimed: StepClaim[];
  next_due_at: string | null;
  transactions: { open: string[]; commit: string[] };
}

describe("run transactions", () => {
  let db: TestDatabase;
  let owner: pg.Client;
  let n = 0;
  const tick = async (worker: string, reports: unknown[] = [], max = 10): Promise<Answer> =>
    (await db.query("select clockwork.tick($1, $2, now(), 0, $3::jsonb) as t", [worker, max, reports.length > 0 ? JSON.stringify(reports) : null])).rows[0].t;
  const succeeded = (c: StepClaim) => ({ step_run: c.step_run_id, claim: c.sql!.claim, outcome: "succeeded", rows: [] });
  const message = (c: StepClaim) => renderClaimedSqlStep(c).messages[0]!;
  const run = async (c: StepClaim) => owner.query(message(c));
  const runState = async (id: string) => (await db.query("select state, reason from clockwork.runs where id = $1", [id])).rows[0] as { state: string; reason: string | null };
  const ledger = async (id: string) => (await db.query("select count(*)::int as n from ledger where run = $1", [id])).rows[0].n as number;

  before(async () => {
    db = await clockworkDatabase();
    await db.query("create table ledger (run bigint)");
  });
  after(async () => {
    await owner?.end();
    await db.drop();
  });

  let job: string;
  beforeEach(async () => {
    await owner?.end().catch(() => {});
    owner = await db.connect();
    for (const w of ["tx-a", "tx-b"]) {
      await db.query("select clockwork.release_worker($1)", [w]).catch(() => {});
      await registerWorker(db.pool, w);
    }
    job = `tx-${++n}`;
    const insert = "insert into ledger values (current_setting('clockwork.run_id')::bigint)";
    await defineJob(db.pool, { name: job, transaction: "run", steps: [{ name: "a", sql: insert }, { name: "b", sql: insert, depends: "a" }] });
  });

  /** Runs step a on tx-a (opening the transaction) and step b; returns the run with its commit asked for. */
  async function toCommit(): Promise<{ runId: string; first: StepClaim }> {
    const runId = String((await db.query("select clockwork.run_now($1) as id", [job])).rows[0].id);
    const [first] = (await tick("tx-a")).claimed.filter((c) => c.run_id === runId);
    assert.ok(first?.sql?.run_transaction?.begins, "the run's first SQL step opens its transaction");
    assert.equal(first.sql.exactly_once, false);
    assert.match(message(first), /^BEGIN;/);
    assert.doesNotMatch(message(first), /COMMIT|_finish_sql_step/);
    await run(first);
    const reported = await tick("tx-a", [succeeded(first)], 0);
    assert.deepEqual(reported.transactions, { open: [runId], commit: [] });
    // Step b is ready, but pinned: another worker neither claims it nor is told it is due.
    const b = await tick("tx-b");
    assert.equal(b.claimed.filter((c) => c.run_id === runId).length, 0, "step b is not offered to tx-b");
    assert.ok(b.next_due_at === null || Date.parse(b.next_due_at) > Date.now() + 100, `tx-b is not woken for it (${b.next_due_at})`);
    const [second] = (await tick("tx-a")).claimed.filter((c) => c.run_id === runId);
    assert.equal(second?.step, "b");
    assert.equal(second.sql!.run_transaction!.begins, false);
    assert.doesNotMatch(message(second), /BEGIN|COMMIT/);
    await run(second);
    const asked = await tick("tx-a", [succeeded(second)], 0);
    assert.deepEqual(asked.transactions, { open: [], commit: [runId] });
    assert.equal((await runState(runId)).state, "running", "the run waits for its commit");
    return { runId, first };
  }

  test("a step on a connection that skips on a role mismatch fails instead, inside a run's transaction", async () => {
    await db.query("select clockwork.define_connection('replica-skip', $1, 'standby', 'skip')", [`dbname=${db.name}`]);
    const name = `tx-skip-${n}`;
    await defineJob(db.pool, { name, transaction: "run", steps: [{ name: "a", sql: "select 1", connection: "replica-skip" }] });
    const runId = String((await db.query("select clockwork.run_now($1) as id", [name])).rows[0].id);
    const [claim] = (await tick("tx-a")).claimed.filter((c) => c.run_id === runId);
    assert.equal(claim?.sql?.target.server_role, "standby");
    assert.equal(claim.sql.target.on_role_mismatch, "fail", "the connection's skip does not apply in a run's transaction");
  });

  test("the holder commits with the first step's claim; the next tick ends the run as succeeded", async () => {
    const { runId, first } = await toCommit();
    assert.equal(await ledger(runId), 0);
    await owner.query(commitRunMessage(runId, first.sql!.claim));
    assert.equal(await ledger(runId), 2);
    await tick("tx-b", [], 0);
    assert.deepEqual(await runState(runId), { state: "succeeded", reason: null });
    assert.equal((await db.query("select count(*)::int as n from clockwork.run_transactions")).rows[0].n, 0);
  });

  test("a holder whose incarnation ended cannot commit: the run fails, its work rolls back", async () => {
    const { runId, first } = await toCommit();
    await db.query("select clockwork.release_worker('tx-a')");
    await tick("tx-b", [], 0);
    const state = await runState(runId);
    assert.equal(state.state, "failed");
    assert.match(state.reason ?? "", /supervisor "tx-a" \(incarnation \d+\) ended before the run committed/);
    const error = await sqlErrorOf(owner, commitRunMessage(runId, first.sql!.claim));
    assert.equal(error.code, SQLSTATE.claim_not_held);
    await owner.query("rollback");
    assert.equal(await ledger(runId), 0);
  });

  test("a wrong claim cannot commit", async () => {
    const { runId } = await toCommit();
    const error = await sqlErrorOf(owner, commitRunMessage(runId, "0123456789abcdef"));
    assert.equal(error.code, SQLSTATE.claim_not_held);
    await owner.query("rollback");
    assert.equal(await ledger(runId), 0);
  });

  test("a cancel after the commit asked for and before it: the commit fails and the run is cancelled", async () => {
    const { runId, first } = await toCommit();
    await db.query("select clockwork.cancel_run($1)", [runId]);
    assert.equal((await runState(runId)).state, "cancelled");
    assert.deepEqual((await tick("tx-a", [], 0)).transactions, { open: [], commit: [] }, "the holder is told to roll back");
    const error = await sqlErrorOf(owner, commitRunMessage(runId, first.sql!.claim));
    assert.equal(error.code, SQLSTATE.claim_not_held);
    await owner.query("rollback");
    assert.equal(await ledger(runId), 0);
  });

  test("a cancel after the commit: the commit wins, the run succeeded", async () => {
    const { runId, first } = await toCommit();
    await owner.query(commitRunMessage(runId, first.sql!.claim));
    await db.query("select clockwork.cancel_run($1)", [runId]);
    assert.equal((await runState(runId)).state, "succeeded", "its work is committed: the run counts as succeeded");
    assert.equal(await ledger(runId), 2);
  });

  test("a committed run that another session holds locked when a tick settles it: that tick asks to come back soon, and the next one ends it", async () => {
    const { runId, first } = await toCommit();
    await owner.query(commitRunMessage(runId, first.sql!.claim));
    // The holder's own abandon_run (an answer computed before its commit finished still
    // listed the run) held the run's lock in e2e/run-transactions; nothing else was due,
    // so no tick came again and the run stayed running.
    const locker = await db.connect();
    try {
      await locker.query("begin");
      await locker.query("select 1 from clockwork.runs where id = $1 for update", [runId]);
      const answer = await tick("tx-a", [], 0);
      assert.equal((await runState(runId)).state, "running", "locked: left for a later tick");
      assert.ok(answer.next_due_at !== null && Date.parse(answer.next_due_at) <= Date.now() + 1000, `the tick asks to come back soon (next_due_at ${answer.next_due_at})`);
      await locker.query("rollback");
    } finally {
      await locker.end();
    }
    await tick("tx-a", [], 0);
    assert.equal((await runState(runId)).state, "succeeded");
    assert.equal(await ledger(runId), 2);
  });

  test("a lost SQL step is not run again in the run's transaction: the run fails", async () => {
    const runId = String((await db.query("select clockwork.run_now($1) as id", [job])).rows[0].id);
    const [first] = (await tick("tx-a")).claimed.filter((c) => c.run_id === runId);
    assert.equal(first?.sql?.run_transaction?.begins, true);
    // Its lease expires unreported (the holder stalled); attempt 2 is ready, pinned to tx-a.
    const later = new Date(Date.now() + 120_000);
    await db.query("select clockwork.tick('tx-a', 10, $1::timestamptz)", [later]);
    const state = await runState(runId);
    assert.equal(state.state, "failed");
    assert.match(state.reason ?? "", /attempt 1 of this step was lost inside the run's transaction \(transaction: run\), which cannot go on/);
    assert.match(state.reason ?? "", /the run's transaction was rolled back/);
    assert.equal((await db.query("select count(*)::int as n from clockwork.run_transactions where run_id = $1", [runId])).rows[0].n, 0);
  });

  test("a first SQL step handed back (its supervisor cannot log in) lets the run go to another supervisor", async () => {
    const runId = String((await db.query("select clockwork.run_now($1) as id", [job])).rows[0].id);
    const [first] = (await tick("tx-a")).claimed.filter((c) => c.run_id === runId);
    assert.equal(first?.sql?.run_transaction?.begins, true);
    await tick("tx-a", [{ step_run: first.step_run_id, claim: first.sql!.claim, outcome: "handed_back", error: "cannot log in" }], 0);
    assert.equal((await db.query("select count(*)::int as n from clockwork.run_transactions where run_id = $1", [runId])).rows[0].n, 0);
    const [again] = (await tick("tx-b")).claimed.filter((c) => c.run_id === runId);
    assert.equal(again?.step, "a");
    assert.equal(again.sql!.run_transaction!.begins, true, "tx-b opens the run's transaction");
    await db.query("select clockwork.cancel_run($1)", [runId]);
  });

  test("abandon_run: the holder gives up a transaction it lost; the run fails", async () => {
    const { runId } = await toCommit();
    await owner.end();
    const id = (await db.query("select id from clockwork.workers where name = 'tx-a' and stopped_at is null")).rows[0].id;
    assert.equal((await db.query("select clockwork.abandon_run($1, $2, 'connection lost')", [id, runId])).rows[0].abandon_run, true);
    const state = await runState(runId);
    assert.equal(state.state, "failed");
    assert.match(state.reason ?? "", /the run's transaction could not commit \(connection lost\): it was rolled back/);
    assert.equal(await ledger(runId), 0);
  });
});
