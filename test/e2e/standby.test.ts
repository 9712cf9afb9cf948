// End to end: a supervisor pointed at a standby refuses to work there (it logs why and is
// not ready) but keeps retrying, so that it starts working as soon as the standby is
// promoted. The primary and its streaming standby are clusters of this test's own.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pgConfig, startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { connect, extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();
const asRoot = process.getuid?.() === 0;
const bindir = pgConfig("--bindir");

function runPg(binary: string, args: string[]): void {
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bindir, binary), ...args]] : [join(bindir, binary), args];
  const result = spawnSync(cmd, argv, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
}

describe("a standby database", { skip: missing ?? false }, () => {
  let primary: Cluster;
  let root: string;
  let standbyPort: number;
  let standbyData: string;
  let standbyLog: string;

  before(async () => {
    primary = await startCluster();
    const client = await connect(primary.url("postgres"));
    await client.query(installClockworkSql);
    await client.end();

    root = mkdtempSync(join(tmpdir(), "clockwork-standby-"));
    if (asRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(root, uid, gid);
    }
    standbyData = join(root, "data");
    standbyLog = join(root, "postgres.log");
    standbyPort = await freePort();
    runPg("pg_basebackup", ["-D", standbyData, "-R", "-X", "stream", "-h", primary.host, "-p", String(primary.port), "-U", "postgres"]);
    // The copied configuration names the primary's port and socket; later lines win.
    appendFileSync(join(standbyData, "postgresql.conf"), `\nport = ${standbyPort}\nunix_socket_directories = '${root}'\n`);
    runPg("pg_ctl", ["-D", standbyData, "-l", standbyLog, "-w", "start"]);
  });

  after(async () => {
    await stopAllSupervisors();
    try {
      if (standbyData) runPg("pg_ctl", ["-D", standbyData, "-m", "immediate", "-w", "stop"]);
    } catch {
      // not running
    }
    if (root) rmSync(root, { recursive: true, force: true });
    primary?.stop();
  });

  test("is refused with a clear message until it is promoted, then used", async () => {
    const url = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
    const check = await connect(url);
    assert.equal((await check.query("SELECT pg_is_in_recovery() AS r")).rows[0].r, true, "the standby is in recovery");
    await check.end();

    const sup = startSupervisor(url, { name: "on-standby" });
    const refusal = await sup.waitForLog("standby refusal", (l) => /standby/.test(l.msg));
    assert.equal(refusal.level, "error");
    assert.match(refusal.msg, /the database is a standby \(in recovery\): a supervisor needs the primary/);
    const port = await sup.port();
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /standby/);
    assert.equal(sup.child.exitCode, null, "it keeps running, waiting for a promotion");
    assert.ok(!sup.logs.some((l) => l.msg === "worker registered"));

    runPg("pg_ctl", ["-D", standbyData, "-w", "promote"]);
    await sup.waitForLog("registration after promotion", (l) => l.msg === "worker registered", 30_000);
    await waitFor("ready after promotion", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 15_000);
    assert.equal(await sup.stop(), 0);
  });
});
