// High availability with a real streaming replica (pg_basebackup -R), promoted while jobs
// fire every second:
//   - a supervisor given both hosts (target_session_attrs=read-write by default) works on
//     the primary, then follows the promoted standby;
//   - sidecars on both sides of the pair (one per database, each on its own database only)
//     never both fire: the standby's waits, and takes over after the promotion;
//   - in the promoted database each slot became at most one run, and each run took effect
//     once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pgConfig, startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { connect, extensionMissing, pool, setLease, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();
const asRoot = process.getuid?.() === 0;
const bindir = pgConfig("--bindir");

function runPg(binary: string, args: string[]): void {
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bindir, binary), ...args]] : [join(bindir, binary), args];
  const result = spawnSync(cmd, argv, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
}

describe("failover to a promoted streaming replica", { skip: missing ?? false }, () => {
  let primary: Cluster;
  let root: string;
  let standbyPort: number;
  let standbyData: string;
  let primaryUrl: string;
  let standbyUrl: string;
  let follower: SupervisorProcess;
  let sidecarA: SupervisorProcess;
  let sidecarB: SupervisorProcess;

  before(async () => {
    primary = await startCluster({ settings: { wal_level: "replica", max_wal_senders: 5 } });
    primaryUrl = primary.url("postgres");
    const client = await connect(primaryUrl);
    await client.query(installClockworkSql);
    await setLease(client, 3);
    await client.query("CREATE TABLE beats (job text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    for (const [name, labels] of [["beat-any", []], ["beat-follower", ["follower"]]] as const) {
      await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name,
        labels,
        schedules: ["* * * * * *"],
        steps: [{ name: "beat", sql: `INSERT INTO beats (job) VALUES ('${name}')` }],
      })]);
    }
    await client.end();

    root = mkdtempSync(join(tmpdir(), "clockwork-ha-"));
    if (asRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(root, uid, gid);
    }
    standbyData = join(root, "data");
    standbyPort = await freePort();
    runPg("pg_basebackup", ["-D", standbyData, "-R", "-X", "stream", "-h", primary.host, "-p", String(primary.port), "-U", "postgres"]);
    appendFileSync(join(standbyData, "postgresql.conf"), `\nport = ${standbyPort}\nunix_socket_directories = '${root}'\n`);
    runPg("pg_ctl", ["-D", standbyData, "-l", join(root, "postgres.log"), "-w", "start"]);
    standbyUrl = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
  });

  after(async () => {
    await stopAllSupervisors();
    try {
      runPg("pg_ctl", ["-D", standbyData, "-m", "immediate", "-w", "stop"]);
    } catch {
      // not running
    }
    if (root) rmSync(root, { recursive: true, force: true });
    try {
      primary?.stop();
    } catch {
      // stopped by the test; stop() still removed its directory
    }
  });

  test("a multi-host supervisor follows the promotion; the standby's sidecar fires only once it is the primary", async () => {
    // The follower knows both hosts (the standby listed first: it must pass it over).
    follower = startSupervisor(`postgres://postgres@127.0.0.1:${standbyPort},127.0.0.1:${primary.port}/postgres`, {
      name: "follower",
      args: ["--labels", "follower"],
    });
    sidecarA = startSupervisor(primaryUrl, { name: "sidecar-a" });
    sidecarB = startSupervisor(standbyUrl, { name: "sidecar-b" });

    const using = await follower.waitForLog("host chosen", (l) => l.msg === "using database host");
    assert.equal(using.database, `127.0.0.1:${primary.port}`, "the standby listed first was passed over");
    assert.equal(using.target_session_attrs, "read-write");
    await sidecarB.waitForLog("standby refusal", (l) => /the database is a standby/.test(l.msg));

    const db = pool(primaryUrl);
    const replica = pool(standbyUrl);
    const count = async (p: typeof db, job: string, since?: Date) =>
      (await p.query("SELECT count(*)::int AS n FROM beats WHERE job = $1 AND at > coalesce($2::timestamptz, '-infinity')", [job, since ?? null])).rows[0].n as number;
    await waitFor("beats on the primary", async () => (await count(db, "beat-any")) >= 3 && (await count(db, "beat-follower")) >= 3, 20_000);
    await waitFor("beats replicated", async () => (await count(replica, "beat-follower")) >= 3, 20_000);
    assert.ok(!sidecarB.logs.some((l) => l.msg === "worker registered"), "the standby's sidecar did nothing while it was a standby");
    const workers = (await db.query("SELECT name FROM clockwork.workers ORDER BY name")).rows.map((r) => r.name);
    assert.deepEqual(workers, ["follower", "sidecar-a"]);
    await db.end();

    // Failover: the primary crashes, the standby is promoted, jobs keep firing.
    primary.pgCtl("stop", "-m", "immediate");
    const promotedAt = new Date();
    runPg("pg_ctl", ["-D", standbyData, "-w", "promote"]);

    const moved = await follower.waitForLog("following the primary", (l) => l.msg === "following the primary: the database moved to another host", 30_000);
    assert.equal(moved.to, `127.0.0.1:${standbyPort}`);
    await sidecarB.waitForLog("registration after promotion", (l) => l.msg === "worker registered", 40_000);
    await waitFor("beats after the promotion, by both", async () =>
      (await count(replica, "beat-follower", promotedAt)) >= 3 && (await count(replica, "beat-any", promotedAt)) >= 3, 40_000);
    await waitFor("the follower ready on the new primary", async () => (await fetch(`http://127.0.0.1:${await follower.port()}/readyz`)).status === 200, 15_000);
    const downSide = await fetch(`http://127.0.0.1:${await sidecarA.port()}/readyz`);
    assert.equal(downSide.status, 503, "the crashed primary's sidecar is not ready");

    // Stop firing, let the last runs finish, then check the promoted database's history.
    await replica.query("SELECT clockwork.disable_job('beat-any'), clockwork.disable_job('beat-follower')");
    await waitFor("runs to finish", async () =>
      (await replica.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0, 30_000);
    const perJob = (await replica.query(`
      SELECT j.name, count(*)::int AS runs, count(DISTINCT r.slot_at)::int AS slots,
             count(*) FILTER (WHERE r.state = 'succeeded')::int AS succeeded,
             (SELECT count(*)::int FROM beats b WHERE b.job = j.name) AS beats
        FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id
       GROUP BY j.name ORDER BY j.name`)).rows;
    for (const row of perJob) {
      assert.equal(row.runs, row.slots, `${row.name}: one run per slot`);
      assert.equal(row.beats, row.succeeded, `${row.name}: each succeeded run took effect once (${JSON.stringify(row)})`);
    }
    // Who ran what after the promotion: the follower ran its pinned job there, sidecar-b
    // ran only after the promotion, and the crashed side ran nothing there.
    const after = (await replica.query(`
      SELECT w.name AS worker, j.name AS job, min(s.started_at) AS first
        FROM clockwork.step_runs s JOIN clockwork.workers w ON w.id = s.worker_id
        JOIN clockwork.runs r ON r.id = s.run_id JOIN clockwork.jobs j ON j.id = r.job_id
       WHERE s.started_at > $1 GROUP BY 1, 2 ORDER BY 1, 2`, [promotedAt])).rows;
    assert.ok(after.some((r) => r.worker === "follower" && r.job === "beat-follower"), JSON.stringify(after));
    assert.ok(!after.some((r) => r.worker === "sidecar-a"), "nothing ran on the crashed primary's sidecar");
    const byB = (await replica.query(`
      SELECT min(s.started_at) AS first FROM clockwork.step_runs s JOIN clockwork.workers w ON w.id = s.worker_id
       WHERE w.name = 'sidecar-b'`)).rows[0].first as Date | null;
    if (byB) assert.ok(byB > promotedAt, "the standby's sidecar fired only after the promotion");
    await replica.end();
    assert.equal(await follower.stop(), 0);
    assert.equal(await sidecarB.stop(), 0);
  });
});
