// End to end: the built-ins that work as the job's owner. COPY moves rows between a table
// and a file of the owner's working area with the owner's privileges only; the queue step
// sends a job to a real pg-boss queue (pg-boss itself, with a real pg-boss worker), in this
// database or on a named connection, and either finishes once it is sent or waits for the
// job's end and takes its state and output, within the step's time-out.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PgBoss from "pg-boss";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();
const OWNER = "cw_copy_owner";
const CSV = "id,name\n1,ada\n2,grace\n3,edsger\n";

describe("COPY and pg-boss built-ins, as the job's owner", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let other: TestDatabase;
  let owner: Awaited<ReturnType<TestDatabase["connect"]>>;
  const bosses: PgBoss[] = [];
  const received: { queue: string; data: Record<string, unknown> }[] = [];
  const workDir = mkdtempSync(join(tmpdir(), "cw-copy-"));
  const ownerDir = join(workDir, OWNER);

  /** A pg-boss worker on a database: completes jobs with {done: data.n * 2}, fails those with fail: true. */
  const bossWorker = async (url: string, queues: string[]) => {
    const boss = new PgBoss({ connectionString: url, max: 2 });
    boss.on("error", () => {});
    await boss.start();
    for (const q of queues) {
      await boss.createQueue(q);
      if (q === "slow") continue; // nobody works this one
      await boss.work(q, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
        const data = job!.data as Record<string, unknown>;
        received.push({ queue: q, data });
        if (data.fail === true) throw new Error("boom: the report server is down");
        return { done: Number(data.n ?? 0) * 2, queue: q };
      });
    }
    bosses.push(boss);
    return boss;
  };

  before(async () => {
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${OWNER} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_copy" });
    other = await createTestDatabase({ prefix: "e2e_boss" });
    await db.query("CREATE TABLE people (id int PRIMARY KEY, name text)");
    await db.query("CREATE TABLE payroll (id int, salary int)");
    await db.query(`GRANT SELECT, INSERT ON people TO ${OWNER}`);
    await db.query(`GRANT USAGE ON SCHEMA public TO ${OWNER}`);
    await bossWorker(db.url, ["reports", "slow"]);
    await bossWorker(other.url, ["remote"]);
    await db.query(`GRANT USAGE ON SCHEMA pgboss TO ${OWNER}; GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgboss TO ${OWNER};
                    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgboss TO ${OWNER}`);
    await db.query("SELECT clockwork.define_connection('boss-db', $1)", [`dbname=${other.name}`]);
    owner = await db.connect({ user: OWNER });
    const sup = startSupervisor(db.url, { name: "copy-1", env: { CLOCKWORK_WORK_DIR: workDir } });
    await sup.waitForLog("registered", (l) => l.msg === "worker registered");
    mkdirSync(join(ownerDir, "in"), { recursive: true });
    writeFileSync(join(ownerDir, "in", "people.csv"), CSV);
  });

  after(async () => {
    await stopAllSupervisors();
    await Promise.allSettled(bosses.map((b) => b.stop({ graceful: false, wait: true, timeout: 2000 })));
    await db?.drop();
    await other?.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const define = (name: string, steps: unknown[], extra: object = {}) =>
    owner.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name, steps, ...extra })]);
  const run = async (job: string, params: object = {}) => {
    const id = String((await owner.query("SELECT clockwork.run_now($1, $2) AS id", [job, JSON.stringify(params)])).rows[0].id);
    const state = await waitFor(`${job} to end`, async () => {
      const s = (await db.query("SELECT state FROM clockwork.runs WHERE id = $1", [id])).rows[0].state as string;
      return ["succeeded", "failed", "timed_out", "cancelled"].includes(s) ? s : null;
    }, 30_000);
    const steps = (await db.query("SELECT step, state, stdout, error FROM clockwork.step_history WHERE run_id = $1 ORDER BY step_run_id", [id])).rows;
    return { state, steps };
  };

  test("copy_from loads a file of the owner's working area into a table; copy_to writes a query's rows to a file", async () => {
    await define("load-people", [
      { name: "load", builtin: "copy_from", args: { file: "in/people.csv", table: "people", format: "csv", header: true } },
      { name: "export", builtin: "copy_to", depends: ["load"], args: { file: "out/long-names.csv", query: "SELECT id, name FROM people WHERE length(name) > 3 ORDER BY id", format: "csv", header: true } },
    ]);
    const r = await run("load-people");
    assert.equal(r.state, "succeeded", JSON.stringify(r.steps));
    assert.equal(r.steps[0].stdout, "copied 3 rows from in/people.csv into people\n");
    assert.deepEqual((await db.query("SELECT id, name FROM people ORDER BY id")).rows, [{ id: 1, name: "ada" }, { id: 2, name: "grace" }, { id: 3, name: "edsger" }]);
    assert.equal(readFileSync(join(ownerDir, "out", "long-names.csv"), "utf8"), "id,name\n2,grace\n3,edsger\n");
    assert.match(r.steps[1].stdout, /^copied 2 rows \(\d+ bytes\) from the query into out\/long-names\.csv\n$/);
  });

  test("COPY runs with the owner's privileges only: a table it may not write is refused by PostgreSQL", async () => {
    await define("load-payroll", [{ name: "load", builtin: "copy_from", args: { file: "in/people.csv", table: "payroll", format: "csv", header: true } }]);
    const r = await run("load-payroll");
    assert.equal(r.state, "failed");
    assert.match(r.steps[0].error, /^COPY payroll FROM in\/people\.csv: permission denied for table payroll$/);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM payroll")).rows[0].n, 0);
    await define("read-payroll", [{ name: "dump", builtin: "copy_to", args: { file: "out/payroll.csv", table: "payroll" } }]);
    const d = await run("read-payroll");
    assert.equal(d.state, "failed");
    assert.match(d.steps[0].error, /permission denied for table payroll/);
  });

  test("queue, fire and forget: the job is sent with the run's parameters, and the step ends at once", async () => {
    await define("send-report", [{ name: "send", builtin: "queue", args: { queue: "reports", data: { kind: "daily" } } }], { parameters: { n: 1 } });
    const r = await run("send-report", { n: 21 });
    assert.equal(r.state, "succeeded");
    const id = /^sent job ([0-9a-f-]{36}) to queue reports\n$/.exec(r.steps[0].stdout)?.[1];
    assert.ok(id, r.steps[0].stdout);
    await waitFor("the pg-boss worker to get it", () => received.find((x) => x.queue === "reports" && x.data.n === 21));
    assert.deepEqual(received.find((x) => x.data.n === 21)!.data, { n: 21, kind: "daily" });
  });

  test("queue, waiting: the job's completed state and output become the step's result; a failed job fails the step", async () => {
    await define("await-report", [{ name: "send", builtin: "queue", args: { queue: "reports", wait: true, options: { retry_limit: 0 } } }], { parameters: { n: 0, fail: false } });
    const ok = await run("await-report", { n: 5 });
    assert.equal(ok.state, "succeeded");
    const [line, output] = ok.steps[0].stdout.split("\n");
    assert.match(line, /^job [0-9a-f-]{36} of queue reports: completed$/);
    assert.deepEqual(JSON.parse(output), { done: 10, queue: "reports" });
    const bad = await run("await-report", { n: 1, fail: true });
    assert.equal(bad.state, "failed");
    assert.match(bad.steps[0].error, /^pg-boss job [0-9a-f-]{36} failed: boom: the report server is down$/);
  });

  test("queue, waiting past the step's time-out: the step times out (the job stays with pg-boss)", async () => {
    await define("await-slow", [{ name: "send", builtin: "queue", args: { queue: "slow", wait: true }, timeout: "2s" }]);
    const r = await run("await-slow");
    assert.equal(r.state, "failed");
    assert.equal(r.steps[0].state, "timed_out");
    assert.match(r.steps[0].error, /^timed out( after 2000 ms)?$/);
    const waiting = (await db.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'slow' AND state = 'created'")).rows[0].n;
    assert.equal(waiting, 1);
  });

  test("queue on a named connection: the job goes to pg-boss in another database", async () => {
    await adminQuery(`GRANT CONNECT ON DATABASE ${other.name} TO ${OWNER}`);
    await other.query(`GRANT USAGE ON SCHEMA pgboss TO ${OWNER}; GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgboss TO ${OWNER};
                       GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgboss TO ${OWNER}`);
    // The connection is the DBA's; the owner may use it once granted.
    await db.query("SELECT clockwork.grant_connection('boss-db', $1)", [OWNER]);
    await define("remote-report", [{ name: "send", builtin: "queue", args: { queue: "remote", connection: "boss-db", wait: true, data: { n: 4 }, params: false } }]);
    const r = await run("remote-report");
    assert.equal(r.state, "succeeded", JSON.stringify(r.steps));
    assert.deepEqual(JSON.parse(r.steps[0].stdout.split("\n")[1]), { done: 8, queue: "remote" });
    assert.ok(received.some((x) => x.queue === "remote" && x.data.n === 4));
  });

  test("bad queue and COPY arguments are refused when the job is defined", async () => {
    const refused = async (steps: unknown[], message: RegExp) => {
      await assert.rejects(define("bad", steps), (e: Error & { code?: string }) => message.test(e.message));
    };
    await refused([{ name: "s", builtin: "queue", args: { queue: "reports", connection: "nowhere" } }], /^steps\.s\.args\.connection: unknown connection "nowhere"/);
    await refused([{ name: "s", builtin: "queue", args: { queue: "bad queue name!" } }], /^steps\.s\.args\.queue: must be 1–100 letters/);
    await refused([{ name: "s", builtin: "copy_from", args: { file: "../x.csv", table: "people" } }], /^steps\.s\.args\.file: "\.\.\/x\.csv" climbs out/);
  });
});
