// What an SQL step's report brings to history is bounded as a shell step's output is
// (core/bounds.ts, 1 MiB): a step that returns or raises megabytes is recorded cut, with a
// marker, and with the status it had. The supervisor cuts its report (by its
// --output-limit); the database cuts whatever a report brings, whoever sent it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import type { OwnerConnections } from "../../supervisor/src/steps/owner-connections.ts";
import { OUTPUT_LIMIT_BYTES, truncationMarker } from "../../extension/src/core/index.ts";
import { clockworkDatabase, defineJob, ownerConnections, registerWorker, report, runSqlClaim, tick, type StepClaim } from "./helpers.ts";

describe("an SQL step's report is bounded as shell output is", () => {
  let db: TestDatabase;
  let connections: OwnerConnections;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    connections = ownerConnections(db.name);
  });
  after(async () => {
    await connections.end();
    await db.drop();
  });

  async function claimOf(job: string, sql: string, extra: object = {}): Promise<{ runId: string; claim: StepClaim }> {
    await defineJob(db, { name: job, steps: [{ name: "a", sql, ...extra }] });
    const runId = String((await db.query("select clockwork.run_now($1) as id", [job])).rows[0].id);
    const claim = (await tick(db.pool, "w1", new Date(Date.now() + 1000))).claimed.find((c) => c.run_id === runId)!;
    assert.ok(claim, "claimed");
    return { runId, claim };
  }
  const recorded = async (runId: string) =>
    (await db.query(`select s.state, r.state as run_state, octet_length(s.result::text) as result_bytes, octet_length(s.stdout) as stdout_bytes,
                            octet_length(s.error) as error_bytes, s.output_truncated, s.result, right(s.error, 60) as error_tail
                       from clockwork.step_runs s join clockwork.runs r on r.id = s.run_id where s.run_id = $1`, [runId])).rows[0];

  test("the database's output_limit() is the bound of core/bounds.ts", async () => {
    assert.equal((await db.query("select clockwork.output_limit() as n")).rows[0].n, OUTPUT_LIMIT_BYTES);
  });

  test("a step that selects a 3 MB value succeeds, recorded within 1 MiB: its small columns whole, the large one cut with the marker", async () => {
    for (const exactlyOnce of [true, false]) {
      // In the scheduler's own database the step commits its completion; autonomous, the report records it.
      const { runId, claim } = await claimOf(`big-row-${exactlyOnce}`, "select 42 as n, repeat('x', 3000000) as big", exactlyOnce ? {} : { autonomous: true });
      const result = await runSqlClaim(db, claim, { connections });
      assert.equal(result.accepted, true);
      const r = await recorded(runId);
      assert.equal(r.state, "succeeded", `exactly once: ${exactlyOnce}`);
      assert.equal(r.run_state, "succeeded");
      assert.equal(r.output_truncated, true);
      assert.ok(r.result_bytes <= OUTPUT_LIMIT_BYTES + 100 && r.result_bytes > OUTPUT_LIMIT_BYTES - 200, `result is ${r.result_bytes} bytes`);
      assert.ok(r.stdout_bytes <= OUTPUT_LIMIT_BYTES, `stdout is ${r.stdout_bytes} bytes`);
      assert.equal(r.result[0].n, 42, "a condition still reads the small column");
      assert.match(r.result[0].big, /^x+\n\[clockwork: output truncated after \d+ bytes\]\n$/);
    }
  });

  test("a step that raises a 3 MB error fails, its error recorded within 1 MiB with the marker", async () => {
    const { runId, claim } = await claimOf("big-error", "do $$ begin raise exception '%', repeat('y', 3000000); end $$");
    const result = await runSqlClaim(db, claim, { connections });
    assert.equal(result.end, "failed");
    assert.ok(result.message!.length < OUTPUT_LIMIT_BYTES + 100, "the supervisor's log line is bounded too");
    const r = await recorded(runId);
    assert.deepEqual([r.state, r.run_state], ["failed", "failed"]);
    assert.equal(r.error_bytes, OUTPUT_LIMIT_BYTES + truncationMarker(OUTPUT_LIMIT_BYTES).length);
    assert.equal(r.error_tail.endsWith(truncationMarker(OUTPUT_LIMIT_BYTES)), true, r.error_tail);
  });

  test("the supervisor's --output-limit bounds its reports: rows beyond it are dropped, whole ones kept", async () => {
    const { runId, claim } = await claimOf("many-wide-rows", "select n, repeat('z', 1100) as pad from generate_series(1, 50) as n");
    const result = await runSqlClaim(db, claim, { connections, outputLimitBytes: 4096 });
    assert.equal(result.accepted, true);
    const r = await recorded(runId);
    assert.equal(r.state, "succeeded");
    assert.equal(r.output_truncated, true);
    assert.deepEqual(r.result.map((row: { n: number }) => row.n), [1, 2, 3], "three whole rows of 1.1 kB fit in 4 kB, not four");
  });

  test("the database bounds a report it is sent whole (a supervisor of an earlier version)", async () => {
    const { runId, claim } = await claimOf("sent-whole", "select 1", { autonomous: true });
    const answer = await report(db.pool, "w1", [{ step_run: claim.step_run_id, claim: claim.sql!.claim, outcome: "succeeded", rows: [{ n: 1, big: "w".repeat(3_000_000) }], late_ms: 0, duration_ms: 1 }]);
    assert.deepEqual(answer.refused_reports, []);
    const r = await recorded(runId);
    assert.equal(r.state, "succeeded");
    assert.equal(r.output_truncated, true);
    assert.ok(r.result_bytes <= OUTPUT_LIMIT_BYTES + 100, `result is ${r.result_bytes} bytes`);
    assert.equal(r.result[0].n, 1);

    const failing = await claimOf("sent-whole-error", "select 1", { autonomous: true });
    await report(db.pool, "w1", [{ step_run: failing.claim.step_run_id, claim: failing.claim.sql!.claim, outcome: "failed", error: "e".repeat(3_000_000), sql_state: "P0001", late_ms: 0, duration_ms: 1 }]);
    const f = await recorded(failing.runId);
    assert.equal(f.state, "failed");
    assert.equal(f.error_bytes, OUTPUT_LIMIT_BYTES + truncationMarker(OUTPUT_LIMIT_BYTES).length);
  });
});
