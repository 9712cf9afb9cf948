// clockwork import against the real schemas: pg_cron from Debian's postgresql-15-cron (in a
// cluster of this test's own, with pg_cron preloaded), pgAgent from Debian's pgagent (with a
// differential check of imported schedules against pgAgent's own pga_next_schedule),
// pg_timetable from its own schema DDL (test/cli/upstream; it is not packaged),
// and crontab files.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { adminQuery, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS, installClockworkSql } from "../support/runtime.ts";
import { extensionMissing, ROOT } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();
const available = async (name: string) => (await adminQuery("SELECT 1 FROM pg_available_extensions WHERE name = $1", [name])).rowCount === 1;
const noPgCron = missing ?? ((await available("pg_cron")) ? null : "pg_cron is not installed (Debian package postgresql-15-cron)");
const noPgAgent = missing ?? ((await available("pgagent")) ? null : "pgAgent is not installed (Debian package pgagent)");

describe("import pg_cron", { skip: noPgCron ?? false }, () => {
  let cluster: Cluster;
  let client: pg.Client;
  let url: string;
  before(async () => {
    cluster = await startCluster({ settings: { shared_preload_libraries: "'pg_cron'", "cron.database_name": "'app'" } });
    const admin = new pg.Client({ connectionString: cluster.url("postgres") });
    await admin.connect();
    await admin.query("CREATE DATABASE app");
    await admin.end();
    url = cluster.url("app");
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE EXTENSION pg_cron; ${installClockworkSql}`);
    await client.query("CREATE ROLE alice LOGIN; GRANT USAGE ON SCHEMA cron TO alice");
    await client.query("SELECT cron.schedule('nightly-report', '30 3 * * 1-5', $$SELECT count(*) FROM pg_class$$)");
    await client.query("SELECT cron.schedule_in_database('alices-job', '*/5 * * * *', 'SELECT 1', 'app', 'alice', false)");
    await client.query("SELECT cron.schedule('0 * * * *', 'SELECT 2')"); // no name
    // Rows as newer pg_cron releases write them (1.4 in Debian 12 has no seconds, no $).
    await client.query(`INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username, jobname)
                        VALUES ('30 seconds', 'SELECT 3', 'localhost', 5432, 'app', 'postgres', 'every-30s'),
                               ('0 23 $ * *', 'SELECT 4', 'localhost', 5432, 'app', 'postgres', 'month-end')`);
  });
  after(async () => {
    await client?.end();
    cluster?.stop();
  });

  test("a job in another database becomes a step on that database, and one on another server a step with its conninfo", async () => {
    await client.query(`INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username, jobname)
                        VALUES ('0 1 * * *', 'SELECT 5', 'localhost', 5432, 'postgres', 'alice', 'elsewhere'),
                               ('0 2 * * *', 'SELECT 6', 'db2.example', 6432, 'app', 'alice', 'remote')`);
    const r = await clockwork(["import", "pg_cron", "--dry-run"], { databaseUrl: url });
    await client.query("DELETE FROM cron.job WHERE jobname IN ('elsewhere', 'remote')");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# note: it runs in database "postgres": the step does too, as its owner, and runs at least once[^\n]*\nname: elsewhere\n[\s\S]*?steps:\n  main:\n    sql: SELECT 5\n    database: postgres\n/);
    assert.match(r.stdout, /name: remote\n[\s\S]*?steps:\n  main:\n    sql: SELECT 6\n    conninfo: host=db2.example port=6432 dbname=app\n/);
    assert.equal((await client.query("SELECT count(*)::int AS n FROM clockwork.jobs")).rows[0].n, 0);
  });

  test("from another server, a job on pg_cron's localhost connects to pg_cron's server, not to the Clockwork server", async () => {
    const scheduler = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cron_target" });
    try {
      const r = await clockwork(["import", "pg_cron", "--from", url, "--dry-run"], { databaseUrl: scheduler.url });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`# note: it runs on pg_cron's own server: the source server \\(127\\.0\\.0\\.1:${cluster.port}\\) is not the Clockwork server[^\\n]*\\nname: nightly-report\\n[\\s\\S]*?steps:\\n  main:\\n    sql: SELECT count\\(\\*\\) FROM pg_class\\n    conninfo: host=127\\.0\\.0\\.1 port=${cluster.port} dbname=app\\n`));
    } finally {
      await scheduler.drop();
    }
  });

  test("in a zone with summer time, a cron job fires as pg_cron's minute-by-minute check does: a skipped wall time never, a repeated one twice", async () => {
    // cron.timezone came with pg_cron 1.5 (Debian 12 has 1.4): given here as the session's setting it reads.
    const r = await clockwork(["import", "pg_cron", "--dry-run"], { databaseUrl: url, env: { PGOPTIONS: "-c cron.timezone=Europe/Berlin" } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# note: pg_cron checks each minute's wall time in Europe\/Berlin: [^\n]*\nname: nightly-report\n[\s\S]*?time_zone: Europe\/Berlin\nschedules:\n  - cron: 30 3 \* \* 1-5\n    dst:\n      gap: skip\n      overlap: twice\n/);
    assert.match(r.stdout, /name: every-30s\n[\s\S]*?schedules: \["@every 30s"\]/, "@every counts absolute time");
  });

  test("@restart, pg_cron's other spelling of @reboot, is @reboot; both say when they fire", async () => {
    await client.query(`INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username, jobname)
                        VALUES ('@restart', 'SELECT 7', 'localhost', 5432, 'app', 'postgres', 'on-restart'),
                               ('@reboot', 'SELECT 8', 'localhost', 5432, 'app', 'postgres', 'on-reboot')`);
    const r = await clockwork(["import", "pg_cron", "--dry-run"], { databaseUrl: url });
    await client.query("DELETE FROM cron.job WHERE jobname IN ('on-restart', 'on-reboot')");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /# note: pg_cron runs "@restart" when PostgreSQL starts; Clockwork runs @reboot when the scheduler starts[^\n]*\nname: on-restart\n[\s\S]*?schedules: \["@reboot"\]\n/);
    assert.match(r.stdout, /# note: pg_cron runs "@reboot" when PostgreSQL starts[^\n]*\nname: on-reboot\n[\s\S]*?schedules: \["@reboot"\]\n/);
  });

  test("--dry-run prints the YAML it would apply", async () => {
    const r = await clockwork(["import", "pg_cron", "--dry-run"], { databaseUrl: url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# imported from pg_cron job 1 \(nightly-report\)\nname: nightly-report\n/);
    assert.match(r.stdout, /schedules: \[30 3 \* \* 1-5\]/);
    assert.match(r.stdout, /name: every-30s\n[\s\S]*schedules: \["@every 30s"\]/);
    assert.match(r.stdout, /# note: pg_cron's "30 seconds" runs every so many seconds from when pg_cron started; @every counts from when the job is imported[^\n]*\nname: every-30s\n/);
    assert.match(r.stdout, /name: month-end\n[\s\S]*schedules: \[0 23 L \* \*\]/);
    assert.match(r.stdout, /name: pg_cron-3\n/);
    assert.equal((await client.query("SELECT count(*)::int AS n FROM clockwork.jobs")).rows[0].n, 0);
  });

  test("imports with owner, active flag and time zone, and switches pg_cron off in the same transaction", async () => {
    const r = await clockwork(["import", "pg_cron"], { databaseUrl: url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Imported 5 jobs into the set "import-pg-cron": 5 created/);
    const jobs = (await client.query("SELECT job, owner, enabled, managed_by, definition FROM clockwork.job_definitions ORDER BY job")).rows;
    const alice = jobs.find((j) => j.job === "alices-job");
    assert.equal(alice.owner, "alice", "defined as its pg_cron username");
    assert.equal(alice.enabled, false, "pg_cron's active = false");
    assert.equal(jobs.find((j) => j.job === "nightly-report").definition.time_zone, "UTC");
    assert.deepEqual(jobs.map((j) => j.managed_by), Array(5).fill("import-pg-cron"));
    assert.equal((await client.query("SELECT count(*)::int AS n FROM cron.job WHERE active")).rows[0].n, 4, "pg_cron's jobs still run until the cut-over");
    // The imported schedule fires where pg_cron's would: 03:30 on weekdays.
    const next = (await client.query("SELECT fire_at FROM clockwork.next_runs('nightly-report', 2, '2026-11-27 12:00Z')")).rows;
    assert.deepEqual(next.map((x) => x.fire_at.toISOString()), ["2026-11-30T03:30:00.000Z", "2026-12-01T03:30:00.000Z"]);
    // '30 seconds' as @every 30s: its slots count from the import (the job's creation), not from the epoch.
    const phase = (await client.query(`SELECT bool_and(mod((extract(epoch FROM n.fire_at - j.created_at) * 1000)::bigint, 30000) = 0) AS from_import
                                         FROM clockwork.jobs j, clockwork.next_runs('every-30s', 3) n WHERE j.name = 'every-30s'`)).rows[0];
    assert.equal(phase.from_import, true);
    // Importing again changes nothing; with --switch-off it is the cut-over, in the same transaction.
    const again = await clockwork(["import", "pg_cron", "--switch-off"], { databaseUrl: url });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /5 pg_cron jobs set inactive/);
    assert.match(again.stdout, /0 created, 0 changed, 5 unchanged/);
    assert.equal((await client.query("SELECT count(*)::int AS n FROM cron.job WHERE active")).rows[0].n, 0, "cut-over: pg_cron's jobs are inactive");
  });
});

describe("import pgAgent", { skip: noPgAgent ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS, "pgagent"], prefix: "pga" });
    const q = (sql: string, params: unknown[] = []) => db.query(sql, params);
    await q(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname, jobdesc, jobhostagent) VALUES (1, 1, 'Nightly maintenance', 'vacuum and report', 'db1')`);
    await q(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname, jstonerror, jstenabled) VALUES
               (1, 'b report', 's', 'INSERT INTO pga_out VALUES (''report'')', $1, 'i', true),
               (1, 'a first', 's', 'INSERT INTO pga_out VALUES (''first'')', $1, 'f', true),
               (1, 'c skipped', 's', 'INSERT INTO pga_out VALUES (''never'')', $1, 'f', false),
               (1, 'd batch', 'b', 'echo batch done', '', 's', true)`, [db.name]);
    await q(`INSERT INTO pgagent.pga_schedule (jscid, jscjobid, jscname, jscstart, jscend, jscminutes, jschours, jscweekdays)
             VALUES (1, 1, 'weeknights', '2026-01-01 00:00Z', '2027-01-01 00:00Z',
                     (SELECT array_agg(m = 15) FROM generate_series(0, 59) m), (SELECT array_agg(h = 2) FROM generate_series(0, 23) h),
                     '{f,t,t,t,t,t,f}')`);
    await q(`INSERT INTO pgagent.pga_schedule (jscid, jscjobid, jscname, jscstart, jscenabled) VALUES (2, 1, 'every minute', '2026-01-01 00:00Z', true),
                                                                                                (3, 1, 'old', '2026-01-01 00:00Z', false)`);
    await q(`INSERT INTO pgagent.pga_exception (jexscid, jexdate, jextime) VALUES (1, '2026-12-24', NULL), (1, '2026-12-28', '02:15'), (2, NULL, '12:00')`);
    await q(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname) VALUES (2, 5, 'elsewhere')`);
    await q(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname) VALUES (2, 'x', 's', 'SELECT 1', 'postgres')`);
    await q(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname) VALUES (3, 5, 'remote'), (4, 5, 'remote-with-password')`);
    await q(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname, jstconnstr) VALUES
               (3, 'x', 's', 'SELECT 1', '', 'host=db2.example dbname=app'),
               (4, 'x', 's', 'SELECT 1', '', 'host=db2.example dbname=app password=hunter2')`);
    await q("CREATE TABLE pga_out (what text, at timestamptz DEFAULT clock_timestamp())");
    await q("SELECT setval('pgagent.pga_job_jobid_seq', 1000), setval('pgagent.pga_schedule_jscid_seq', 1000)");
  });
  after(async () => {
    await db?.drop();
  });

  test("imports jobs, steps in name order with their on-error, schedules with exceptions, and says what differs", async () => {
    const r = await clockwork(["import", "pgagent", "--skip-unsupported"], { databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot import pgAgent job 4 \(remote-with-password\): step "x" connects with "host=db2.example dbname=app password=…", which has a password: Clockwork keeps none in a definition/);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
    assert.match(r.stdout, /step "x" runs in database "postgres": as the job's owner, at least once/);
    const other = Object.fromEntries((await db.query("SELECT job, definition FROM clockwork.job_definitions WHERE job IN ('elsewhere', 'remote')")).rows.map((x) => [x.job, x.definition.steps.x]));
    assert.deepEqual(other, { elsewhere: { sql: "SELECT 1", database: "postgres" }, remote: { sql: "SELECT 1", conninfo: "host=db2.example dbname=app" } });
    assert.match(r.stdout, /schedule "every minute" is "every minute": pgAgent fires it every two minutes .* imported as every minute, as meant/);
    assert.match(r.stdout, /schedule "old" is disabled in pgAgent: not imported/);
    assert.match(r.stdout, /pinned to pgAgent host "db1": it runs on a supervisor started with --labels host:db1/);
    const def = (await db.query("SELECT definition FROM clockwork.job_definitions WHERE job = 'Nightly-maintenance'")).rows[0].definition;
    assert.deepEqual(Object.keys(def.steps), ["a_first", "b_report", "c_skipped", "d_batch"].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)));
    assert.deepEqual(def.steps.b_report, { sql: "INSERT INTO pga_out VALUES ('report')", depends: ["a_first"], on_error: "continue" });
    assert.deepEqual(def.steps.c_skipped.when, "false");
    assert.deepEqual(def.steps.d_batch, { shell: "echo batch done", depends: ["c_skipped"], when: "true", on_error: "succeed" });
    assert.deepEqual(def.tags, ["Routine Maintenance"]);
    assert.deepEqual(def.labels, ["host:db1"]);
    assert.deepEqual(def.schedules[0].exclude, { dates: ["2026-12-24"], datetimes: ["2026-12-28T02:15"] });
    assert.deepEqual(def.schedules[1].exclude, { times: ["12:00"] });
    assert.equal(def.schedules.length, 2);
    // The weeknights schedule: 02:15 Monday to Friday, not on the excluded dates, until its end.
    const next = (await db.query("SELECT fire_at FROM clockwork.next_runs('Nightly-maintenance', 10000, '2026-12-23 12:00Z') WHERE schedule_position = 0 LIMIT 2")).rows;
    assert.deepEqual(next.map((x) => x.fire_at.toISOString()), ["2026-12-25T02:15:00.000Z", "2026-12-29T02:15:00.000Z"]);
    const noon = (await db.query("SELECT count(*)::int AS n FROM clockwork.next_runs('Nightly-maintenance', 10000, '2026-12-23 12:00Z') WHERE fire_at::time = '12:00'")).rows[0].n;
    assert.equal(noon, 0, "the every-minute schedule's exception at 12:00");
  });

  test("steps keep pgAgent's order, ORDER BY jstname in the database's collation (en-US: analyze, Backup, cleanup)", async () => {
    const en = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS, "pgagent"], prefix: "pga_en", icuLocale: "en-US" });
    try {
      await en.query(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname) VALUES (1, 1, 'mixed case')`);
      await en.query(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname) VALUES
                        (1, 'cleanup', 's', 'SELECT 3', $1), (1, 'Backup', 's', 'SELECT 2', $1), (1, 'analyze', 's', 'SELECT 1', $1)`, [en.name]);
      // The order pgAgent's job thread reads them in (pgAgent 4.2.2, job.cpp).
      const pgagent = (await en.query("SELECT jstname FROM pgagent.pga_jobstep WHERE jstenabled AND jstjobid = 1 ORDER BY jstname, jstid")).rows.map((x) => x.jstname);
      assert.deepEqual(pgagent, ["analyze", "Backup", "cleanup"]);
      const r = await clockwork(["import", "pgagent"], { databaseUrl: en.url });
      assert.equal(r.code, 0, r.stderr);
      const steps = (await en.query("SELECT definition->'steps' AS steps FROM clockwork.job_definitions WHERE job = 'mixed-case'")).rows[0].steps;
      assert.deepEqual(steps.analyze.depends, undefined);
      assert.deepEqual(steps.Backup.depends, ["analyze"]);
      assert.deepEqual(steps.cleanup.depends, ["Backup"]);
    } finally {
      await en.drop();
    }
  });

  test("from another server, a step on a database of pgAgent's server connects to that server, not to the Clockwork server", async () => {
    const other = await startCluster();
    try {
      const admin = new pg.Client({ connectionString: other.url("postgres") });
      await admin.connect();
      await admin.query(installClockworkSql);
      await admin.end();
      const r = await clockwork(["import", "pgagent", "--from", db.url, "--skip-unsupported", "--dry-run"], { databaseUrl: other.url("postgres") });
      assert.equal(r.code, 0, r.stderr);
      const { hostname, port } = new URL(db.url);
      const doc = (name: string) => `${r.stdout.split("\n---\n").find((d) => d.includes(`\nname: ${name}\n`)) ?? ""}\n`;
      assert.ok(doc("elsewhere").includes(`\n  x:\n    sql: SELECT 1\n    conninfo: host=${hostname} port=${port} dbname=postgres\n`), r.stdout);
      assert.ok(doc("Nightly-maintenance").includes(`\n  a_first:\n    sql: INSERT INTO pga_out VALUES ('first')\n    conninfo: host=${hostname} port=${port} dbname=${db.name}\n`), r.stdout);
      assert.match(doc("Nightly-maintenance"), /# note: step "a first" runs on pgAgent's server: the source server \([^)]+\) is not the Clockwork server/);
    } finally {
      other.stop();
    }
  });

  test("a batch step whose #! line names another interpreter or options is refused: pgAgent executes the file, bash -c would read it as a comment", async () => {
    const own = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS, "pgagent"], prefix: "pga_sb" });
    try {
      await own.query(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname) VALUES (1, 1, 'python report'), (2, 1, 'strict sh'), (3, 1, 'bash script')`);
      await own.query(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname) VALUES
                         (1, 'report', 'b', E'#!/usr/bin/env python3\\nprint(\\'rows:\\', 3)\\n', ''),
                         (2, 'copy', 'b', E'#!/bin/sh -e\\nfalse\\necho copied\\n', ''),
                         (3, 'list', 'b', E'#!/bin/bash\\necho listed\\n', '')`);
      const r = await clockwork(["import", "pgagent"], { databaseUrl: own.url });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /cannot import pgAgent job 1 \(python report\): step "report" starts with "#!\/usr\/bin\/env python3": pgAgent executes a batch step as a file/);
      assert.match(r.stderr, /cannot import pgAgent job 2 \(strict sh\): step "copy" starts with "#!\/bin\/sh -e"/);
      assert.doesNotMatch(r.stderr, /job 3/, "bash itself is Clockwork's shell");
      assert.equal((await own.query("SELECT count(*)::int AS n FROM clockwork.jobs")).rows[0].n, 0);
      const some = await clockwork(["import", "pgagent", "--skip-unsupported"], { databaseUrl: own.url });
      assert.equal(some.code, 0, some.stderr);
      assert.deepEqual((await own.query("SELECT job FROM clockwork.job_definitions")).rows, [{ job: "bash-script" }]);
    } finally {
      await own.drop();
    }
  });

  test("differential: imported schedules give the slots pgAgent's own pga_next_schedule gives", async () => {
    let seed = 20261130;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = (n: number, p: number) => Array.from({ length: n }, () => rand() < p);
    let compared = 0;
    for (let c = 0; c < 40; c++) {
      const sets = {
        minutes: pick(60, rand() < 0.3 ? 0 : 0.05), hours: pick(24, rand() < 0.3 ? 0 : 0.15),
        weekdays: pick(7, rand() < 0.5 ? 0 : 0.5), monthdays: pick(32, rand() < 0.6 ? 0 : 0.2), months: pick(12, rand() < 0.6 ? 0 : 0.5),
      };
      // "Every minute" (pgAgent's quirk, imported as meant) is checked separately above.
      if (![sets.minutes, sets.hours, sets.monthdays, sets.months].some((s) => s.some(Boolean))) sets.minutes[7] = true;
      let start = new Date(Date.UTC(2037, Math.floor(rand() * 12), 1 + Math.floor(rand() * 28), Math.floor(rand() * 24), Math.floor(rand() * 60)));
      if (c === 0) {
        // The last day of the month (monthday 32) in a leap February: the 29th, as pgAgent 4.2.2.
        Object.assign(sets, { minutes: pick(60, 0), hours: pick(24, 0), weekdays: pick(7, 0), monthdays: pick(32, 0), months: pick(12, 0) });
        [sets.minutes[5], sets.hours[18], sets.monthdays[31]] = [true, true, true];
        start = new Date("2040-02-01T00:00:00Z");
      }
      const jobid = 100 + c;
      await db.query(`INSERT INTO pgagent.pga_job (jobid, jobjclid, jobname) VALUES ($1, 5, $2)`, [jobid, `diff-${c}`]);
      await db.query(`INSERT INTO pgagent.pga_jobstep (jstjobid, jstname, jstkind, jstcode, jstdbname) VALUES ($1, 's', 's', 'SELECT 1', $2)`, [jobid, db.name]);
      const jscid = (await db.query(`INSERT INTO pgagent.pga_schedule (jscjobid, jscname, jscstart, jscminutes, jschours, jscweekdays, jscmonthdays, jscmonths)
                                     VALUES ($1, 's', $2, $3, $4, $5, $6, $7) RETURNING jscid`,
        [jobid, start, sets.minutes, sets.hours, sets.weekdays, sets.monthdays, sets.months])).rows[0].jscid;
      if (rand() < 0.3) await db.query(`INSERT INTO pgagent.pga_exception (jexscid, jexdate, jextime) VALUES ($1, $2::date, NULL)`, [jscid, start]);
      // pgAgent's own answers: the first slot at or after a start, again and again (up to 2045).
      const expected: string[] = [];
      let from = start;
      for (let k = 0; k < 6; k++) {
        const r = await db.query(`SELECT pgagent.pga_next_schedule($1, $2, NULL, jscminutes, jschours, jscweekdays, jscmonthdays, jscmonths) AS at
                                    FROM pgagent.pga_schedule WHERE jscid = $1`, [jscid, from]);
        const at = r.rows[0].at as Date | null;
        if (at === null || at >= new Date("2045-01-01T00:00:00Z")) break;
        expected.push(at.toISOString());
        from = new Date(at.getTime() + 60_000);
      }
      if (expected.length === 0) continue;
      compared++;
    }
    const r = await clockwork(["import", "pgagent", "--skip-unsupported"], { databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    let checked = 0;
    for (let c = 0; c < 40; c++) {
      const { rows } = await db.query(`SELECT jscid, jscstart FROM pgagent.pga_schedule s JOIN pgagent.pga_job j ON j.jobid = s.jscjobid WHERE j.jobname = $1`, [`diff-${c}`]);
      const { jscid, jscstart } = rows[0];
      const expected: string[] = [];
      let from = jscstart as Date;
      for (let k = 0; k < 6; k++) {
        const x = await db.query(`SELECT pgagent.pga_next_schedule($1, $2, NULL, jscminutes, jschours, jscweekdays, jscmonthdays, jscmonths) AS at FROM pgagent.pga_schedule WHERE jscid = $1`, [jscid, from]);
        const at = x.rows[0].at as Date | null;
        if (at === null || at >= new Date("2045-01-01T00:00:00Z")) break;
        expected.push(at.toISOString());
        from = new Date(at.getTime() + 60_000);
      }
      if (expected.length === 0) continue;
      // pgAgent's first answer after a start depends on the minute it is asked at (moving on
      // to a later hour or day, its search keeps that minute): compare from its first slot on,
      // where every answer is asked a minute after the slot before, as pgAgent asks in service.
      const got = (await db.query("SELECT fire_at FROM clockwork.next_runs($1, 6, $2::timestamptz - interval '1 second') WHERE fire_at < '2045-01-01Z'", [`diff-${c}`, expected[0]])).rows
        .map((x) => x.fire_at.toISOString()).slice(0, expected.length);
      assert.deepEqual(got, expected, `schedule diff-${c} (jscid ${jscid}) from ${jscstart.toISOString()}`);
      if (c === 0) assert.equal(expected[0], "2040-02-29T18:05:00.000Z", "pgAgent's own last day of a leap February");
      if (expected.length > 0) checked++;
    }
    assert.ok(checked >= 30 && compared === checked, `compared ${checked} schedules`);

  });

  test("an imported job runs its steps as pgAgent would, and --switch-off disables the pgAgent job", async () => {
    const r = await clockwork(["import", "pgagent", "--skip-unsupported", "--switch-off"], { databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pgAgent jobs? disabled/);
    assert.equal((await db.query("SELECT jobenabled FROM pgagent.pga_job WHERE jobid = 1")).rows[0].jobenabled, false);
    const exported = await clockwork(["export", "Nightly-maintenance"], { databaseUrl: db.url });
    const dir = folder({ "job.yaml": exported.stdout.replace(/^labels:.*\n/m, "") });
    const run = await clockwork(["run", "job.yaml"], { cwd: dir, databaseUrl: db.url });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual((await db.query("SELECT what FROM pga_out ORDER BY at")).rows.map((x) => x.what), ["first", "report"]);
    assert.match(run.stdout, /d_batch │ batch done/);
  });
});

// pg_timetable is not packaged for Debian: its schema is created from its own DDL
// (test/cli/upstream/pg_timetable/schema, from its repository), in the order its bootstrap
// runs the files; test/cli/upstream.test.ts imports its samples.
const TIMETABLE_SCHEMA = ["init", "cron", "ddl", "json_schema", "job_functions"]
  .map((f) => readFileSync(join(ROOT, "test/cli/upstream/pg_timetable/schema", `${f}.sql`), "utf8"));

describe("import pg_timetable", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "ptt" });
    for (const ddl of TIMETABLE_SCHEMA) await db.query(ddl);
    await db.query("CREATE TABLE tt_out (n int, s text)");
    await db.query(`INSERT INTO timetable.chain (chain_id, chain_name, run_at, max_instances, timeout, live, client_name) VALUES
        (1, 'load chain', '@every 10 minutes', 2, 60000, true, NULL),
        (2, 'once', '0 1 * * *', NULL, 0, true, NULL),
        (3, 'pinned', '@after 1 hour', NULL, 0, false, 'worker-a'),
        (4, 'mailer', '@reboot', NULL, 0, true, NULL),
        (5, 'fetch and mail', '0 6 * * *', NULL, 0, true, NULL)`);
    await db.query(`UPDATE timetable.chain SET self_destruct = true WHERE chain_id = 2`);
    await db.query(`UPDATE timetable.chain SET exclusive_execution = true WHERE chain_id IN (2, 5)`);
    await db.query(`INSERT INTO timetable.task (task_id, chain_id, task_order, task_name, kind, command, ignore_error, timeout, live) VALUES
        (1, 1, 10, 'insert', 'SQL', 'INSERT INTO tt_out VALUES ($1, $2)', false, 5000, true),
        (2, 1, 20, 'noop', 'BUILTIN', 'NoOp', false, 0, true),
        (3, 1, 30, 'echo', 'PROGRAM', 'echo', true, 0, true),
        (4, 1, 25, 'paused', 'SQL', 'SELECT 1', false, 0, false),
        (5, 2, 10, NULL, 'SQL', 'SELECT 1', false, 0, true),
        (6, 3, 10, 'work', 'SQL', 'SELECT ''$1 is text''', false, 0, true),
        (7, 4, 10, 'mail', 'BUILTIN', 'SendMail', false, 0, true),
        (8, 5, 10, 'pause', 'BUILTIN', 'Sleep', false, 0, true),
        (9, 5, 20, 'fetch', 'BUILTIN', 'Download', false, 0, true),
        (10, 5, 30, 'send', 'BUILTIN', 'SendMail', false, 0, true)`);
    await db.query(`INSERT INTO timetable.task (task_id, chain_id, task_order, task_name, kind, command, database_connection, autonomous) VALUES
        (11, 3, 20, 'tidy', 'SQL', 'VACUUM tt_out', 'host=db2.example dbname=app', true),
        (12, 4, 20, 'remote', 'SQL', 'SELECT 1', 'postgres://mailer:hunter2@db2.example/app', false)`);
    await db.query(`INSERT INTO timetable.parameter (task_id, order_id, value) VALUES
        (1, 1, '[1, "one"]'), (1, 2, '[2, "two"]'), (3, 1, '["hello", "from pg_timetable"]'),
        (8, 1, '5'),
        (9, 1, '{"workersnum": 1, "fileurls": ["https://example.com/data/orte.csv?v=2"], "destpath": "downloads"}'),
        (10, 1, '{"username": "mailer", "password": "pw-never-imported", "serverhost": "smtp.example.com", "serverport": 587,
                  "senderaddr": "jobs@example.com", "toaddr": ["dba@example.com"], "ccaddr": ["ops@example.com"], "subject": "Orte",
                  "msgbody": "attached", "attachment": ["downloads/orte.csv"], "contenttype": "text/plain"}')`);
  });
  after(async () => {
    await db?.drop();
  });

  test("refuses what Clockwork lacks, naming it; imports chains with parameters as one execution per row", async () => {
    const refused = await clockwork(["import", "pg_timetable"], { databaseUrl: db.url });
    assert.equal(refused.code, 1);
    assert.doesNotMatch(refused.stderr, /chain 2/, "self_destruct is run once (policies.self_destruct)");
    assert.match(refused.stderr, /cannot import pg_timetable chain 4 \(mailer\): task "mail" is the built-in SendMail: SendMail needs its JSON parameters/);
    assert.match(refused.stderr, /task "remote" connects with "postgres:\/\/mailer:…@db2.example\/app", which has a password/);
    assert.doesNotMatch(refused.stderr + refused.stdout, /hunter2/);
    const r = await clockwork(["import", "pg_timetable", "--skip-unsupported"], { databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    const defs = Object.fromEntries((await db.query("SELECT job, definition FROM clockwork.job_definitions")).rows.map((x) => [x.job, x.definition]));
    assert.deepEqual(Object.keys(defs).sort(), ["fetch-and-mail", "load-chain", "once", "pinned"]);
    assert.deepEqual(defs.once.policies, { self_destruct: true, group: "pg_timetable_exclusive" });
    // exclusive_execution: the exclusive chains share a concurrency group of one slot, which the import defined.
    assert.deepEqual(defs["fetch-and-mail"].policies, { group: "pg_timetable_exclusive" });
    assert.deepEqual((await db.query("SELECT max_running FROM clockwork.concurrency_groups WHERE name = 'pg_timetable_exclusive'")).rows, [{ max_running: 1 }]);
    assert.match(r.stdout, /exclusive_execution: in the concurrency group pg_timetable_exclusive \(max_running 1\)/);
    await db.query("SELECT clockwork.run_now('once'), clockwork.run_now('fetch-and-mail')");
    assert.deepEqual((await db.query(
      "SELECT state, waiting_for FROM clockwork.runs WHERE concurrency_group = 'pg_timetable_exclusive' ORDER BY id")).rows,
      [{ state: "queued", waiting_for: null }, { state: "waiting", waiting_for: "group" }], "one exclusive chain at a time");
    await db.query("SELECT clockwork.cancel_run(id) FROM clockwork.runs WHERE concurrency_group = 'pg_timetable_exclusive'");
    // pg_timetable's built-ins as Clockwork's; the SMTP password stays behind.
    const mail = defs["fetch-and-mail"];
    assert.deepEqual(mail.steps.pause, { builtin: "sleep", args: { duration: 5 } });
    assert.deepEqual(mail.steps.fetch, { builtin: "download", args: { url: "https://example.com/data/orte.csv?v=2", to: "downloads/orte.csv" }, depends: ["pause"] });
    assert.deepEqual(mail.steps.send, {
      builtin: "mail", depends: ["fetch"],
      args: { to: ["dba@example.com"], cc: ["ops@example.com"], from: "jobs@example.com", subject: "Orte", body: "attached", attachments: ["downloads/orte.csv"] },
    });
    assert.doesNotMatch(JSON.stringify(defs) + r.stdout + r.stderr, /pw-never-imported/);
    const load = defs["load-chain"];
    assert.deepEqual(load.schedules, ["@every 10 minutes"]);
    assert.deepEqual(load.policies, { max_instances: 2, timeout: "1m" });
    assert.deepEqual(load.steps["insert-1"], { sql: "INSERT INTO tt_out VALUES (:p1, :p2)", parameters: { p1: 1, p2: "one" }, timeout: "5s" });
    assert.deepEqual(load.steps["insert-2"].parameters, { p1: 2, p2: "two" });
    assert.deepEqual(load.steps.paused.when, "false");
    assert.deepEqual(load.steps.noop.builtin, "noop");
    assert.deepEqual(load.steps.echo, { program: ["echo", "hello", "from pg_timetable"], depends: ["paused"], when: "true", on_error: "continue" }, "runs after the paused task, in task_order");
    assert.equal(defs.pinned.node, "worker-a");
    assert.equal(defs.pinned.enabled, false);
    assert.equal(defs.pinned.steps.work.sql, "SELECT '$1 is text'", "a $1 inside a literal stays");
    assert.deepEqual(defs.pinned.steps.tidy, { sql: "VACUUM tt_out", conninfo: "host=db2.example dbname=app", autonomous: true, depends: ["work"] });
    assert.deepEqual(defs.pinned.schedules, ["@after 1 hour"]);
  });

  test("differential: an imported run_at fires where pg_timetable's own cron does (day of month AND day of week, always)", async () => {
    // pg_timetable's scheduler decides with timetable.is_cron_in_time, which requires both
    // day fields (not Vixie's OR when both are restricted); timetable.cron_runs lists the
    // same minutes for a year ahead (for weekday 0: it does not read 7 as Sunday).
    const crons = ["0 0 1 * 1", "15 3 13 * 5", "30 6 */10 * 1-5", "0 12 1-7 * 0", "5 4 * * 0", "0 0 1,15 * *", "*/20 1 */2 * 2"];
    const own = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "ptt_cron" });
    try {
      for (const ddl of TIMETABLE_SCHEMA) await own.query(ddl);
      for (const [i, cron] of crons.entries()) {
        const chain = (await own.query(`INSERT INTO timetable.chain (chain_name, run_at, live) VALUES ($1, $2, true) RETURNING chain_id`, [`c${i}`, cron])).rows[0].chain_id;
        await own.query(`INSERT INTO timetable.task (chain_id, task_order, kind, command) VALUES ($1, 10, 'SQL', 'SELECT 1')`, [chain]);
      }
      const r = await clockwork(["import", "pg_timetable"], { databaseUrl: own.url });
      assert.equal(r.code, 0, r.stderr);
      for (const [i, cron] of crons.entries()) {
        const from = "2026-12-01 00:00:00+00";
        const expected = (await own.query("SELECT t FROM timetable.cron_runs($1::timestamptz, $2) AS t LIMIT 6", [from, cron])).rows.map((x) => x.t.toISOString());
        // cron_runs looks a year ahead: compare as many as it lists.
        const got = (await own.query("SELECT fire_at FROM clockwork.next_runs($1, 6, $2::timestamptz)", [`c${i}`, from])).rows.map((x) => x.fire_at.toISOString()).slice(0, expected.length);
        assert.ok(expected.length >= 1, `run_at ${cron}: no run listed`);
        assert.deepEqual(got, expected, `run_at ${cron}`);
        const inTime = (await own.query("SELECT bool_and(timetable.is_cron_in_time($1, t)) AS ok FROM unnest($2::timestamptz[]) AS t", [cron, got])).rows[0].ok;
        assert.equal(inTime, true, `run_at ${cron}: pg_timetable's scheduler fires at each`);
      }
    } finally {
      await own.drop();
    }
  });

  test("from another database, SQL tasks without a connection run in pg_timetable's database, not in the Clockwork database", async () => {
    const scheduler = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "ptt_target" });
    try {
      const r = await clockwork(["import", "pg_timetable", "--from", db.url, "--skip-unsupported", "--dry-run"], { databaseUrl: scheduler.url });
      assert.equal(r.code, 0, r.stderr);
      const load = r.stdout.split("\n---\n").find((d) => d.includes("\nname: load-chain\n")) ?? "";
      assert.match(load, new RegExp(`\\n  insert-1:\\n    sql: INSERT INTO tt_out VALUES \\(:p1, :p2\\)\\n(    .*\\n)*?    database: ${db.name}\\n`));
      assert.match(load, new RegExp(`# note: its SQL tasks run in pg_timetable's database "${db.name}"`));
      const pinned = r.stdout.split("\n---\n").find((d) => d.includes("\nname: pinned\n")) ?? "";
      assert.match(pinned, /\n  tidy:\n    sql: VACUUM tt_out\n    conninfo: host=db2\.example dbname=app\n/, "a task's own connection stays");
    } finally {
      await scheduler.drop();
    }
  });

  test("differential: in a zone with summer time, an imported run_at fires on the minutes pg_timetable's is_cron_in_time gives, across both changes", async () => {
    const own = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "ptt_dst" });
    try {
      await own.query(`ALTER DATABASE ${own.name} SET timezone = 'Europe/Berlin'`);
      const c = await own.connect();
      for (const ddl of TIMETABLE_SCHEMA) await c.query(ddl);
      const crons = ["30 2 * * *", "15 * * * *", "0 3 * * 0"];
      for (const [i, cron] of crons.entries()) {
        const chain = (await c.query(`INSERT INTO timetable.chain (chain_name, run_at, live) VALUES ($1, $2, true) RETURNING chain_id`, [`d${i}`, cron])).rows[0].chain_id;
        await c.query(`INSERT INTO timetable.task (chain_id, task_order, kind, command) VALUES ($1, 10, 'SQL', 'SELECT 1')`, [chain]);
      }
      const r = await clockwork(["import", "pg_timetable"], { databaseUrl: own.url });
      assert.equal(r.code, 0, r.stderr);
      // The days around both changes of 2026 in Berlin (29 March, 25 October), minute by minute.
      for (const from of ["2026-03-28 12:00:00Z", "2026-10-24 12:00:00Z"]) {
        for (const [i, cron] of crons.entries()) {
          const expected = (await c.query(`SELECT t FROM generate_series($1::timestamptz, $1::timestamptz + interval '36 hours', interval '1 minute') AS t
                                            WHERE timetable.is_cron_in_time($2, t) ORDER BY t`, [from, cron])).rows.map((x) => x.t.toISOString());
          const got = (await c.query(`SELECT fire_at FROM clockwork.next_runs($1, 100, $2::timestamptz - interval '1 second')
                                       WHERE fire_at <= $2::timestamptz + interval '36 hours'`, [`d${i}`, from])).rows.map((x) => x.fire_at.toISOString());
          assert.deepEqual(got, expected, `run_at ${cron} from ${from}`);
        }
      }
    } finally {
      await own.drop();
    }
  });

  test("the imported chain runs its parameter rows in order", async () => {
    const exported = await clockwork(["export", "load-chain"], { databaseUrl: db.url });
    const dir = folder({ "load.yaml": exported.stdout });
    const run = await clockwork(["run", "load.yaml"], { cwd: dir, databaseUrl: db.url });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual((await db.query("SELECT n, s FROM tt_out ORDER BY n")).rows, [{ n: 1, s: "one" }, { n: 2, s: "two" }]);
    assert.match(run.stdout, /echo │ hello from pg_timetable/);
  });

  test("reads pg_timetable's YAML chain files", async () => {
    const dir = folder({
      "chains.yaml": `chains:
  - name: "etl-pipeline"
    schedule: "0 2 * * *"
    live: true
    max_instances: 1
    timeout: 3600000
    tasks:
      - name: "extract-data"
        command: "SELECT $1"
        parameters: ["2023-01-01"]
      - name: "pg-dump"
        kind: "PROGRAM"
        command: "pg_dump"
        parameters:
          - ["-h", "localhost", "-f", "/backups/a.sql"]
          - ["-h", "localhost", "-f", "/backups/b.sql"]
        ignore_error: true
`,
    });
    const r = await clockwork(["import", "pg_timetable", "--file", "chains.yaml", "--dry-run", "--time-zone", "Europe/Berlin"], { cwd: dir, databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /name: etl-pipeline\n[\s\S]*time_zone: Europe\/Berlin\nschedules:\n  - cron: 0 2 \* \* \*\n    dst:\n      gap: skip\n      overlap: twice\npolicies:\n  max_instances: 1\n  timeout: 1h/);
    assert.match(r.stdout, /extract-data:\n    sql: SELECT :p1\n    parameters:\n      p1: 2023-01-01/);
    assert.match(r.stdout, /pg-dump-2:\n    program: \[pg_dump, -h, localhost, -f, \/backups\/b\.sql\]\n    depends: \[pg-dump-1\]/);
  });

  test("SQL with trailing spaces, tabs and CRLF goes import → YAML → apply byte for byte, as a readable block where YAML has one", async () => {
    const spaces = "SELECT 'two trailing  \nspaces  ' AS note,  \n\tlength('tab\there') AS n   \nFROM tt_out;\n";
    const crlf = "SELECT 1;\r\nSELECT 'a  \r\nb';\r\n";
    const dir = folder({
      "texts.yaml": `chains:
  - name: "texts-kept"
    schedule: "0 3 * * *"
    live: true
    tasks:
      - name: "spaces"
        command: ${JSON.stringify(spaces)}
      - name: "crlf"
        command: ${JSON.stringify(crlf)}
`,
    });
    const written = await clockwork(["import", "pg_timetable", "--file", "texts.yaml", "--out", "out"], { cwd: dir, databaseUrl: db.url });
    assert.equal(written.code, 0, written.stderr);
    const yaml = readFileSync(join(dir, "out", "texts-kept.yaml"), "utf8");
    // Readable: a block with the lines as written, trailing spaces and tabs included.
    assert.ok(yaml.includes(`    sql: |\n${spaces.replace(/\n$/, "").split("\n").map((l) => `      ${l}`).join("\n")}\n`), yaml);
    // CRLF cannot be a block (YAML reads its line breaks as LF): double-quoted, exactly.
    assert.match(yaml, /    sql: "SELECT 1;\\r\\nSELECT 'a  \\r\\nb';\\r\\n"\n/);
    const applied = await clockwork(["import", "pg_timetable", "--file", "texts.yaml"], { cwd: dir, databaseUrl: db.url });
    assert.equal(applied.code, 0, applied.stderr);
    const { rows } = await db.query("SELECT definition FROM clockwork.job_definitions WHERE job = 'texts-kept'");
    const steps = rows[0].definition.steps as Record<string, { sql?: string }> | { name: string; sql?: string }[];
    const sqlOf = (name: string) => (Array.isArray(steps) ? steps.find((s) => s.name === name) : steps[name])?.sql;
    assert.equal(sqlOf("spaces"), spaces);
    assert.equal(sqlOf("crlf"), crlf);
  });
});

describe("import crontab", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "ctb" });
  });
  after(async () => {
    await db?.drop();
  });

  test("environment lines, macros, psql -c on this database as SQL steps, anything else as shell; refusals named", async () => {
    const crontab = [
      "# m h dom mon dow command",
      "MAILTO=dba@example.com",
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "BACKUP_DIR=/var/backups",
      `15 3 * * * psql -X -q -d ${db.name} -c 'SELECT 42'`,
      "@daily /usr/local/bin/backup.sh --to \"$BACKUP_DIR\" > /tmp/backup.log 2>&1",
      "*/10 * * * * psql -h other-host -c 'VACUUM'",
      "0 0 1 * * date +\\%Y-\\%m > /tmp/month",
      "0 4 * * * mail -s hi root % body",
      "",
    ].join("\n");
    const dir = folder({ crontab });
    const refused = await clockwork(["import", "crontab", "--file", "crontab", "--time-zone", "Europe/Berlin"], { cwd: dir, databaseUrl: db.url });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot import crontab:9: an unescaped %/);
    const r = await clockwork(["import", "crontab", "--file", "crontab", "--time-zone", "Europe/Berlin", "--skip-unsupported", "--switch-off"], { cwd: dir, databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    const defs = Object.fromEntries((await db.query("SELECT job, definition FROM clockwork.job_definitions")).rows.map((x) => [x.job, x.definition]));
    assert.deepEqual(Object.keys(defs).sort(), ["cron-5-psql", "cron-6-backup", "cron-7-psql", "cron-8-date"]);
    assert.deepEqual(defs["cron-5-psql"].steps, { main: { sql: "SELECT 42" } });
    assert.equal(defs["cron-5-psql"].time_zone, "Europe/Berlin");
    assert.deepEqual(defs["cron-6-backup"].schedules, ["@daily"]);
    assert.deepEqual(defs["cron-6-backup"].steps.main.env, { PATH: "/usr/local/bin:/usr/bin:/bin", BACKUP_DIR: "/var/backups" });
    assert.equal(defs["cron-7-psql"].steps.main.shell, "psql -h other-host -c 'VACUUM'", "another host: left to psql as a shell step");
    assert.equal(defs["cron-8-date"].steps.main.shell, "date +%Y-%m > /tmp/month");
    assert.match(r.stdout, /MAILTO=dba@example\.com: Clockwork keeps the output in its history and does not mail it/);
    const after = readFileSync(join(dir, "crontab"), "utf8").split("\n");
    assert.equal(after[4], `#clockwork: 15 3 * * * psql -X -q -d ${db.name} -c 'SELECT 42'`);
    assert.equal(after[8], "0 4 * * * mail -s hi root % body", "a line that was not imported stays active");
    assert.ok(readFileSync(join(dir, "crontab.before-clockwork"), "utf8").includes("MAILTO"));
  });

  test("summer time as cron: a line whose minute or hour is * runs by the wall clock (gap skip, overlap twice), a fixed-time line catches up once; TZ= is only the commands' environment", async () => {
    // Vixie cron and cronie (cron.c): after a jump forward, wildcard jobs run for the new
    // minute only and fixed-time jobs once for the minutes skipped; after a jump back,
    // wildcard jobs run again and fixed-time ones do not.
    const crontab = [
      "30 * * * * /bin/true hourly-at-30",
      "*/30 2 * * * /bin/true every-half-hour-at-2",
      "30 2 * * * /bin/true fixed",
      "@hourly /bin/true macro",
      "@daily /bin/true daily",
      "TZ=Asia/Tokyo",
      "0 1 * * * date",
      "",
    ].join("\n");
    const r = await clockwork(["import", "crontab", "--file", "crontab", "--time-zone", "Europe/Berlin"], { cwd: folder({ crontab }), databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    const defs = Object.fromEntries((await db.query("SELECT job, definition FROM clockwork.job_definitions WHERE job ~ '^cron-[1-7]-'")).rows.map((x) => [x.job, x.definition]));
    const wallClock = { gap: "skip", overlap: "twice" };
    assert.deepEqual(defs["cron-1-true"].schedules, [{ cron: "30 * * * *", dst: wallClock }]);
    assert.deepEqual(defs["cron-2-true"].schedules, [{ cron: "*/30 2 * * *", dst: wallClock }]);
    assert.deepEqual(defs["cron-3-true"].schedules, ["30 2 * * *"]);
    assert.deepEqual(defs["cron-4-true"].schedules, [{ cron: "@hourly", dst: wallClock }]);
    assert.deepEqual(defs["cron-5-true"].schedules, ["@daily"]);
    assert.equal(defs["cron-7-date"].time_zone, "Europe/Berlin", "TZ= does not move cron's schedule");
    assert.deepEqual(defs["cron-7-date"].steps.main.env, { TZ: "Asia/Tokyo" }, "the command still gets TZ");
    const slots = async (job: string, from: string, n: number) =>
      (await db.query("SELECT fire_at FROM clockwork.next_runs($1, $2, $3::timestamptz)", [job, n, from])).rows.map((x) => x.fire_at.toISOString());
    // 2026-03-29 in Berlin: 02:00 CET (01:00Z) becomes 03:00 CEST; 02:30 does not exist.
    assert.deepEqual(await slots("cron-1-true", "2026-03-29T00:00Z", 2), ["2026-03-29T00:30:00.000Z", "2026-03-29T01:30:00.000Z"], "01:30 CET, 03:30 CEST: 02:30 skipped");
    assert.deepEqual(await slots("cron-3-true", "2026-03-29T00:00Z", 1), ["2026-03-29T01:00:00.000Z"], "the fixed 02:30 runs right after the jump");
    // 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET; 02:30 happens twice.
    assert.deepEqual(await slots("cron-1-true", "2026-10-25T00:00Z", 2), ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z"], "02:30 CEST and 02:30 CET");
    assert.deepEqual(await slots("cron-2-true", "2026-10-24T23:59Z", 4), ["2026-10-25T00:00:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T01:30:00.000Z"]);
    assert.deepEqual(await slots("cron-3-true", "2026-10-25T00:00Z", 2), ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"], "the fixed 02:30 once");
    assert.match(r.stdout, /cron runs a line whose minute or hour is \* by Europe\/Berlin's wall clock/);
  });

  test("a psql -c line becomes an SQL step only where psql would connect to this database as this role: PG* lines and an unnamed database keep it a shell step", async () => {
    const crontab = [
      `0 1 * * * psql -d ${db.name} -c 'DELETE FROM here'`,
      "0 2 * * * psql -c 'DELETE FROM somewhere'",
      `PGDATABASE=${db.name}`,
      "0 3 * * * psql -c 'DELETE FROM here_too'",
      "PGHOST=db2.example",
      "0 4 * * * psql -c 'DELETE FROM on_db2'",
      `0 5 * * * psql -d ${db.name} -c 'DELETE FROM on_db2_too'`,
      "",
    ].join("\n");
    const r = await clockwork(["import", "crontab", "--file", "crontab", "--time-zone", "UTC", "--dry-run"], { cwd: folder({ crontab }), databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    const jobs = Object.fromEntries(r.stdout.split("\n---\n").map((doc) => [/^name: (\S+)$/m.exec(doc)![1], /^    (sql|shell): (.*)$/m.exec(doc)!.slice(1, 3).join(": ")]));
    assert.deepEqual(jobs, {
      "cron-1-psql": "sql: DELETE FROM here",
      "cron-2-psql": "shell: psql -c 'DELETE FROM somewhere'",
      "cron-4-psql": "sql: DELETE FROM here_too",
      "cron-6-psql": "shell: psql -c 'DELETE FROM on_db2'",
      "cron-7-psql": `shell: psql -d ${db.name} -c 'DELETE FROM on_db2_too'`,
    });
    assert.match(r.stdout, /# note: psql names no database \(-d or PGDATABASE\): it connects to the database named after the user; kept as a shell step\n(#.*\n)*name: cron-2-psql\n/);
    assert.match(r.stdout, /# note: PGHOST=db2\.example: psql connects elsewhere; kept as a shell step\n(#.*\n)*name: cron-6-psql\n/);
  });
});
