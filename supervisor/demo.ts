// `make demo`: a throwaway PostgreSQL cluster with Clockwork installed, one supervisor
// and the web console (the real binary, as child processes) and a few sample jobs; prints
// the run history as it grows until Ctrl-C (or for --seconds N), then cleans everything up.
//   npx tsx supervisor/demo.ts [--seconds N] [--console-port N]
//
// It shows the safe set-up (docs/sql-steps.md): the supervisor logs in as a role that is a
// member of clockwork_supervisor and nothing else, the jobs belong to an ordinary role, and
// the supervisor logs in as that owner for its SQL steps through the Unix socket with peer
// authentication and a pg_ident map (the recommended way for a sidecar). Nobody but the
// demo's own superuser connection (TCP, localhost) is trusted.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startCluster } from "../test/support/cluster.ts";

const args = process.argv.slice(2);
const secondsIndex = args.indexOf("--seconds");
const seconds = secondsIndex >= 0 ? Number(args[secondsIndex + 1]) : null;
const consolePortIndex = args.indexOf("--console-port");
const consolePort = consolePortIndex >= 0 ? Number(args[consolePortIndex + 1]) : 9188;
if ((seconds !== null && !(seconds > 0)) || !(consolePort >= 0 && consolePort <= 65535)) {
  console.error("usage: npx tsx supervisor/demo.ts [--seconds N] [--console-port N]");
  process.exit(2);
}

const bin = fileURLToPath(new URL("./bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const tty = process.stdout.isTTY === true;

/** The supervisor's login: clockwork_supervisor's rights and nothing else. */
const SUPERVISOR_ROLE = "demo_supervisor";
/** The role that owns the demo's jobs: its steps run as it, with its rights only. */
const OWNER_ROLE = "demo_owner";

console.log("starting a throwaway PostgreSQL cluster…");
const osUser = userInfo().username;
const cluster = await startCluster({
  hba: [
    "host   all  postgres  127.0.0.1/32  trust", // the demo's own set-up and the printed psql command
    `local  all  ${SUPERVISOR_ROLE},${OWNER_ROLE}  peer map=clockwork`, // the supervisor, as itself and as the owner
  ],
  // The OS user the supervisor runs as may log in as these two roles, and as no other.
  ident: [`clockwork  ${osUser}  ${SUPERVISOR_ROLE}`, `clockwork  ${osUser}  ${OWNER_ROLE}`],
});
const logDir = mkdtempSync(join(tmpdir(), "clockwork-demo-"));
const logPath = join(logDir, "supervisor.log");
let supervisor: ReturnType<typeof spawn> | undefined;
let webConsole: ReturnType<typeof spawn> | undefined;
let client: pg.Client | undefined;
let cleaning = false;

let cleaningSince = 0;

async function cleanup(code: number): Promise<void> {
  // A repeated signal must not skip the cluster's stop: tsx relays the terminal's Ctrl-C to
  // this process, which gets it from the terminal as well, and exiting on the second left
  // the cluster running. One within a second is that echo; a later one (a second Ctrl-C)
  // hurries: the children are killed, and the cleanup under way still stops the cluster.
  if (cleaning) {
    if (Date.now() - cleaningSince > 1000) {
      webConsole?.kill("SIGKILL");
      supervisor?.kill("SIGKILL");
    }
    return;
  }
  cleaning = true;
  cleaningSince = Date.now();
  console.log("\nstopping the console, the supervisor and the cluster…");
  if (webConsole && webConsole.exitCode === null) {
    const exited = new Promise((resolve) => webConsole!.once("exit", resolve));
    webConsole.kill("SIGTERM");
    await exited;
  }
  if (supervisor && supervisor.exitCode === null) {
    const exited = new Promise((resolve) => supervisor!.once("exit", resolve));
    supervisor.kill("SIGTERM");
    const timer = setTimeout(() => supervisor?.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await client?.end().catch(() => {});
  cluster.stop();
  rmSync(logDir, { recursive: true, force: true });
  process.exit(code);
}
process.on("SIGINT", () => void cleanup(0));
process.on("SIGTERM", () => void cleanup(0));
// Closing the terminal sends SIGHUP: the cluster (started detached by pg_ctl) would outlive us.
process.on("SIGHUP", () => void cleanup(0));

try {
  const url = cluster.url("postgres");
  client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  await client.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork");
  await client.query(`CREATE ROLE ${SUPERVISOR_ROLE} LOGIN IN ROLE clockwork_supervisor;
    CREATE ROLE ${OWNER_ROLE} LOGIN IN ROLE clockwork_shell;
    CREATE TABLE demo_ticks (at timestamptz NOT NULL DEFAULT now(), by_role text NOT NULL DEFAULT session_user);
    ALTER TABLE demo_ticks OWNER TO ${OWNER_ROLE}`);
  // The jobs are the owner's: defined on a session acting as it.
  await client.query(`SET ROLE ${OWNER_ROLE}`);

  // An SQL job every 5 seconds, pg_cron style.
  await client.query("SELECT clockwork.schedule('sql-every-5s', '*/5 * * * * *', 'INSERT INTO demo_ticks DEFAULT VALUES')");
  // A shell job every 10 seconds.
  await client.query(`SELECT clockwork.schedule_shell('shell-every-10s', '*/10 * * * * *', 'echo "disk: $(df -h / | tail -1)"')`);
  // A job with several steps: a dependency, a matrix and a check.
  await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
    name: "pipeline",
    description: "count ticks, then report per region, then check",
    schedules: ["*/15 * * * * *"],
    steps: [
      { name: "extract", sql: "SELECT count(*) AS ticks FROM demo_ticks" },
      { name: "load", shell: 'echo "loading region $region (run $CLOCKWORK_RUN_ID)"; sleep 1', depends: ["extract"], matrix: { region: ["eu", "us"] } },
    ],
    checks: [{ name: "ticks-present", sql: "SELECT CASE WHEN count(*) > 0 THEN 'OK' ELSE 'EMPTY' END FROM demo_ticks", expected: ["OK"] }],
  })]);

  const log = createWriteStream(logPath);
  // Over the socket: as SUPERVISOR_ROLE for its own calls, as OWNER_ROLE for the owner's SQL steps.
  const supervisorLogin = ["--db-host", cluster.socketDir, "--db-port", String(cluster.port), "--db-name", "postgres", "--db-user", SUPERVISOR_ROLE];
  const { DATABASE_URL: _url, CLOCKWORK_DATABASE_URL: _cwUrl, PGHOST: _host, PGUSER: _user, PGPORT: _port, PGDATABASE: _db, ...env } = process.env;
  supervisor = spawn(process.execPath, [bin, "supervisor", "--name", "demo", "--http-port", "0", "--http-host", "127.0.0.1", ...supervisorLogin], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  supervisor.stdout!.pipe(log);
  supervisor.stderr!.pipe(log);
  supervisor.on("exit", (code, signal) => {
    if (!cleaning) {
      console.error(`the supervisor exited unexpectedly (${code ?? signal}); its log: ${logPath}`);
      void cleanup(1);
    }
  });

  // A job that fails now and then, and a paused one, so the console has something to show.
  await client.query(`SELECT clockwork.schedule_shell('flaky-export', '*/20 * * * * *', 'echo "exporting"; [ $((RANDOM % 3)) -ne 0 ] || { echo "upstream timed out" >&2; exit 1; }')`);
  await client.query("SELECT clockwork.schedule('nightly-vacuum', '30 3 * * *', 'VACUUM ANALYZE demo_ticks')");
  await client.query("SELECT clockwork.disable_job('nightly-vacuum')");
  await client.query("RESET ROLE");

  // The web console beside the live table, with actions allowed (it is a throwaway cluster).
  webConsole = spawn(process.execPath, [bin, "console", "--port", String(consolePort), "--allow-actions"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  webConsole.stdout!.pipe(log);
  webConsole.stderr!.pipe(log);
  const consoleUrl = await new Promise<string>((resolve, reject) => {
    let seen = "";
    webConsole!.stdout!.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = /clockwork console on (http:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]!);
    });
    webConsole!.stderr!.on("data", (d: Buffer) => (seen += d.toString()));
    webConsole!.once("exit", (code) => reject(new Error(`the console exited (${code}): ${seen.trim()} (try --console-port 0)`)));
  });
  webConsole.on("exit", (code, signal) => {
    if (!cleaning) {
      console.error(`the console exited unexpectedly (${code ?? signal}); its log: ${logPath}`);
      void cleanup(1);
    }
  });

  const started = Date.now();
  const header = `Clockwork demo — cluster on port ${cluster.port}, supervisor log ${logPath}\n` +
    `web console: ${consoleUrl} (open it in a browser; actions allowed)\n` +
    `the supervisor logs in as ${SUPERVISOR_ROLE} (clockwork_supervisor only), and as ${OWNER_ROLE} for its SQL steps (peer, pg_ident map)\n` +
    `as the jobs' owner: psql "host=${cluster.socketDir} port=${cluster.port} dbname=postgres user=${OWNER_ROLE}"\n` +
    `as a superuser: psql ${url} (the README tour: CREATE DATABASE tour, then psql ${cluster.url("tour")})\n` +
    `jobs: sql-every-5s (SQL, */5 s), shell-every-10s (shell, */10 s), pipeline (SQL → shell matrix eu/us → check, */15 s),\n` +
    `      flaky-export (shell, fails now and then, */20 s), nightly-vacuum (paused)\n` +
    (seconds ? `stopping after ${seconds} s\n` : "press Ctrl-C to stop\n");
  if (!tty) console.log(header);
  let lastPrinted = "";
  for (;;) {
    const { rows } = await client.query(`
      SELECT run_id, job, trigger, to_char(coalesce(slot_at, queued_at) AT TIME ZONE 'UTC', 'HH24:MI:SS') AS due,
             state, round(extract(epoch FROM duration) * 1000)::int AS ms, steps_succeeded AS ok, steps_failed AS failed, steps_total AS steps
        FROM clockwork.run_history ORDER BY run_id DESC LIMIT 10`);
    const lines = rows.reverse().map((r) =>
      `${String(r.run_id).padStart(5)}  ${String(r.job).padEnd(16)} ${String(r.trigger).padEnd(9)} ${r.due}  ${String(r.state).padEnd(10)} ` +
      `${r.ms === null ? "      " : `${String(r.ms).padStart(5)}ms`}  steps ${r.ok}/${r.steps}${Number(r.failed) > 0 ? ` (${r.failed} failed)` : ""}`);
    const table = ["  run  job              trigger   due (UTC) state        time   steps", ...lines].join("\n");
    if (tty) {
      process.stdout.write(`\x1b[2J\x1b[H${header}\n${table}\n`);
    } else {
      // Plain output: only the rows that are new or changed since the last print.
      const fresh = lines.filter((line) => !lastPrinted.includes(line));
      for (const line of fresh) console.log(line);
      lastPrinted = lines.join("\n");
    }
    if (seconds !== null && Date.now() - started >= seconds * 1000) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await cleanup(0);
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  await cleanup(1);
}
