// Smoke test of `make demo` (supervisor/demo.ts --seconds N): it starts its own cluster,
// supervisor and web console, shows runs succeeding, and cleans up after itself. The demo
// shows the safe set-up: the supervisor logs in as a role that is no superuser and holds
// only clockwork_supervisor, and the owner's steps run on sessions logged in as the owner.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { connect, extensionMissing, ROOT, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("the demo", { skip: missing ?? false }, () => {
  test("runs the sample jobs with the web console beside the live table, and cleans up", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "supervisor/demo.ts", "--seconds", "12", "--console-port", "0"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);

    // While the demo runs, its console answers with the demo's jobs.
    const consoleUrl = await waitFor("the console's address", () => /web console: (http:\/\/\S+)/.exec(stdout)?.[1], 60_000);
    const jobs = await waitFor("the console's jobs", async () => {
      const response = await fetch(new URL("/api/jobs", consoleUrl));
      return response.ok ? ((await response.json()) as { jobs: { name: string; enabled: boolean }[] }).jobs : undefined;
    });
    assert.deepEqual(jobs.map((j) => j.name), ["flaky-export", "nightly-vacuum", "pipeline", "shell-every-10s", "sql-every-5s"]);
    assert.equal(jobs.find((j) => j.name === "nightly-vacuum")?.enabled, false);
    const page = await fetch(consoleUrl);
    assert.match(await page.text(), /<script type="module" src="\/app.js">/);

    // Who is logged in as whom, asked of the demo's own cluster while it runs.
    const superuserUrl = /as a superuser: psql (\S+)/.exec(stdout)?.[1];
    assert.ok(superuserUrl, "prints how to connect");
    const admin = await connect(superuserUrl);
    try {
      const ticks = await waitFor("the SQL job's first ticks", async () => {
        const { rows } = await admin.query("SELECT by_role, count(*)::int AS n FROM demo_ticks GROUP BY by_role");
        return rows.length > 0 ? rows : undefined;
      }, 30_000);
      assert.deepEqual(ticks.map((r) => r.by_role), ["demo_owner"], "the SQL steps logged in as the jobs' owner");
      const { rows: supervisor } = await admin.query(`
        SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
               ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
          FROM pg_roles r WHERE r.rolname = (SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'clockwork supervisor demo')`);
      assert.deepEqual(supervisor, [{ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false, member_of: ["clockwork_supervisor"] }],
        "the supervisor's login holds clockwork_supervisor and nothing else");
    } finally {
      await admin.end();
    }

    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /sql-every-5s +schedule +\d\d:\d\d:\d\d +succeeded/);
    assert.match(stdout, /shell-every-10s +schedule +\d\d:\d\d:\d\d +succeeded/);
    const logPath = /supervisor log (\S+)/.exec(stdout)?.[1];
    assert.ok(logPath, "prints where the supervisor logs");
    assert.equal(existsSync(logPath), false, "the temporary log directory was removed");
    await assert.rejects(fetch(consoleUrl), "the console stopped with the demo");
  });

  // Ctrl-C under `make demo` reaches the demo twice: from the terminal and relayed by tsx.
  // Exiting on the second left the cluster running.
  const endings: [string, NodeJS.Signals[]][] = [
    ["when its terminal closes (SIGHUP)", ["SIGHUP"]],
    ["on Ctrl-C, also when the signal comes twice at once (SIGINT from the terminal and from tsx)", ["SIGINT", "SIGINT"]],
  ];
  for (const [when, signals] of endings) test(`stops its cluster ${when}`, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "supervisor/demo.ts", "--seconds", "120", "--console-port", "0"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const port = await waitFor("the demo's cluster", () => /cluster on port (\d+)/.exec(stdout)?.[1], 60_000);
    const logPath = /supervisor log (\S+)/.exec(stdout)![1]!;
    for (const signal of signals) child.kill(signal);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0);
    const probe = new pg.Client({ host: "127.0.0.1", port: Number(port), user: "postgres", database: "postgres", connectionTimeoutMillis: 2000 });
    await assert.rejects(probe.connect(), "nothing listens on the demo's port any more");
    assert.equal(existsSync(logPath), false, "the temporary log directory was removed");
  });
});
