// Supervisor benchmark (not a test): due → start lag of SQL and shell steps fired every
// second by one real supervisor process, and what an idle supervisor costs: SQL API calls
// and CPU per minute, with nothing scheduled and with 10 000 jobs none of which is due.
// The one call a minute an idle supervisor makes is its safety tick (--safety-tick 60s).
//   npx tsx test/bench/supervisor.ts [--seconds 20] [--idle-seconds 60]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, percentiles, sleep } from "./support.ts";

const seconds = arg("--seconds", 20);
const idleSeconds = arg("--idle-seconds", 60);
const idleJobs = arg("--idle-jobs", 10_000);

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}
const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));


const cluster = await startCluster();
const client = new pg.Client({ connectionString: cluster.url("postgres") });
let supervisor: ReturnType<typeof spawn> | undefined;
try {
  await client.connect();
  await client.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork");
  await client.query("CREATE TABLE fired (at timestamptz NOT NULL DEFAULT clock_timestamp())");
  supervisor = spawn(process.execPath, [bin, "supervisor", "--name", "bench", "--http-port", "0", "--http-host", "127.0.0.1", "--log-level", "info"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: cluster.url("postgres") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve) => {
    let buffered = "";
    supervisor!.stdout!.setEncoding("utf8").on("data", (d: string) => {
      buffered += d;
      const m = /"port":(\d+)/.exec(buffered);
      if (m) resolve(Number(m[1]));
    });
  });
  const apiCalls = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return [...text.matchAll(/^clockwork_db_round_trip_seconds_count\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  await sleep(1500);

  const idleWindow = async () => {
    const calls = await apiCalls();
    const cpu = cpuMs(supervisor!.pid!);
    await sleep(idleSeconds * 1000);
    const perMinute = 60 / idleSeconds;
    return { calls: ((await apiCalls()) - calls) * perMinute, cpuMs: (cpuMs(supervisor!.pid!) - cpu) * perMinute };
  };

  // Idle: nothing scheduled.
  const idleNothing = await idleWindow();

  // Idle with many jobs, none due for months (yearly, on 1 January).
  await client.query("SELECT clockwork.schedule('yearly-' || i, '0 0 1 1 *', 'SELECT 1') FROM generate_series(1, $1) AS i", [idleJobs]);
  await sleep(5000); // the wake-ups the definitions' NOTIFYs caused are over
  const idleMany = await idleWindow();
  await client.query("SELECT clockwork.drop_job('yearly-' || i) FROM generate_series(1, $1) AS i", [idleJobs]);

  // Lag: one SQL and one shell job every second.
  await client.query("SELECT clockwork.schedule('sql-lag', '* * * * * *', 'INSERT INTO fired DEFAULT VALUES')");
  await client.query(`SELECT clockwork.schedule_shell('shell-lag', '* * * * * *', 'date +%s.%N')`);
  // Not measured: the first slots may be late (caught up), and a fresh backend plans its
  // first five calls of each statement and runs cold JavaScript; a supervisor runs for
  // days, so the steady state is what is measured.
  await sleep(10_000);
  await client.query("TRUNCATE fired");
  const from = new Date();
  await sleep(seconds * 1000);
  await client.query("SELECT clockwork.disable_job('sql-lag'), clockwork.disable_job('shell-lag')");
  await sleep(1500);

  const sqlLags = (await client.query("SELECT extract(epoch FROM at - date_trunc('second', at)) * 1000 AS ms FROM fired")).rows.map((r) => Number(r.ms));
  const shellLags = (await client.query(`
    SELECT (trim(s.stdout)::numeric - extract(epoch FROM r.slot_at)) * 1000 AS ms
      FROM clockwork.runs r JOIN clockwork.step_runs s ON s.run_id = r.id JOIN clockwork.jobs j ON j.id = r.job_id
     WHERE j.name = 'shell-lag' AND r.slot_at >= $1 AND s.state = 'succeeded'`, [from])).rows.map((r) => Number(r.ms));

  console.log(`supervisor benchmark (${seconds} s of every-second jobs, ${idleSeconds} s idle windows)`);
  console.log("due → step start lag (ms):");
  const fixed = (p: ReturnType<typeof percentiles>) => ({ n: p.n, p50: p.p50.toFixed(1), p99: p.p99.toFixed(1), max: p.max.toFixed(1) });
  console.table({ sql: fixed(percentiles(sqlLags)), shell: fixed(percentiles(shellLags)) });
  console.log("idle supervisor, per minute (the calls are the safety tick):");
  console.table({
    "nothing scheduled": { api_calls: idleNothing.calls.toFixed(1), cpu_ms: idleNothing.cpuMs.toFixed(0) },
    [`${idleJobs} jobs, none due`]: { api_calls: idleMany.calls.toFixed(1), cpu_ms: idleMany.cpuMs.toFixed(0) },
  });
} finally {
  if (supervisor && supervisor.exitCode === null) {
    const exited = new Promise((r) => supervisor!.once("exit", r));
    supervisor.kill("SIGTERM");
    await exited;
  }
  await client.end().catch(() => {});
  cluster.stop();
}
