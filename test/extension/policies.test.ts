// Overlap and catch-up policies in Temporal's vocabulary, against a real database with
// pinned time: each mode does what its name says, catch-up runs the user asked for are
// never thrown away by the overlap policy, and every slot not run is in skip_history.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, tick, type StepClaim, withClockworkDatabase } from "./helpers.ts";

describe("overlap and catch-up policies", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  const runs = async (job: string) => (await db.query(
    "select run_id, slot_at, state, reason from clockwork.run_history where job = $1 order by run_id", [job])).rows as
    { run_id: string; slot_at: Date; state: string; reason: string | null }[];
  const skips = async (job: string) => (await db.query(
    "select slot_at, last_slot_at, slots, reason, explanation from clockwork.skip_history where job = $1 order by slot_at", [job])).rows;
  const claimOf = async (job: string, now: string): Promise<StepClaim | undefined> =>
    (await tick(db.pool, "w1", now)).claimed.find((c) => c.job === job);
  const complete = (claim: StepClaim, now: string, exitCode = 0, error: string | null = null) =>
    db.query("select clockwork.complete_step($1, 'w1', $2, '', '', $3, $4) as r", [claim.step_run_id, exitCode, error, now]);

  test("misfire all with the default overlap runs every missed slot, one after another", async () => {
    await defineJob(db, {
      name: "catch-up", schedules: ["*/10 * * * *"], policies: { misfire: "all" },
      steps: [{ name: "a", shell: "true" }],
    }, "2042-01-01T00:00:00Z");
    // Down from 00:00 to 00:35: 00:10, 00:20 and 00:30 were missed.
    const first = (await claimOf("catch-up", "2042-01-01T00:35:00Z"))!;
    let rows = await runs("catch-up");
    assert.deepEqual(rows.map((r) => [r.slot_at.toISOString(), r.state]), [
      ["2042-01-01T00:10:00.000Z", "running"],
      ["2042-01-01T00:20:00.000Z", "waiting"],
      ["2042-01-01T00:30:00.000Z", "waiting"],
    ]);
    assert.match(rows[1]!.reason!, /catch-up run waiting/);
    assert.deepEqual(await skips("catch-up"), [], "no catch-up run is thrown away by overlap: skip");
    await complete(first, "2042-01-01T00:35:10Z");
    const second = (await claimOf("catch-up", "2042-01-01T00:35:10Z"))!;
    assert.equal(second.run_id, rows[1]!.run_id);
    await complete(second, "2042-01-01T00:35:20Z");
    await complete((await claimOf("catch-up", "2042-01-01T00:35:20Z"))!, "2042-01-01T00:35:30Z");
    rows = await runs("catch-up");
    assert.deepEqual(rows.map((r) => r.state), ["succeeded", "succeeded", "succeeded"]);
    // The next on-time slot follows the usual overlap rule again.
    await claimOf("catch-up", "2042-01-01T00:40:00Z");
    assert.equal((await runs("catch-up")).length, 4);
  });

  test("overlap: allow alone lets runs overlap without a limit", async () => {
    await defineJob(db, {
      name: "allow-alone", schedules: ["* * * * *"], policies: { overlap: "allow" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2042-02-01T00:00:30Z");
    for (const minute of ["01", "02", "03"]) await tick(db.pool, "w1", `2042-02-01T00:${minute}:00Z`, 0);
    assert.deepEqual((await runs("allow-alone")).map((r) => r.state), ["queued", "queued", "queued"]);
    assert.deepEqual(await skips("allow-alone"), []);
  });

  test("buffer_one holds one run back; a further slot is skipped and says why", async () => {
    await defineJob(db, {
      name: "buffer-one", schedules: ["* * * * *"], policies: { overlap: "buffer_one" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2042-03-01T00:00:30Z");
    for (const minute of ["01", "02", "03"]) await tick(db.pool, "w1", `2042-03-01T00:${minute}:00Z`, 0);
    assert.deepEqual((await runs("buffer-one")).map((r) => r.state), ["queued", "waiting"]);
    const [skip] = await skips("buffer-one");
    assert.equal(skip.reason, "queue_full");
    assert.equal(skip.slot_at.toISOString(), "2042-03-01T00:03:00.000Z");
    assert.match(skip.explanation, /buffer of waiting runs was full/);
  });

  test("cancel_other: the running run is told to stop; the new run starts once it has", async () => {
    await defineJob(db, {
      name: "cancel-other", schedules: ["*/10 * * * * *"], policies: { overlap: "cancel_other" },
      steps: [{ name: "a", shell: "sleep 600" }],
    }, "2042-04-01T00:00:05Z");
    const old = (await claimOf("cancel-other", "2042-04-01T00:00:10Z"))!;
    await tick(db.pool, "w1", "2042-04-01T00:00:20Z", 0);
    let rows = await runs("cancel-other");
    assert.deepEqual(rows.map((r) => r.state), ["running", "waiting"], "the old run goes on until its step has stopped");
    assert.match(rows[1]!.reason!, new RegExp(`waiting for run ${old.run_id} to stop \\(overlap: cancel_other\\)`));
    // The supervisor learns it from its heartbeat (or NOTIFY), stops the step and reports.
    const hb = await db.query("select clockwork.heartbeat('w1', '2042-04-01T00:00:21Z') as h");
    assert.ok(hb.rows[0].h.cancel.includes(old.step_run_id));
    const report = await complete(old, "2042-04-01T00:00:22Z", 143, "cancelled");
    assert.deepEqual([report.rows[0].r.accepted, report.rows[0].r.state, report.rows[0].r.run_state], [true, "cancelled", "cancelled"]);
    rows = await runs("cancel-other");
    assert.deepEqual(rows.map((r) => r.state), ["cancelled", "queued"]);
    assert.equal(rows[0]!.reason, `replaced by run ${rows[1]!.run_id} (overlap: cancel_other)`);
  });

  test("cancel_other whose supervisor died: the lease ends the old run, and the new one starts", async () => {
    await defineJob(db, {
      name: "cancel-other-dead", schedules: ["10,20 0 0 * * *"], policies: { overlap: "cancel_other" },
      steps: [{ name: "a", shell: "sleep 6000" }],
    }, "2042-05-01T00:00:05Z");
    await claimOf("cancel-other-dead", "2042-05-01T00:00:10Z");
    await tick(db.pool, "w1", "2042-05-01T00:00:20Z", 0);
    assert.deepEqual((await runs("cancel-other-dead")).map((r) => r.state), ["running", "waiting"]);
    // w1 never reports nor heartbeats: its lease ends at 00:00:40; the step is not re-run.
    await tick(db.pool, "w1", "2042-05-01T00:00:41Z", 0);
    const rows = await runs("cancel-other-dead");
    assert.deepEqual(rows.map((r) => r.state), ["cancelled", "queued"]);
    const steps = await db.query("select state from clockwork.step_history where run_id = $1", [rows[0]!.run_id]);
    assert.deepEqual(steps.rows.map((r) => r.state), ["lost"]);
  });
});
