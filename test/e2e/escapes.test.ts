// Security is adversarial: an unprivileged job owner tries every way out of its role,
// against a supervisor that logs in as a superuser and against one that does not. SQL
// steps run on connections logged in as their owner, so there is no privileged session to
// fall back to: each attempt fails or changes nothing but the owner's own session, and the
// next step of the same owner, on the same connection, finds that session reset.
// Afterwards: the owner is no superuser, another owner's data is intact, and the
// supervisor's own calls and other owners' steps still work.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();

interface StepRow {
  state: string;
  sql_state: string | null;
  error: string | null;
  result: Record<string, unknown>[] | null;
}

/** What a step leaves in its session, read by the next step on the same connection. */
const SESSION_PROBE = `SELECT pg_backend_pid() AS pid, session_user::text AS login, current_user::text AS role,
  current_setting('default_transaction_read_only') AS read_only, current_setting('transaction_read_only') AS tx_read_only,
  current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout,
  current_setting('standard_conforming_strings') AS scs, current_setting('lock_timeout') AS lock_timeout,
  current_setting('clockwork.evil', true) AS custom,
  (SELECT count(*) FROM pg_prepared_statements)::int AS prepared, (SELECT count(*) FROM pg_cursors)::int AS cursors,
  (SELECT count(*) FROM pg_listening_channels())::int AS listening,
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())::int AS advisory_locks,
  to_regclass('pg_temp.left_behind') IS NULL AS no_temp_table, 'a\\b' AS backslash`;

for (const supervisorKind of ["superuser", "non-superuser"] as const) {
  describe(`an unprivileged owner against a ${supervisorKind} supervisor`, { skip: missing ?? false }, () => {
    let db: TestDatabase;
    let sup: SupervisorProcess;
    const prefix = supervisorKind === "superuser" ? "esc_su" : "esc_nsu";
    const mallory = `${prefix}_mallory`;
    const victim = `${prefix}_victim`;

    before(async () => {
      db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_escapes" });
      for (const role of [mallory, victim, `${prefix}_sup`]) {
        await adminQuery(`DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      }
      await adminQuery(`GRANT clockwork_supervisor TO ${prefix}_sup`);
      await db.query(`CREATE TABLE victim_data (secret text); INSERT INTO victim_data VALUES ('crown jewels'); ALTER TABLE victim_data OWNER TO ${victim}`);
      await db.query(`CREATE TABLE mallory_log (note text); ALTER TABLE mallory_log OWNER TO ${mallory}`);
      const url = supervisorKind === "superuser" ? db.url : db.url.replace("postgres@", `${prefix}_sup@`);
      // One step at a time, so a step's connection is the one the next step of the owner gets.
      sup = startSupervisor(url, { name: `${prefix}-1`, args: ["--concurrency", "1"] });
      await sup.waitForLog("registration", (l) => l.msg === "worker registered");
    });

    after(async () => {
      await stopAllSupervisors();
      await db?.drop();
    });

    async function runAs(role: string, name: string, sql: string): Promise<StepRow> {
      const client = await db.connect({ user: role });
      try {
        await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name, steps: [{ name: "main", sql }] })]);
        const runId = (await client.query("SELECT clockwork.run_now($1) AS id", [name])).rows[0].id;
        await waitFor(`run of ${name}`, async () => (await db.query("SELECT 1 FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows.length > 0);
        return (await db.query("SELECT state, sql_state, error, result FROM clockwork.step_runs WHERE run_id = $1 ORDER BY id DESC LIMIT 1", [runId])).rows[0];
      } finally {
        await client.end();
      }
    }

    async function nothingChanged(): Promise<void> {
      const roles = await db.query("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY rolname", [mallory, victim]);
      for (const r of roles.rows) assert.deepEqual([r.rolsuper, r.rolcreaterole, r.rolcreatedb], [false, false, false], r.rolname);
      const members = await db.query("SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1", [mallory]);
      assert.equal(members.rows[0].n, 0, "mallory was granted no role");
      assert.deepEqual((await db.query("SELECT secret FROM victim_data")).rows, [{ secret: "crown jewels" }]);
      // The supervisor's own calls go on, and another owner's steps run as before.
      const ok = await runAs(victim, `${prefix}-victim-job-${Date.now()}`, "INSERT INTO victim_data SELECT 'still mine' WHERE false RETURNING *");
      assert.equal(ok.state, "succeeded", JSON.stringify(ok));
      assert.ok(!sup.logs.some((l) => /tick failed|read-only/.test(l.msg)), "no failed tick, nothing blamed on a standby");
    }

    test("leaving its role: RESET ROLE, SET ROLE, SET SESSION AUTHORIZATION, set_config('role') get nothing", async () => {
      const attempts: Array<[string, string, RegExp]> = [
        ["reset-role", "RESET ROLE; ALTER ROLE " + mallory + " SUPERUSER", /permission denied to alter role|must be superuser/],
        ["set-role-postgres", "SET ROLE postgres; ALTER ROLE " + mallory + " SUPERUSER", /permission denied to set role "postgres"/],
        ["set-role-victim", `SET ROLE ${victim}; DELETE FROM victim_data`, new RegExp(`permission denied to set role "${victim}"`)],
        ["session-authorization", `SET SESSION AUTHORIZATION ${victim}; DELETE FROM victim_data`, /permission denied to set session authorization/],
        ["set-config-role", `SELECT set_config('role', '${victim}', false); DELETE FROM victim_data`, new RegExp(`permission denied to set role "${victim}"`)],
        ["set-config-supervisor", `SELECT set_config('role', '${supervisorKind === "superuser" ? "postgres" : prefix + "_sup"}', false); SELECT clockwork.tick('x')`, /permission denied to set role/],
        ["direct", "DELETE FROM victim_data", /permission denied for table victim_data/],
        ["grant-self", `GRANT ${victim} TO ${mallory}`, /permission denied to grant role|must have admin option/],
        ["supervisor-api", "SELECT clockwork.tick('" + prefix + "-1', 10)", /permission denied for function tick/],
        ["claim-secrets", "SELECT claim_hash FROM clockwork.step_runs", /permission denied for table step_runs/],
        ["signal-others", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename <> current_user", /permission denied to terminate process|must be a superuser to terminate/],
      ];
      for (const [name, sql, expected] of attempts) {
        const step = await runAs(mallory, `${prefix}-${name}`, sql);
        assert.equal(step.state, "failed", `${name}: ${JSON.stringify(step)}`);
        assert.match(step.error ?? "", expected, name);
      }
      await nothingChanged();
    });

    test("a forged completion: another step's run cannot be finished, its own attempt is rolled back with it", async () => {
      const hold = await db.connect({ user: victim });
      await hold.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: `${prefix}-victim-slow`, steps: [{ name: "main", sql: "SELECT pg_sleep(3); INSERT INTO victim_data VALUES ('slow step')" }] })]);
      const victimRun = (await hold.query("SELECT clockwork.run_now($1) AS id", [`${prefix}-victim-slow`])).rows[0].id;
      await hold.end();
      await waitFor("the victim's step to start", async () => (await db.query("SELECT id FROM clockwork.step_runs WHERE run_id = $1 AND state = 'running'", [victimRun])).rows[0]?.id);
      const victimStep = (await db.query("SELECT id FROM clockwork.step_runs WHERE run_id = $1", [victimRun])).rows[0].id;
      // With one step at a time, mallory's step runs after it; it tries to finish it anyway.
      const forged = await runAs(mallory, `${prefix}-forge`, `SELECT clockwork._finish_sql_step(${victimStep}, repeat('0', 64))`);
      assert.equal(forged.state, "failed");
      assert.equal(forged.sql_state, SQLSTATE.claim_not_held);
      const victimSteps = (await db.query("SELECT state FROM clockwork.step_runs WHERE run_id = $1", [victimRun])).rows;
      assert.deepEqual(victimSteps, [{ state: "succeeded" }], "the victim's step ran and was recorded once, by its own claim");
      await db.query("DELETE FROM victim_data WHERE secret = 'slow step'");
      await nothingChanged();
    });

    test("temporary tables named like Clockwork's do not steer its SECURITY DEFINER functions", async () => {
      const hold = await db.connect({ user: victim });
      await hold.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: `${prefix}-victim-long`, steps: [{ name: "main", sql: "SELECT pg_sleep(2)" }] })]);
      const victimRun = (await hold.query("SELECT clockwork.run_now($1) AS id", [`${prefix}-victim-long`])).rows[0].id;
      await hold.end();
      await waitFor("the victim's step to start", async () => (await db.query("SELECT 1 FROM clockwork.step_runs WHERE run_id = $1 AND state = 'running'", [victimRun])).rows.length > 0);
      // While it runs, a fake run with the victim's run id, pointing at mallory's own job,
      // in temporary tables of mallory's session (searched first, were pg_temp not last).
      const session = await db.connect({ user: mallory });
      await session.query("SELECT clockwork.schedule($1, '0 0 1 1 *', 'select 1')", [`${prefix}-mine`]);
      await session.query(`
        CREATE TEMP TABLE runs AS SELECT * FROM clockwork.runs WHERE false;
        CREATE TEMP TABLE jobs AS SELECT * FROM clockwork.jobs;
        INSERT INTO runs (id, job_id, job_version, trigger, params, state, queued_at)
             SELECT ${victimRun}, j.id, 1, 'manual', '{}', 'running', now() FROM jobs j LIMIT 1`);
      await assert.rejects(session.query(`SELECT clockwork.cancel_run(${victimRun})`), /run \d+ does not exist/);
      await session.end();
      // The same from a step of mallory's.
      const attack = await runAs(mallory, `${prefix}-shadow`, `
        CREATE TEMP TABLE runs AS SELECT * FROM clockwork.runs WHERE false;
        CREATE TEMP TABLE jobs AS SELECT * FROM clockwork.jobs;
        INSERT INTO runs (id, job_id, job_version, trigger, params, state, queued_at)
             SELECT ${victimRun}, j.id, 1, 'manual', '{}', 'running', now() FROM jobs j LIMIT 1;
        SELECT clockwork.cancel_run(${victimRun})`);
      assert.equal(attack.state, "failed", JSON.stringify(attack));
      assert.match(attack.error ?? "", /run \d+ does not exist/);
      const run = await waitFor("the victim's run", async () => (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [victimRun])).rows[0]);
      assert.equal(run.state, "succeeded", "the victim's run was not cancelled");
      await nothingChanged();
    });

    test("what a step leaves in its session is gone for the owner's next step on the same connection", async () => {
      const left = await runAs(mallory, `${prefix}-leave`, `
        SET default_transaction_read_only = on; SET search_path = evil, pg_catalog; SET statement_timeout = '1h';
        SET standard_conforming_strings = off; SET lock_timeout = '1h'; SET clockwork.evil = 'yes';
        CREATE TEMP TABLE left_behind (x int); PREPARE p AS SELECT 1; DECLARE c CURSOR WITH HOLD FOR SELECT 1;
        LISTEN evil; SELECT pg_advisory_lock(42); SELECT pg_backend_pid() AS pid`);
      assert.equal(left.state, "succeeded", JSON.stringify(left));
      const probe = await runAs(mallory, `${prefix}-probe`, SESSION_PROBE);
      assert.equal(probe.state, "succeeded", JSON.stringify(probe));
      const seen = probe.result![0]!;
      assert.equal(seen.pid, left.result![0]!.pid, "the same connection, reused");
      assert.deepEqual({ ...seen, pid: undefined }, {
        pid: undefined, login: mallory, role: mallory, read_only: "off", tx_read_only: "off", search_path: '"$user", public',
        statement_timeout: "0", scs: "on", lock_timeout: "0", custom: "", prepared: 0, cursors: 0, listening: 0,
        advisory_locks: 0, no_temp_table: true, backslash: "a\\b",
      });
      // Another owner's step and the supervisor's own calls are untouched by it.
      await nothingChanged();
    });

    test("SET ROLE to a role the owner belongs to stays within the owner's rights, and is reset", async () => {
      const helper = `${prefix}_helper`;
      await adminQuery(`DO $$ BEGIN CREATE ROLE ${helper} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      await adminQuery(`GRANT ${helper} TO ${mallory}`);
      try {
        const step = await runAs(mallory, `${prefix}-own-role`, `SET ROLE ${helper}; SELECT current_user::text AS role`);
        assert.deepEqual(step.result, [{ role: helper }]);
        const probe = await runAs(mallory, `${prefix}-own-role-probe`, "SELECT current_user::text AS role, session_user::text AS login");
        assert.deepEqual(probe.result, [{ role: mallory, login: mallory }]);
      } finally {
        await adminQuery(`REVOKE ${helper} FROM ${mallory}`);
      }
    });
  });
}

describe("an owner's advisory lock", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "e2e_lock" });
  });
  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
  });

  test("does not keep a supervisor from registering, nor another owner's jobs from running", async () => {
    await adminQuery("DO $$ BEGIN CREATE ROLE esc_locker LOGIN; CREATE ROLE esc_victim2 LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    const locker = await db.connect({ user: "esc_locker" });
    // Every advisory lock key an owner could guess, held by the owner's own session: the
    // scheduler start's, and each job's in any two-key class the scheduler might use.
    await locker.query("SELECT pg_advisory_lock(hashtext('clockwork.scheduler_start'))");
    await locker.query("SELECT pg_advisory_lock(k) FROM generate_series(1, 50) AS k");
    await locker.query("SELECT pg_advisory_lock(c, k) FROM (VALUES (0), (1), (1131375479), (hashtext('clockwork'))) AS classes (c), generate_series(1, 50) AS k");
    const sup = startSupervisor(db.url, { name: "lock-1" });
    await sup.waitForLog("registration", (l) => l.msg === "worker registered", 10_000);
    const victim = await db.connect({ user: "esc_victim2" });
    await victim.query("SELECT clockwork.schedule('every-second', '* * * * * *', 'SELECT 1')");
    const runId = (await victim.query("SELECT clockwork.schedule('manual', '0 0 1 1 *', 'SELECT 1'), clockwork.run_now('manual') AS id")).rows[0].id;
    await waitFor("the manual run", async () => (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state === "succeeded", 15_000);
    await waitFor("scheduled runs", async () => (await db.query("SELECT count(*)::int AS n FROM clockwork.run_history WHERE job = 'every-second' AND state = 'succeeded'")).rows[0].n >= 2, 15_000);
    await locker.end();
  });
});
