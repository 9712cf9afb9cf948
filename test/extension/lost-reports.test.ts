// A step whose supervisor lost its connection during the step (a restart, a network cut)
// is reported "lost": taken back at once, attempt + 1 queued, and its history says what
// happened, in the supervisor's words, rather than "lease expired", which is left for a
// supervisor that stopped heartbeating without a word.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, tick, withClockworkDatabase } from "./helpers.ts";

describe("lost steps say why", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "w1" });

  const attempts = async (job: string) => (await db.query(`
    select s.attempt, s.state, s.error from clockwork.step_runs s join clockwork.runs r on r.id = s.run_id
      join clockwork.jobs j on j.id = r.job_id where j.name = $1 order by s.attempt`, [job])).rows;

  async function claimOne(job: string, at: number) {
    await defineJob(db, { name: job, steps: [{ name: "s", sql: "select 1" }] });
    await db.query("select clockwork.run_now($1, '{}', $2)", [job, new Date(at)]);
    const claim = (await tick(db.pool, "w1", new Date(at))).claimed.find((c) => c.job === job);
    assert.ok(claim);
    return claim;
  }
  const reportLost = (claim: { step_run_id: string; claim: string }, at: number, error?: string) =>
    db.query("select clockwork.tick('w1', 0, $1, 0, $2::jsonb) as t", [new Date(at),
      JSON.stringify([{ step_run: claim.step_run_id, claim: claim.claim, outcome: "lost", ...(error === undefined ? {} : { error }) }])]);

  test("a step reported lost with the supervisor's reason: attempt 1 lost, saying so; attempt 2 ready", async () => {
    const t0 = Date.parse("2035-01-01T00:00:00Z");
    const claim = await claimOne("lost-connection", t0);
    const why = "the connection was lost during the step (Connection terminated unexpectedly); it is taken back and run again unless it committed";
    assert.deepEqual((await reportLost(claim, t0 + 100, why)).rows[0].t.refused_reports, []);
    assert.deepEqual(await attempts("lost-connection"), [
      { attempt: 1, state: "lost", error: `its supervisor lost the step's connection: ${why}` },
      { attempt: 2, state: "ready", error: null },
    ]);
  });

  test("without a reason it still says the supervisor lost the connection; a lease that ran out says it expired", async () => {
    const t0 = Date.parse("2035-02-01T00:00:00Z");
    await reportLost(await claimOne("lost-silently", t0), t0 + 100);
    assert.deepEqual((await attempts("lost-silently"))[0], { attempt: 1, state: "lost", error: "its supervisor lost the step's connection: the outcome is unknown" });

    const claim = await claimOne("lease-ran-out", t0);
    assert.ok(claim);
    const { rows: [lease] } = await db.query("select extract(epoch from clockwork.lease_duration()) * 1000 as ms");
    await tick(db.pool, "w1", new Date(t0 + Number(lease.ms) + 1000), 0);
    assert.deepEqual((await attempts("lease-ran-out"))[0], { attempt: 1, state: "lost", error: "lease expired: the worker stopped heartbeating" });
  });
});
