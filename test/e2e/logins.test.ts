// End to end: how supervisors log in as job owners, on a cluster that authenticates for
// real (no trust for owners), and what happens when a supervisor cannot. Two supervisors,
// neither a superuser:
//   peer-sup   logs in as owners through the Unix socket, with peer authentication and a
//              pg_ident map (the OS user it runs as → the owner roles listed), the
//              recommended set-up for a sidecar;
//   pass-sup   logs in over TCP with scram-sha-256, passwords from its password file, and
//              a connection service file.
// An owner only one of them can log in as has every step run there, never failed; an owner
// neither can log in as gets a clear failure naming both reasons, after each handed the
// step back once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { connect, extensionMissing, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();
const osUser = userInfo().username;

describe("supervisors logging in as job owners", { skip: missing ?? false }, () => {
  let cluster: Cluster;
  let dir: string;
  let peerSup: SupervisorProcess;
  let passSup: SupervisorProcess;
  const db = "logins";
  const adminUrl = () => cluster.url(db);

  before(async () => {
    cluster = await startCluster({
      hba: [
        "host  all  postgres,li_sup  127.0.0.1/32  trust", // the test's own admin, and the supervisors' own logins
        "local all  all                            peer map=clockwork",
        "host  all  all              127.0.0.1/32  scram-sha-256",
      ],
      ident: [`clockwork  ${osUser}  li_alice`],
    });
    dir = mkdtempSync(join(tmpdir(), "cw-logins-"));
    const admin = await connect(cluster.url("postgres"));
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const c = await connect(adminUrl());
    await c.query(installClockworkSql);
    await c.query(`CREATE ROLE li_sup LOGIN; GRANT clockwork_supervisor TO li_sup;
      CREATE ROLE li_alice LOGIN; CREATE ROLE li_bob LOGIN PASSWORD 'bob-secret'; CREATE ROLE li_mallory LOGIN;
      CREATE TABLE done (who text DEFAULT session_user, how text); GRANT INSERT, SELECT ON done TO PUBLIC`);
    const passfile = join(dir, "pgpass");
    writeFileSync(passfile, `# owners' passwords\n127.0.0.1:${cluster.port}:${db}:li_bob:bob-secret\n`);
    chmodSync(passfile, 0o600);
    const services = join(dir, "pg_service.conf");
    writeFileSync(services, `[reporting]\nhost=127.0.0.1\nport=${cluster.port}\ndbname=${db}\nuser=postgres\n`);
    // Jobs of three owners, defined as them (the supervisor's trust line is theirs only over TCP as postgres).
    for (const owner of ["li_alice", "li_bob", "li_mallory"]) {
      await c.query(`SET ROLE ${owner}`);
      await c.query("SELECT clockwork.schedule($1, '0 0 1 1 *', $2)", [`${owner}-job`, `INSERT INTO done (how) VALUES ('plain')`]);
      await c.query("RESET ROLE");
    }
    await c.query("SET ROLE li_bob");
    await c.query("SELECT clockwork.define_connection('reporting', 'service=reporting')");
    await c.query(`SELECT clockwork.define_job('{"name": "li_bob-service", "steps": [{"name": "main", "connection": "reporting", "sql": "INSERT INTO done (how) VALUES (''service'') RETURNING who"}]}'::jsonb)`);
    await c.end();

    const supervisorUrl = cluster.url(db).replace("postgres@", "li_sup@");
    peerSup = startSupervisor(supervisorUrl, {
      name: "peer-sup",
      args: ["--owner-conninfo", `host=${cluster.socketDir}`],
      env: { PGPASSFILE: join(dir, "none") },
    });
    passSup = startSupervisor(supervisorUrl, { name: "pass-sup", env: { PGPASSFILE: passfile, PGSERVICEFILE: services } });
    await peerSup.waitForLog("registration", (l) => l.msg === "worker registered");
    await passSup.waitForLog("registration", (l) => l.msg === "worker registered");
  });

  after(async () => {
    await stopAllSupervisors();
    cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function runs(job: string, n: number) {
    const c = await connect(adminUrl());
    try {
      const ids = (await c.query("SELECT clockwork.run_now($1) AS id FROM generate_series(1, $2)", [job, n])).rows.map((r) => String(r.id));
      return await waitFor(`${n} runs of ${job}`, async () => {
        const { rows } = await c.query(`SELECT r.id::text, r.state, s.state AS step_state, s.sql_state, s.error, w.name AS worker, s.refused_by, s.attempt
                                          FROM clockwork.runs r JOIN clockwork.step_runs s ON s.run_id = r.id
                                          LEFT JOIN clockwork.workers w ON w.id = s.worker_id
                                         WHERE r.id = ANY ($1::bigint[]) AND r.finished_at IS NOT NULL`, [ids]);
        return rows.length === n ? rows : undefined;
      }, 30_000);
    } finally {
      await c.end();
    }
  }

  test("peer authentication through a pg_ident map: the owner's steps run where a supervisor can log in, never failed elsewhere", async () => {
    const done = await runs("li_alice-job", 6);
    for (const r of done) {
      assert.equal(r.state, "succeeded", JSON.stringify(r));
      assert.equal(r.worker, "peer-sup", "only the supervisor with the peer map can log in as li_alice");
      assert.equal(r.attempt, 1, "handed back, not failed and retried");
    }
    const c = await connect(adminUrl());
    assert.equal((await c.query("SELECT count(*)::int AS n FROM done WHERE who = 'li_alice'")).rows[0].n, 6);
    await c.end();
  });

  test("a password file: scram-sha-256 over TCP, the password never in a table, a log or a step", async () => {
    const done = await runs("li_bob-job", 4);
    for (const r of done) {
      assert.equal(r.state, "succeeded", JSON.stringify(r));
      assert.equal(r.worker, "pass-sup");
    }
    const c = await connect(adminUrl());
    const dump = (await c.query(`SELECT string_agg(t::text, ' ') AS all FROM (
      SELECT row_to_json(s)::text AS t FROM clockwork.step_runs s UNION ALL SELECT row_to_json(w)::text FROM clockwork.workers w
      UNION ALL SELECT row_to_json(k)::text FROM clockwork.connections k UNION ALL SELECT definition::text FROM clockwork.jobs) x`)).rows[0].all as string;
    assert.doesNotMatch(dump, /bob-secret/);
    await c.end();
    for (const sup of [peerSup, passSup]) assert.ok(!sup.logs.some((l) => JSON.stringify(l).includes("bob-secret")), `${sup.name}'s log`);
  });

  test("a service file supplies where; the login is still the job's owner, not the service's user", async () => {
    const [r] = await runs("li_bob-service", 1);
    assert.equal(r.state, "succeeded", JSON.stringify(r));
    assert.equal(r.worker, "pass-sup");
    const c = await connect(adminUrl());
    assert.deepEqual((await c.query("SELECT who FROM done WHERE how = 'service'")).rows, [{ who: "li_bob" }]);
    await c.end();
  });

  test("an owner no supervisor can log in as: handed back once by each, then a clear failure naming what to configure", async () => {
    const [r] = await runs("li_mallory-job", 1);
    assert.equal(r.state, "failed");
    assert.equal(r.step_state, "failed");
    assert.equal(r.sql_state, SQLSTATE.no_supervisor_can_log_in);
    assert.match(r.error, /^no live supervisor can run this step: /);
    assert.match(r.error, /peer-sup: cannot log in as role "li_mallory" on socket .*: .*(Peer authentication failed|no pg_ident)/i);
    assert.match(r.error, /pass-sup: cannot log in as role "li_mallory" on 127\.0\.0\.1:\d+\/logins: the server asks for a password, and the password file .* has no entry/);
    assert.equal(r.refused_by.length, 2, "each supervisor refused it once");
    for (const sup of [peerSup, passSup]) {
      // The line is written before the report goes out, but this process may read the
      // database's answer before the supervisor's output (a loaded machine did): wait for it.
      await sup.waitForLog("the hand-back", (l) => l.job === "li_mallory-job" && /handed back/.test(l.msg));
      const handedBack = sup.logs.filter((l) => l.job === "li_mallory-job" && /handed back/.test(l.msg));
      assert.equal(handedBack.length, 1, `${sup.name} handed it back once: ${JSON.stringify(handedBack)}`);
    }
  });
});
