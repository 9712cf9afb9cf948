// The invariants of runs and step runs hold on every write. They are one CHECK per table
// that calls a PL/pgSQL function naming each invariant (extension/sql/10_tables.sql: a
// function's expression is planned once per session, while PostgreSQL prepares every CHECK
// expression again for each statement). Each invariant is broken here, alone, from a valid
// row: the write fails with check_violation naming that invariant, and the row is
// unchanged. Every invariant the functions name has a case here.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, withClockworkDatabase } from "./helpers.ts";

/** A run queued by run_now, and its one step run, ready. */
const STEP_RUN_BREAKS: Record<string, string> = {
  step_runs_phase_check: "phase = 'other'",
  step_runs_kind_check: "kind = 'python'",
  step_runs_attempt_check: "attempt = 0",
  step_runs_state_check: "state = 'paused'",
  step_runs_ready_has_time: "ready_at = NULL",
  step_runs_running_has_lease: "state = 'running', ready_at = NULL",
  step_runs_finished_state: "finished_at = now()",
  step_runs_sql_state_format: "sql_state = 'abc'",
  step_runs_claim_hash_size: "claim_hash = '\\x00'::bytea",
  step_runs_awaiting_report_finished: "awaiting_report = true",
};
const RUN_BREAKS: Record<string, string> = {
  runs_params_check: "params = '[]'",
  runs_trigger_check: "trigger = 'cron'",
  runs_state_check: "state = 'paused'",
  runs_scheduled_has_slot: "trigger = 'schedule'",
  runs_finished_state: "finished_at = now()",
  runs_queued_has_time: "queued_at = NULL",
  runs_waiting_not_queued: "state = 'waiting', waiting_for = 'overlap'",
  runs_times_ordered: "state = 'succeeded', started_at = now(), finished_at = now() - interval '1 hour'",
  runs_finished_no_wake: "state = 'succeeded', finished_at = now(), wake_at = now()",
  runs_cancel_mode_check: "cancel_requested_at = now(), cancel_mode = 'stop'",
  runs_cancel_request_whole: "cancel_requested_at = now()",
  runs_waiting_for_check: "state = 'waiting', queued_at = NULL, waiting_for = 'nothing'",
  runs_waiting_for_whole: "waiting_for = 'overlap'",
  runs_waiting_for_group: "state = 'waiting', queued_at = NULL, waiting_for = 'group'",
};

describe("the invariants of runs and step runs", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  const rowOf = async (table: string, id: string) => (await db.query(`select to_jsonb(t) as row from clockwork.${table} as t where id = $1`, [id])).rows[0].row;
  const queued = async (): Promise<{ run: string; stepRun: string }> => {
    await defineJob(db, { name: "inv", steps: [{ name: "a", shell: "true" }] });
    const run = String((await db.query("select clockwork.run_now('inv') as id")).rows[0].id);
    const stepRun = String((await db.query("select id from clockwork.step_runs where run_id = $1", [run])).rows[0].id);
    return { run, stepRun };
  };

  /** Breaks one invariant of a valid row and expects its check_violation; the row stays as it was. */
  async function expectBroken(table: "runs" | "step_runs", id: string, invariant: string, set: string): Promise<void> {
    const before = await rowOf(table, id);
    const error = await db.query(`update clockwork.${table} set ${set} where id = $1`, [id]).then(
      () => assert.fail(`${invariant}: the update ${set} was accepted`),
      (e: { code: string; message: string; constraint?: string; table?: string; schema?: string }) => e,
    );
    assert.equal(error.code, "23514", `${invariant}: ${error.message}`);
    assert.equal(error.message, `new row for relation "${table}" violates check constraint "${invariant}"`);
    assert.deepEqual([error.schema, error.table, error.constraint], ["clockwork", table, invariant]);
    assert.deepEqual(await rowOf(table, id), before, `${invariant}: the row is unchanged`);
  }

  test("every invariant a CHECK function names is broken by a case here", async () => {
    const { rows } = await db.query(
      "select proname, prosrc from pg_proc where pronamespace = 'clockwork'::regnamespace and proname in ('_run_invariants', '_step_run_invariants') order by proname");
    assert.deepEqual(rows.map((r) => r.proname), ["_run_invariants", "_step_run_invariants"]);
    const named = (src: string) => [...src.matchAll(/THEN '([a-z_]+)'/g)].map((m) => m[1]!).sort();
    assert.deepEqual(named(rows[0].prosrc), Object.keys(RUN_BREAKS).sort());
    assert.deepEqual(named(rows[1].prosrc), Object.keys(STEP_RUN_BREAKS).sort());
    // One CHECK per table: no other CHECK for PostgreSQL to prepare on every write.
    const checks = await db.query(
      "select conrelid::regclass::text as rel, conname from pg_constraint where contype = 'c' and conrelid in ('clockwork.runs'::regclass, 'clockwork.step_runs'::regclass) order by 1");
    assert.deepEqual(checks.rows, [{ rel: "clockwork.runs", conname: "runs_invariants" }, { rel: "clockwork.step_runs", conname: "step_runs_invariants" }]);
  });

  test("a step run that breaks any one invariant is refused, naming it", async () => {
    const { stepRun } = await queued();
    for (const [invariant, set] of Object.entries(STEP_RUN_BREAKS)) await expectBroken("step_runs", stepRun, invariant, set);
  });

  test("a run that breaks any one invariant is refused, naming it", async () => {
    const { run } = await queued();
    for (const [invariant, set] of Object.entries(RUN_BREAKS)) await expectBroken("runs", run, invariant, set);
  });

  test("NULL passes, as in a CHECK, and valid rows of every kind are written", async () => {
    const { run, stepRun } = await queued();
    // The states a step run and a run go through, written directly: each is accepted.
    await db.query("update clockwork.step_runs set state = 'running', ready_at = null, lease_expires_at = now() + interval '1 minute', worker_id = 1 where id = $1", [stepRun]);
    await db.query("update clockwork.step_runs set state = 'succeeded', lease_expires_at = null, finished_at = now(), awaiting_report = true, sql_state = '22012', claim_hash = sha256('x') where id = $1", [stepRun]);
    await db.query("update clockwork.runs set cancel_requested_at = now(), cancel_mode = 'cancel' where id = $1", [run]);
    await db.query("update clockwork.runs set state = 'cancelled', started_at = now(), finished_at = now() where id = $1", [run]);
    assert.equal((await rowOf("step_runs", stepRun)).state, "succeeded");
    assert.equal((await rowOf("runs", run)).state, "cancelled");
    // Nulls the function cannot judge pass, as a CHECK whose expression is NULL does.
    assert.equal((await db.query("select clockwork._step_run_invariants(null, null, null, null, null, null, null, null, null, null) as ok")).rows[0].ok, true);
  });
});
