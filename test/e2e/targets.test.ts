// End to end: SQL steps on other databases and servers. A second throwaway cluster with a
// streaming standby made by pg_basebackup -R; named connections with an expected server
// role (fail or skip when it does not match, as PgQuartz's runOnRoleError); a connection
// string in a step; another database of the scheduler's own server. The supervisor is not
// a superuser; the steps log in as their owner everywhere.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { startCluster, startStandby, type Cluster } from "../support/cluster.ts";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { connect, extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();
const OWNER = "tg_owner";

describe("SQL steps on other databases and servers", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let second: Cluster;
  let standby: Cluster;
  let otherDb: string;

  before(async () => {
    // The scheduler's database, a role that owns the jobs, a supervisor that is no superuser.
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_targets" });
    for (const role of [OWNER, "tg_sup"]) await adminQuery(`DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await adminQuery("GRANT clockwork_supervisor TO tg_sup");
    // Another database on the same server, with a table of the owner's.
    otherDb = `${db.name}_other`;
    await adminQuery(`CREATE DATABASE ${otherDb} OWNER ${OWNER}`);
    const other = await connect(db.url.replace(`/${db.name}`, `/${otherDb}`).replace("postgres@", `${OWNER}@`));
    await other.query("CREATE TABLE landed (what text, attempt text, login text DEFAULT session_user)");
    await other.end();
    // A second cluster, with the same role and a table of its, and its standby.
    second = await startCluster();
    const c2 = await connect(second.url("postgres"));
    await c2.query(`CREATE ROLE ${OWNER} LOGIN; CREATE TABLE remote_log (what text, attempt text, login text DEFAULT session_user); ALTER TABLE remote_log OWNER TO ${OWNER}`);
    await c2.end();
    standby = await startStandby(second);
    await waitFor("the standby to replay the table", async () => {
      const s = await connect(standby.url("postgres"));
      try {
        return (await s.query("SELECT to_regclass('remote_log') IS NOT NULL AS ok")).rows[0].ok;
      } finally {
        await s.end();
      }
    }, 20_000);

    const owner = await db.connect({ user: OWNER });
    const at = (c: Cluster) => `host=127.0.0.1 port=${c.port} dbname=postgres`;
    await owner.query("SELECT clockwork.define_connection('second', $1, 'primary')", [at(second)]);
    await owner.query("SELECT clockwork.define_connection('second-as-standby', $1, 'standby', 'fail')", [at(second)]);
    await owner.query("SELECT clockwork.define_connection('standby-as-primary', $1, 'primary', 'skip')", [at(standby)]);
    await owner.query("SELECT clockwork.define_connection('standby', $1, 'standby')", [at(standby)]);
    const job = (name: string, step: object) => owner.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name, steps: [{ name: "main", ...step }] })]);
    const insert = (what: string, table = "remote_log") => `INSERT INTO ${table} (what, attempt) VALUES ('${what}', current_setting('clockwork.attempt')) RETURNING what, login`;
    await job("on-second", { connection: "second", sql: insert("by connection") });
    await job("on-conninfo", { conninfo: `${at(second)} application_name=clockwork-test`, sql: insert("by conninfo") });
    await job("on-other-db", { database: otherDb, sql: insert("by database", "landed") });
    await job("expects-standby", { connection: "second-as-standby", sql: insert("never") });
    await job("skips-standby", { connection: "standby-as-primary", sql: insert("never") });
    await job("reads-standby", { connection: "standby", sql: "SELECT pg_is_in_recovery() AS standby, count(*) AS n FROM remote_log" });
    await job("writes-standby", { connection: "standby", sql: insert("never") });
    await owner.end();

    const sup = startSupervisor(db.url.replace("postgres@", "tg_sup@"), { name: "targets-1" });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
    await adminQuery(`DROP DATABASE IF EXISTS ${otherDb} WITH (FORCE)`).catch(() => {});
    standby?.stop();
    second?.stop();
  });

  async function runOf(job: string) {
    const runId = (await db.query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id;
    const run = await waitFor(`run of ${job}`, async () => (await db.query("SELECT state, reason FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0], 20_000);
    const step = (await db.query("SELECT state, sql_state, error, result FROM clockwork.step_runs WHERE run_id = $1 ORDER BY id DESC LIMIT 1", [runId])).rows[0];
    return { run, step };
  }

  test("a step runs on a second cluster through a named connection, and through a connection string, as its owner", async () => {
    for (const [job, what] of [["on-second", "by connection"], ["on-conninfo", "by conninfo"]] as const) {
      const { run, step } = await runOf(job);
      assert.equal(run.state, "succeeded", `${job}: ${run.reason}`);
      assert.deepEqual(step.result, [{ what, login: OWNER }]);
    }
    const c2 = await connect(second.url("postgres"));
    assert.deepEqual((await c2.query("SELECT what, attempt, login FROM remote_log ORDER BY what")).rows, [
      { what: "by connection", attempt: "1", login: OWNER },
      { what: "by conninfo", attempt: "1", login: OWNER },
    ]);
    await c2.end();
  });

  test("a step runs on another database of the scheduler's server", async () => {
    const { run, step } = await runOf("on-other-db");
    assert.equal(run.state, "succeeded", run.reason ?? "");
    assert.deepEqual(step.result, [{ what: "by database", login: OWNER }]);
  });

  test("a server that is not in the expected role fails the step with a clear error, or skips it", async () => {
    const failing = await runOf("expects-standby");
    assert.equal(failing.run.state, "failed");
    assert.equal(failing.step.sql_state, SQLSTATE.server_role_mismatch);
    assert.match(failing.step.error, new RegExp(`role "${OWNER}" on 127\\.0\\.0\\.1:${second.port}/postgres \\(connection "second-as-standby"\\) is a primary \\(not in recovery\\), and the step expects a standby`));
    const skipping = await runOf("skips-standby");
    assert.equal(skipping.run.state, "succeeded", "a skipped step fails nothing");
    assert.equal(skipping.step.state, "skipped");
    assert.match(skipping.step.error, /^skipped: .*is a standby \(in recovery\), and the step expects a primary/);
    const c2 = await connect(second.url("postgres"));
    assert.equal((await c2.query("SELECT count(*)::int AS n FROM remote_log WHERE what = 'never'")).rows[0].n, 0);
    await c2.end();
  });

  test("on a real standby, a step that expects one reads, and a write fails as the server says", async () => {
    const reading = await runOf("reads-standby");
    assert.equal(reading.run.state, "succeeded", reading.run.reason ?? "");
    assert.equal(reading.step.result[0].standby, true);
    const writing = await runOf("writes-standby");
    assert.equal(writing.run.state, "failed");
    assert.equal(writing.step.sql_state, "25006");
  });
});
