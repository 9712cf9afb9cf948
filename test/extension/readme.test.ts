// The README's tour is executable: every ```sql block of "A five-minute tour" runs here,
// in order, on a fresh database. A block ending in "-- ERROR:  <message>" must fail
// with that message. Keeps the front door true as the code changes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { RUNTIME } from "../support/runtime.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const tour = readme.slice(readme.indexOf("## A five-minute tour"), readme.indexOf("## How it works"));
// The first block installs clockwork_v8 and names PL/v8 as the alternative: run the
// tour on the runtime of this test run.
const blocks = [...tour.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^CREATE EXTENSION clockwork_v8;/m, `CREATE EXTENSION ${RUNTIME};`));

describe("the README tour", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ prefix: "readme" });
  });
  after(async () => {
    await db.drop();
  });

  test("has SQL examples to run", () => {
    assert.ok(blocks.length >= 5, `found ${blocks.length} sql blocks`);
  });

  blocks.forEach((block, i) => {
    const expectedError = block.match(/^-- ERROR:\s+(.*)$/m)?.[1];
    test(`block ${i + 1}: ${block.split("\n")[0]!.slice(0, 60)}`, async () => {
      const client = await db.connect();
      if (expectedError === undefined) {
        await client.query(block);
      } else {
        await assert.rejects(client.query(block), (e: Error) => e.message.startsWith(expectedError));
      }
    });
  });

  test("the tour's jobs exist, with the YAML job's parameters and steps", async () => {
    const { rows } = await db.query("select job from clockwork.job_status order by job");
    assert.deepEqual(rows.map((r) => r.job), ["nightly-backup", "nightly-etl", "ping", "weekday-report"]);
    const runs = await db.query("select params from clockwork.run_history where job = 'nightly-etl'");
    assert.deepEqual(runs.rows.map((r) => r.params), [{ day: "2026-11-21" }]);
  });
});
