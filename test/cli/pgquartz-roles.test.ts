// PgQuartz connection roles through `clockwork run FILE`, against a real streaming standby
// (pg_basebackup -R), with PgQuartz's own semantics (cmd/pgquartz/main.go, pkg/pg/conn.go):
//  - runOnRoleError false (the default): every connection with a role is asked first; one in
//    another role ends the job before any step or check, and PgQuartz exits 0;
//  - each SQL command and check is checked against its role (its own, else its
//    connection's): a mismatch fails it with rc 1, its instance's later commands do not run,
//    other steps go on, `when` rules see the rc, and a check fails the job;
//  - roles that match: everything runs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startCluster, startStandby, type Cluster } from "../support/cluster.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { connect, extensionMissing, waitFor } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();

/** A PgQuartz job file; `main` is a primary and `replica` its standby, each with the role given. */
function jobFile(o: { replicaRole: string; mainRole: string; runOnRoleError?: boolean; steps: string; checks?: string }): string {
  return [
    ...(o.runOnRoleError === undefined ? [] : [`runOnRoleError: ${o.runOnRoleError}`]),
    "steps:",
    o.steps.trimEnd(),
    ...(o.checks ? ["checks:", o.checks.trimEnd()] : []),
    "connections:",
    "  main:",
    "    type: postgresql",
    `    role: ${o.mainRole}`,
    "    conn_params: { host: main.example, port: 5432, dbname: postgres }",
    "  replica:",
    "    type: postgresql",
    `    role: ${o.replicaRole}`,
    "    conn_params: { host: replica.example, port: 5432, dbname: postgres }",
    "",
  ].join("\n");
}

describe("PgQuartz connection roles against a real standby (clockwork run)", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let primary: Cluster;
  let standby: Cluster;
  let dir: string;

  const pgq = (file: string) => clockwork(["run", file], { cwd: dir, databaseUrl: db.url, env: { OUT: dir } });
  const landed = async (): Promise<string[]> => {
    const c = await connect(primary.url("postgres"));
    try {
      return (await c.query("SELECT what FROM pq_log ORDER BY what")).rows.map((r) => r.what);
    } finally {
      await c.end();
    }
  };
  const lastRun = async (job: string) => {
    const run = (await db.query(
      `SELECT r.id, r.state, r.reason FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id
        WHERE j.name = $1 ORDER BY r.id DESC LIMIT 1`, [job])).rows[0];
    const steps = (await db.query("SELECT phase, instance, state, sql_state, error FROM clockwork.step_runs WHERE run_id = $1 ORDER BY id", [run.id])).rows;
    return { ...run, steps };
  };

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli_roles" });
    primary = await startCluster();
    const c = await connect(primary.url("postgres"));
    await c.query("CREATE TABLE pq_log (what text)");
    await c.end();
    standby = await startStandby(primary);
    await waitFor("the standby to replay the table", async () => {
      const s = await connect(standby.url("postgres"));
      try {
        return (await s.query("SELECT to_regclass('pq_log') IS NOT NULL AS ok")).rows[0].ok;
      } finally {
        await s.end();
      }
    }, 30_000);
    // The file's connections are Clockwork named connections of the same name; they expect
    // any role themselves: the roles checked are the file's.
    const at = (cl: Cluster) => `host=127.0.0.1 port=${cl.port} dbname=postgres`;
    await db.query("SELECT clockwork.define_connection('main', $1)", [at(primary)]);
    await db.query("SELECT clockwork.define_connection('replica', $1)", [at(standby)]);

    dir = folder({
      "match.yml": jobFile({
        mainRole: "primary", replicaRole: "standby",
        steps: `  read:
    commands:
    - type: replica
      inline: select pg_is_in_recovery() as in_recovery
  write:
    depends: [read]
    commands:
    - type: main
      inline: insert into pq_log values ('match/written on the primary')
`,
        checks: `  - type: replica
    inline: select pg_is_in_recovery() as still_standby
    expected: "{still_standby}={true}"
`,
      }),
      "skip.yml": jobFile({
        mainRole: "primary", replicaRole: "primary",
        steps: `  write:
    commands:
    - type: main
      inline: insert into pq_log values ('skip/must not run')
  touch:
    commands:
    - inline: touch "$OUT"/skip-touched
`,
        checks: `  - inline: test -f "$OUT"/never-there
`,
      }),
      "fail.yml": jobFile({
        mainRole: "all", replicaRole: "primary", runOnRoleError: true,
        steps: `  onreplica:
    commands:
    - type: replica
      inline: select 1 as one
    - type: main
      inline: insert into pq_log values ('fail/second command must not run')
  elsewhere:
    commands:
    - type: main
      inline: insert into pq_log values ('fail/other step ran')
    - type: main
      role: standby
      inline: insert into pq_log values ('fail/command role standby must not run on the primary')
  after:
    depends: [onreplica, elsewhere]
    when:
      - "ne .Steps.onreplica.Rc 0"
    commands:
    - type: main
      inline: insert into pq_log values ('fail/when saw rc 1')
`,
        checks: `  - type: replica
    inline: select 1 as one
`,
      }),
    });
  });

  after(async () => {
    await db?.drop();
    standby?.stop();
    primary?.stop();
  });

  test("roles that match: the steps and checks run on the primary and the standby, exit 0", async () => {
    const r = await pgq("match.yml");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\{"pgquartz_output":"\{in_recovery\}=\{true\}"\}/, "the read ran on the standby");
    assert.deepEqual(await landed(), ["match/written on the primary"]);
    const run = await lastRun("match.run");
    assert.equal(run.state, "succeeded", run.reason);
    assert.deepEqual(run.steps.map((s: { instance: string; state: string }) => `${s.instance} ${s.state}`), [
      "pgquartz-role-main succeeded", "pgquartz-role-replica succeeded", "read succeeded", "write succeeded", "check-1 succeeded",
    ]);
  });

  test("runOnRoleError false: a connection in another role ends the job before any step or check, exit 0 as PgQuartz", async () => {
    const r = await pgq("skip.yml");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /connection "replica"\) is a standby \(in recovery\), and the step expects a primary/);
    assert.deepEqual(await landed(), ["match/written on the primary"], "the write on the primary did not run");
    assert.equal(existsSync(join(dir, "skip-touched")), false, "the shell step did not run");
    const run = await lastRun("skip.run");
    assert.equal(run.state, "succeeded");
    assert.match(run.reason, /^step "pgquartz-role-replica" skipped the run \(on_role_mismatch: skip_run\): role "postgres" on 127\.0\.0\.1:\d+\/postgres \(connection "replica"\) is a standby/);
    const states = Object.fromEntries(run.steps.map((s: { instance: string; state: string }) => [s.instance, s.state]));
    assert.equal(states["pgquartz-role-replica"], "skipped");
    assert.equal(states.write, "skipped");
    assert.equal(states.touch, "skipped");
    assert.equal(states["check-1"], "skipped", "the failing check never ran");
  });

  test("runOnRoleError true and a command's own role: a mismatched command fails with rc 1, its instance stops, the rest runs, a check on it fails the job", async () => {
    const r = await pgq("fail.yml");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(await landed(), ["fail/other step ran", "fail/when saw rc 1", "match/written on the primary"]);
    const run = await lastRun("fail.run");
    assert.equal(run.state, "failed");
    assert.match(run.reason, /^check "check-1" failed: .*connection "replica"\) is a standby \(in recovery\), and the step expects a primary/);
    const byName = Object.fromEntries(run.steps.map((s: { instance: string }) => [s.instance, s]));
    assert.equal(byName["pgquartz-role-replica"], undefined, "no role is asked up front with runOnRoleError: true");
    assert.equal(byName["onreplica-1"].state, "failed");
    assert.equal(byName["onreplica-1"].sql_state, "KW023");
    assert.equal(byName["onreplica-2"].state, "skipped", "the instance stops at its failing command");
    assert.equal(byName["elsewhere-1"].state, "succeeded");
    assert.equal(byName["elsewhere-2"].state, "failed");
    assert.match(byName["elsewhere-2"].error, /connection "main"\) is a primary \(not in recovery\), and the step expects a standby/);
    assert.equal(byName.after.state, "succeeded");
  });
});
