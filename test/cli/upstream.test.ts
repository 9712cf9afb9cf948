// The importers and `clockwork run` against the source projects' own files, not fixtures
// written here: pg_timetable's schema DDL and every one of its samples (SQL and YAML), the
// SQL examples of pg_cron's README, and PgQuartz's example job. They are in
// test/cli/upstream/, each headed with its repository, path, commit and licence. Each
// source job is imported (and what it became is checked where it says something), or refused
// with a message naming the feature Clockwork lacks.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { parseAllDocuments } from "yaml";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS, installClockworkSql } from "../support/runtime.ts";
import { extensionMissing, ROOT } from "../e2e/support.ts";
import { clockwork } from "./support.ts";

const missing = await extensionMissing();
const UPSTREAM = join(ROOT, "test/cli/upstream");
const available = async (name: string) => (await adminQuery("SELECT 1 FROM pg_available_extensions WHERE name = $1", [name])).rowCount === 1;
const noPgCron = missing ?? ((await available("pg_cron")) ? null : "pg_cron is not installed (Debian package postgresql-15-cron)");

/** The documents of a dry run's YAML, by job name. */
function dryRunJobs(stdout: string): Map<string, Record<string, any>> {
  const out = new Map<string, Record<string, any>>();
  for (const doc of parseAllDocuments(stdout)) {
    const value = doc.toJS() as Record<string, any> | null;
    if (value && typeof value.name === "string") out.set(value.name, value);
  }
  return out;
}

describe("pg_timetable: its own schema and samples", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  const samples = readdirSync(join(UPSTREAM, "pg_timetable/samples")).filter((f) => f.endsWith(".sql")).sort();
  const GRANTEE = "upstream_tt_scheduler";

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "upstream_tt" });
    // The order pg_timetable's bootstrap runs its scripts in (internal/pgengine/bootstrap.go).
    for (const f of ["init", "cron", "ddl", "json_schema", "job_functions"]) {
      await db.query(readFileSync(join(UPSTREAM, "pg_timetable/schema", `${f}.sql`), "utf8"));
    }
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${GRANTEE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  });
  after(async () => {
    await db?.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${GRANTEE}`);
  });
  /**
   * A sample as published, except that Download.sql's grant to pg_timetable's usual role
   * "scheduler" goes to a role of this test's own (the test cluster is shared, and the
   * README tour makes a "scheduler" of its own).
   */
  const sample = (f: string) => readFileSync(join(UPSTREAM, "pg_timetable/samples", f), "utf8").replace(/\bTO scheduler;/g, `TO ${GRANTEE};`);

  test("every sample loads into the real schema", async () => {
    for (const f of samples) {
      await db.query(sample(f)).catch((error: Error) => {
        throw new Error(`samples/${f}: ${error.message}`);
      });
    }
    const n = Number((await db.query("SELECT count(*) AS n FROM timetable.chain")).rows[0].n);
    assert.ok(n > 500, `${n} chains`);
  });

  // What Clockwork cannot do, by chain, as the refusal must say it.
  const REFUSED: Record<string, RegExp> = {
    send_mail: /task "task 1" is the built-in SendMail: SendMail's attachmentdata \(files given inline, base64\) has no equivalent/,
    sync_etcd_with_postgresql: /the built-in CopyToProgram has no Clockwork equivalent.*the built-in CopyFromProgram has no Clockwork equivalent/,
    remote_db: /task "task 1" connects with ".*password=…", which has a password/,
    shutdown_on_schedule: /Shutdown \(stop the scheduler from a chain\) has no equivalent/,
    retry_on_fail_delayed: /on_error \(SQL run when the chain fails\) needs a failure hook/,
    fail_with_on_error_notify: /on_error \(SQL run when the chain fails\) needs a failure hook/,
  };
  // exclusive_execution: imported into the concurrency group pg_timetable_exclusive (issue 16).
  const EXCLUSIVE = ["exclusive_sleep_every_10s", "exclusive_sleep_after_10s"];

  test("each chain imports, or is refused with the feature named; nothing secret is printed", async () => {
    const chains: string[] = (await db.query("SELECT chain_name FROM timetable.chain ORDER BY chain_id")).rows.map((r) => r.chain_name);
    const r = await clockwork(["import", "pg_timetable", "--dry-run", "--skip-unsupported"], { databaseUrl: db.url, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /somestrong|"password":/, "RemoteDB's and Mail's passwords stay behind");
    const jobs = dryRunJobs(r.stdout);
    const refusals = new Map(r.stderr.split("\n").flatMap((line) => {
      const m = /^cannot import pg_timetable chain \d+ \((.+?)\): (.*)$/.exec(line);
      return m ? [[m[1]!, m[2]!] as const] : [];
    }));
    for (const chain of chains) {
      const imported = jobs.has(chain);
      const refusal = refusals.get(chain);
      assert.ok(imported !== (refusal !== undefined), `chain ${chain}: imported or refused, once`);
      if (chain in REFUSED) assert.match(refusal ?? "(imported)", REFUSED[chain]!, chain);
      else if (EXCLUSIVE.includes(chain)) {
        assert.ok(imported, `${chain}: ${refusal}`);
        assert.equal(jobs.get(chain)!.policies?.group, "pg_timetable_exclusive", chain);
      }
      else assert.ok(imported, `chain ${chain} was refused: ${refusal}`);
    }
    // What the samples say, kept.
    const basic = jobs.get("notify_every_minute")!;
    assert.deepEqual(basic.schedules, ["* * * * *"]);
    assert.deepEqual(basic.policies, { max_instances: 1 });
    assert.deepEqual(basic.steps["task-1"], { sql: "SELECT pg_notify(:p1, :p2)", parameters: { p1: "TT_CHANNEL", p2: "Ahoj from SQL base task" }, on_error: "continue", autonomous: true });
    // add_job writes a NULL parameter row for a job without parameters; pg_timetable skips it.
    assert.deepEqual(jobs.get("cron_insert_every_2h_on_27th")!.steps["task-1"], { sql: "INSERT INTO timetable.dummy_log (event_name) VALUES ('Cron test')", on_error: "continue", autonomous: true });
    assert.deepEqual(jobs.get("cron_insert_every_2h_on_27th")!.schedules, ["40 */2 27 * *"]);
    // No run_at: pg_timetable runs it every minute (is_cron_in_time is true for NULL).
    assert.deepEqual(jobs.get("builtin_log_every_minute")!.schedules, ["* * * * *"]);
    assert.deepEqual(jobs.get("call_proc_every_10s")!.steps["task-1"], { sql: "CALL test_proc()", on_error: "continue", autonomous: true });
    assert.deepEqual(jobs.get("call_proc_every_10s")!.schedules, ["@every 10 seconds"]);
    assert.deepEqual(jobs.get("sleep_every_10s")!.steps["task-1"], { builtin: "sleep", args: { duration: 20 }, on_error: "continue" });
    assert.deepEqual(jobs.get("notify_then_destruct")!.policies, { self_destruct: true });
    const download = jobs.get("download_locations_and_aggregate")!;
    assert.deepEqual(Object.keys(download.steps), ["task-1", "remove_accents", "task-3", "remove_csv_files"]);
    assert.deepEqual(download.steps["task-3"], { builtin: "copy_from", args: { file: "mt_ansi.csv", table: "city", format: "csv", header: true }, depends: ["remove_accents"] });
    const chain = jobs.get("chain_operation")!;
    assert.deepEqual(Object.keys(chain.steps), ["task-1", "task-2", "task-3"]);
    assert.deepEqual(chain.steps["task-2"].depends, ["task-1"]);
    assert.equal(Object.keys(jobs.get("many_tasks")!.steps).length, 501);
    assert.deepEqual(jobs.get("hello_world_42")!.steps["task-1"].program, ["bash", "-c", "echo Hello World from 42"]);
    assert.deepEqual(jobs.get("etcd_prefix_read_clean")!.steps["write_keys_to_etcd-3"].depends, ["write_keys_to_etcd-2"]);
  });

  test("the imported samples are accepted by the database, and one runs as pg_timetable runs it", async () => {
    // Without the 500 copies of ManyChains.sql: the same chain 500 times adds nothing but time.
    await db.query("DELETE FROM timetable.chain WHERE chain_name LIKE 'hello\\_world\\_%' AND chain_name <> 'hello_world_1'");
    const r = await clockwork(["import", "pg_timetable", "--skip-unsupported"], { databaseUrl: db.url, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const count = Number((await db.query("SELECT count(*) AS n FROM clockwork.jobs WHERE managed_by = 'import-pg-timetable'")).rows[0].n);
    const chains = Number((await db.query("SELECT count(*) AS n FROM timetable.chain")).rows[0].n);
    assert.ok(count >= chains - Object.keys(REFUSED).length - EXCLUSIVE.length && count <= chains - Object.keys(REFUSED).length, `${count} of ${chains} chains imported`);
    // chain_operation: three SQL tasks with their parameters, in order.
    const exported = await clockwork(["export", "chain_operation"], { databaseUrl: db.url });
    const dir = mkdtempSync(join(tmpdir(), "clockwork-upstream-"));
    writeFileSync(join(dir, "chain.yaml"), exported.stdout);
    const ran = await clockwork(["run", "chain.yaml"], { cwd: dir, databaseUrl: db.url });
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.deepEqual((await db.query("SELECT event FROM timetable.chain_log ORDER BY chain_log")).rows.map((x) => x.event), ["Added", "Updated"]);
  });

  test("its YAML chain files import, or are refused with the feature named", async () => {
    const dir = join(UPSTREAM, "pg_timetable/samples/yaml");
    for (const f of readdirSync(dir).sort()) {
      const r = await clockwork(["import", "pg_timetable", "--file", f, "--dry-run", "--time-zone", "UTC"], { cwd: dir, databaseUrl: db.url });
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.ok(dryRunJobs(r.stdout).size > 0, `${f}: no job`);
    }
  });
});

describe("pg_cron: the examples of its README", { skip: noPgCron ?? false }, () => {
  let cluster: Cluster;
  let client: pg.Client;
  let url: string;
  const newerSyntax: string[] = [];

  before(async () => {
    cluster = await startCluster({ settings: { shared_preload_libraries: "'pg_cron'", "cron.database_name": "'app'" } });
    const admin = new pg.Client({ connectionString: cluster.url("postgres") });
    await admin.connect();
    await admin.query("CREATE DATABASE app");
    await admin.query("CREATE DATABASE some_other_database");
    await admin.end();
    url = cluster.url("app");
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE EXTENSION pg_cron; ${installClockworkSql}`);
    // The README is for pg_cron 1.6; Debian 12 has 1.4, which refuses "N seconds" and "$".
    // Such a statement runs as written against a stand-in that stores the row as pg_cron
    // 1.6's cron.schedule does.
    await client.query(`CREATE FUNCTION pg_temp.schedule(job_name text, schedule text, command text) RETURNS bigint LANGUAGE sql AS $f$
        INSERT INTO cron.job (jobname, schedule, command, nodename, nodeport, database, username)
        VALUES (job_name, schedule, command, 'localhost', current_setting('port')::int, current_database(), current_user) RETURNING jobid $f$`);
    const text = readFileSync(join(UPSTREAM, "pg_cron/readme-examples.sql"), "utf8");
    const statements = text.split(/;\s*\n/).map((s) => s.trim()).filter((s) => /SELECT\s+cron\./i.test(s));
    assert.equal(statements.length, 7);
    for (const s of statements) {
      try {
        await client.query(s);
      } catch (error) {
        if (!/invalid schedule/.test((error as Error).message)) throw error;
        newerSyntax.push([...s.matchAll(/'([^']*)'/g)].map((m) => m[1]!).find((a) => /^\d+ seconds$|\$/.test(a)) ?? s);
        await client.query(s.replace(/cron\.schedule\(/i, "pg_temp.schedule("));
      }
    }
  });
  after(async () => {
    await client?.end();
    cluster?.stop();
  });

  test("every example imports with its schedule, database and kind of statement", async () => {
    assert.deepEqual(newerSyntax, ["30 seconds", "5 seconds", "0 12 $ * *"], "what pg_cron 1.4 refused");
    const r = await clockwork(["import", "pg_cron", "--dry-run"], { databaseUrl: url });
    assert.equal(r.code, 0, r.stderr);
    const jobs = dryRunJobs(r.stdout);
    assert.deepEqual([...jobs.keys()], ["pg_cron-1", "nightly-vacuum", "run_every_30_seconds", "process-updates", "process-payroll", "delete_old_data", "delete-job-run-details"]);
    const step = (name: string) => jobs.get(name)!.steps.main;
    assert.deepEqual(jobs.get("pg_cron-1")!.schedules, ["30 3 * * 6"]);
    assert.equal(step("pg_cron-1").sql, "DELETE FROM events WHERE event_time < now() - interval '1 week'");
    assert.deepEqual(jobs.get("run_every_30_seconds")!.schedules, ["@every 30s"]);
    assert.deepEqual(jobs.get("process-updates")!.schedules, ["@every 5s"]);
    assert.deepEqual(jobs.get("process-payroll")!.schedules, ["0 12 L * *"]);
    assert.deepEqual(step("delete_old_data"), { sql: "DELETE FROM events WHERE event_time < now() - interval '1 week'", database: "some_other_database" });
    assert.match(r.stdout, /# imported from pg_cron job 2 \(nightly-vacuum\)\n# note: VACUUM runs outside a transaction/);
    assert.match(r.stdout, /# imported from pg_cron job \d+ \(process-payroll\)\n# note: pg_cron's \$ \(last day of the month\) is written L/);
    const applied = await clockwork(["import", "pg_cron"], { databaseUrl: url });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(Number((await client.query("SELECT count(*) AS n FROM clockwork.jobs WHERE managed_by = 'import-pg-cron'")).rows[0].n), 7);
  });
});

describe("PgQuartz: its example job (jobs/jobspec1)", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "upstream_pq" });
  });
  after(async () => {
    await db?.drop();
  });

  test("as published it is refused: its workdir and a check's file are on the author's machine", async () => {
    const r = await clockwork(["validate", "job.yml"], { cwd: join(UPSTREAM, "pgquartz/jobspec1") });
    assert.equal(r.code, 3);
    assert.deepEqual(r.stderr.trim().split("\n"), [
      "job.yml:6:1: workdir: folder /host/jobs/jobspec1 does not exist [KW002]",
      "job.yml:23:7: steps.awesome2.commands[0].file: file /host/jobs/jobspec1/commands/step2.sql does not exist [KW002]",
      "job.yml:35:7: steps.awesome3.commands[0].file: file /host/jobs/jobspec1/commands/step3.sh does not exist [KW002]",
      "job.yml:58:5: checks[1].file: file /opt/awesome/checks/check1.sh does not exist [KW002]",
    ]);
  });

  test("with its workdir here and without the check that names a missing file, it runs as PgQuartz runs it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clockwork-jobspec1-"));
    cpSync(join(UPSTREAM, "pgquartz/jobspec1"), dir, { recursive: true });
    // The two changes: workdir (the author's /host/jobs/jobspec1/), and the second check
    // (type "query", a connection the file does not define, and a script not in the repository).
    const original = readFileSync(join(dir, "job.yml"), "utf8");
    const edited = original.replace('workdir: "/host/jobs/jobspec1/"', `workdir: "${dir}"`)
      .replace("  - type: query\n    file: /opt/awesome/checks/check1.sh\n", "");
    assert.notEqual(edited, original);
    assert.doesNotMatch(edited, /check1\.sh/);
    writeFileSync(join(dir, "job.yml"), edited);
    await db.query('CREATE TABLE t1 (delay int, "desc" text)');
    // Its connection "pg" names host /tmp: another server for Clockwork, a named connection.
    const port = new URL(db.url).port;
    await db.query("SELECT clockwork.define_connection('pg', $1)", [`host=127.0.0.1 port=${port} dbname=${db.name}`]);
    const r = await clockwork(["run", "--concurrency", "9", "job.yml"], { cwd: dir, databaseUrl: db.url, timeoutMs: 300_000 });
    // Its remaining check looks for /data/myexport.sql, which no step writes: the job fails
    // there, after every step ran, as it does under PgQuartz.
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /failed in .*: check "check-1" exited with 1, expected 0/);
    assert.match(r.stdout, /✔ pgquartz-role-pg succeeded/, "role primary was checked first, and held");
    assert.deepEqual((await db.query('SELECT delay, "desc" FROM t1 ORDER BY 1, 2')).rows.length, 9, "awesome1: its 3×3 matrix inserted");
    assert.match(r.stdout, /✔ awesome2\[[^\]]+\] succeeded/, "awesome2 ran: its when rule (eq .Steps.awesome1.Rc 0) held");
    assert.match(r.stdout, /awesome3\[[^\]]+\] │ Mijn PID is \d+, ARGS zijn: \d en [ABC]/);
    assert.match(r.stdout, /awesome4 │ .*job\.yml/, "awesome4 ran: its when rule over awesome3's output held, and ls listed the workdir");
    assert.match(r.stdout, /lock "awesome" held/);
  });
});
