// The README's tour is executable: every ```sql block of "A five-minute tour" runs here,
// in order, on a fresh database: the first (installing, making the roles) and those that
// begin "-- as a superuser" as a superuser, the rest as the job owner the first makes, as
// the tour says. A block ending in "-- ERROR:  <message>" must fail with that message.
// Keeps the front door true as the code changes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { RUNTIME } from "../support/runtime.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const tour = readme.slice(readme.indexOf("## A five-minute tour"), readme.indexOf("## How it works"));
// The first block installs clockwork_v8 and names PL/v8 as the alternative: run the
// tour on the runtime of this test run.
/** The role the tour makes to own its jobs; the blocks run as it unless they say otherwise. */
const OWNER = "reporter";
const blocks = [...tour.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^CREATE EXTENSION clockwork_v8;/m, `CREATE EXTENSION ${RUNTIME};`));

describe("the README tour", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ prefix: "readme" });
  });
  after(async () => {
    await db.drop();
    await adminQuery("DROP ROLE IF EXISTS scheduler, reporter");
  });

  test("the tour's set-up is the safe one: the supervisor's role holds clockwork_supervisor only, the owner nothing", async () => {
    assert.match(blocks[0] ?? "", /CREATE ROLE scheduler LOGIN IN ROLE clockwork_supervisor;/);
    assert.match(tour, /The rest of the tour runs as the owner \(`psql -U reporter`\), but for a block marked\n`-- as a superuser`/);
    assert.match(tour, /--db-user scheduler/);
  });

  test("has SQL examples to run", () => {
    assert.ok(blocks.length >= 5, `found ${blocks.length} sql blocks`);
  });

  blocks.forEach((block, i) => {
    const expectedError = block.match(/^-- ERROR:\s+(.*)$/m)?.[1];
    test(`block ${i + 1}: ${block.split("\n")[0]!.slice(0, 60)}`, async () => {
      const client = await db.connect(i === 0 || block.startsWith("-- as a superuser") ? {} : { user: OWNER });
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
    const owners = await db.query("select distinct owner from clockwork.jobs");
    assert.deepEqual(owners.rows, [{ owner: OWNER }]);
    const supervisor = await db.query(`select r.rolsuper, array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid)::text[] as member_of
                                         from pg_roles r where r.rolname = 'scheduler'`);
    assert.deepEqual(supervisor.rows, [{ rolsuper: false, member_of: ["clockwork_supervisor"] }]);
    const runs = await db.query("select params from clockwork.run_history where job = 'nightly-etl'");
    assert.deepEqual(runs.rows.map((r) => r.params), [{ day: "2026-11-21" }]);
  });
});
