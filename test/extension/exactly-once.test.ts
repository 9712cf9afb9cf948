// Exactly once under concurrency: several connections tick at the same time while
// thousands of slots come due. Every slot must become exactly one run.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { registerWorker, tick, withClockworkDatabase } from "./helpers.ts";

const JOBS = 100;
const SECONDS = 100; // 100 jobs × 100 one-second slots = 10 000 slots
const TICKERS = 8;
const T0 = Date.parse("2034-06-01T00:00:00Z");

describe("exactly once", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test(`${TICKERS} connections ticking while ${JOBS * SECONDS} slots come due: no duplicate, no loss`, async () => {
    const definitions = Array.from({ length: JOBS }, (_, i) => ({
      name: `load-${i}`,
      schedules: ["* * * * * *"],
      policies: { misfire: { policy: "all" }, overlap: { mode: "allow", max_instances: 100_000 } },
      steps: [{ name: "a", sql: "select 1" }],
    }));
    await db.query(
      "select clockwork.define_job(d, $2) from jsonb_array_elements($1::jsonb) as d",
      [JSON.stringify(definitions), new Date(T0 - 500)],
    );
    const clients = await Promise.all(Array.from({ length: TICKERS }, () => db.connect()));
    for (let i = 0; i < TICKERS; i++) await registerWorker(clients[i]!, `ticker-${i}`);

    const errors: unknown[] = [];
    await Promise.all(
      clients.map(async (client, i) => {
        // Each ticker walks the 100 seconds in half-second steps, offset from the others.
        for (let step = 0; step < SECONDS * 2; step++) {
          const now = new Date(T0 + step * 500 + i * 37);
          try {
            await tick(client, `ticker-${i}`, now, 0);
          } catch (error) {
            errors.push(error);
          }
        }
      }),
    );
    assert.deepEqual(errors, []);
    // Whatever is left (the last ticker may have stopped just before a slot) fires now.
    await tick(db.pool, "ticker-0", new Date(T0 + (SECONDS - 1) * 1000 + 900), 0);

    const { rows } = await db.query(`
      select count(*)::int as runs,
             count(distinct (schedule_id, slot_at))::int as distinct_slots,
             min(slot_at) as first, max(slot_at) as last
        from clockwork.runs`);
    assert.equal(rows[0].runs, JOBS * SECONDS, "every slot fired");
    assert.equal(rows[0].distinct_slots, JOBS * SECONDS, "no slot fired twice");
    assert.equal(rows[0].first.getTime(), T0);
    assert.equal(rows[0].last.getTime(), T0 + (SECONDS - 1) * 1000);
    const gaps = await db.query(`
      select j.name, count(*)::int as n from clockwork.runs r join clockwork.jobs j on j.id = r.job_id
       group by j.name having count(*) <> $1`, [SECONDS]);
    assert.deepEqual(gaps.rows, [], "each job has one run per second");
    const skipped = await db.query("select count(*)::int as n from clockwork.skipped_slots");
    assert.equal(skipped.rows[0].n, 0);
    const steps = await db.query("select count(*)::int as n from clockwork.step_runs where state = 'ready'");
    assert.equal(steps.rows[0].n, JOBS * SECONDS, "each run queued its first step once");
  });
});
