// Supervisor benchmark (not a test): due → start lag of SQL and shell steps fired every
// second by one real supervisor process, and what an idle supervisor costs: SQL API calls
// and CPU per minute, with nothing scheduled and with 10 000 jobs none of which is due.
// The one call a minute an idle supervisor makes is its safety tick (--safety-tick 60s).
//   npx tsx test/bench/supervisor.ts [--seconds 20] [--idle-seconds 60] [--idle-jobs 10000]
//       [--repeat 1] [--baseline DIR --baseline-pg-config PATH] [--shell-job 0]
// With --baseline, an earlier build runs the same benchmark in the same run, the two taking
// turns --repeat times each (this build first): DIR is a built checkout of it (git archive
// of its commit, node_modules copied, not linked, .deps linked, `make install` into a
// private PostgreSQL copy made by build/private-pg.sh; docs/benchmarks.md has the commands),
// PATH that copy's pg_config. Each run has a cluster of its own; the load average at its
// start and end is printed with it, and the medians of the runs come last.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, median, percentiles, sleep, textArg } from "./support.ts";

const seconds = arg("--seconds", 20);
const idleSeconds = arg("--idle-seconds", 60);
const idleJobs = arg("--idle-jobs", 10_000);
const repeat = arg("--repeat", 1);
/** 0: no shell job beside the SQL one, so the SQL step's start never queues behind a spawn. */
const shellJob = arg("--shell-job", 1) !== 0;
const BASELINE = textArg("--baseline");
const BASELINE_PG_CONFIG = textArg("--baseline-pg-config");

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

/** A built checkout to measure: its root, and the pg_config of the PostgreSQL it is installed in. */
interface Build {
  readonly name: string;
  readonly root: string;
  readonly pgConfig: string | undefined;
}

interface Result {
  readonly load: string;
  readonly sql: ReturnType<typeof percentiles>;
  readonly shell: ReturnType<typeof percentiles>;
  readonly idleNothing: { calls: number; cpuMs: number };
  readonly idleMany: { calls: number; cpuMs: number };
}

/** A cluster from the build's own PostgreSQL copy (startCluster reads $PG_CONFIG). */
async function clusterFor(build: Build): Promise<Awaited<ReturnType<typeof startCluster>>> {
  const own = process.env.PG_CONFIG;
  if (build.pgConfig === undefined) delete process.env.PG_CONFIG;
  else process.env.PG_CONFIG = build.pgConfig;
  try {
    return await startCluster();
  } finally {
    if (own === undefined) delete process.env.PG_CONFIG;
    else process.env.PG_CONFIG = own;
  }
}

async function measure(build: Build): Promise<Result> {
  const loadBefore = loadavg()[0]!.toFixed(1);
  const cluster = await clusterFor(build);
  const client = new pg.Client({ connectionString: cluster.url("postgres") });
  let supervisor: ReturnType<typeof spawn> | undefined;
  try {
    await client.connect();
    await client.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork");
    await client.query("CREATE TABLE fired (at timestamptz NOT NULL DEFAULT clock_timestamp())");
    supervisor = spawn(process.execPath, [`${build.root}/supervisor/bin/clockwork.js`, "supervisor", "--name", "bench", "--http-port", "0", "--http-host", "127.0.0.1", "--log-level", "info"], {
      cwd: build.root,
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
    if (shellJob) await client.query(`SELECT clockwork.schedule_shell('shell-lag', '* * * * * *', 'date +%s.%N')`);
    // Not measured: the first slots may be late (caught up), and a fresh backend plans its
    // first five calls of each statement and runs cold JavaScript; a supervisor runs for
    // days, so the steady state is what is measured.
    await sleep(10_000);
    await client.query("TRUNCATE fired");
    const from = new Date();
    await sleep(seconds * 1000);
    await client.query(`SELECT clockwork.disable_job('sql-lag')${shellJob ? ", clockwork.disable_job('shell-lag')" : ""}`);
    await sleep(1500);

    const sqlLags = (await client.query("SELECT extract(epoch FROM at - date_trunc('second', at)) * 1000 AS ms FROM fired")).rows.map((r) => Number(r.ms));
    const shellLags = (await client.query(`
      SELECT (trim(s.stdout)::numeric - extract(epoch FROM r.slot_at)) * 1000 AS ms
        FROM clockwork.runs r JOIN clockwork.step_runs s ON s.run_id = r.id JOIN clockwork.jobs j ON j.id = r.job_id
       WHERE j.name = 'shell-lag' AND r.slot_at >= $1 AND s.state = 'succeeded'`, [from])).rows.map((r) => Number(r.ms));
    return { load: `${loadBefore}–${loadavg()[0]!.toFixed(1)}`, sql: percentiles(sqlLags), shell: percentiles(shellLags), idleNothing, idleMany };
  } finally {
    if (supervisor && supervisor.exitCode === null) {
      const exited = new Promise((r) => supervisor!.once("exit", r));
      supervisor.kill("SIGTERM");
      await exited;
    }
    await client.end().catch(() => {});
    cluster.stop();
  }
}

if ((BASELINE === null) !== (BASELINE_PG_CONFIG === null)) throw new Error("--baseline and --baseline-pg-config go together");
const builds: Build[] = [{ name: "this build", root: fileURLToPath(new URL("../../", import.meta.url)), pgConfig: process.env.PG_CONFIG }];
if (BASELINE !== null) builds.push({ name: `baseline (${BASELINE})`, root: BASELINE, pgConfig: BASELINE_PG_CONFIG! });
const results = new Map<Build, Result[]>(builds.map((b) => [b, []]));

console.log(`supervisor benchmark (${seconds} s of every-second jobs, ${idleSeconds} s idle windows, ${idleJobs} jobs defined and dropped before the lag phase)`);
console.log("due → step start lag in ms, SQL and shell steps; idle supervisor per minute (the calls are the safety tick)\n");
console.log("| build | run | load | SQL p50 | SQL p99 | SQL max | shell p50 | shell p99 | idle calls/min | idle CPU ms/min | calls/min with jobs | CPU ms/min with jobs |");
console.log("| --- | --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
for (let run = 1; run <= repeat; run++) {
  for (const build of builds) {
    const r = await measure(build);
    results.get(build)!.push(r);
    console.log(`| ${build.name} | ${run} | ${r.load} | ${r.sql.p50.toFixed(1)} | ${r.sql.p99.toFixed(1)} | ${r.sql.max.toFixed(1)} | ${r.shell.p50.toFixed(1)} | ${r.shell.p99.toFixed(1)} | ` +
      `${r.idleNothing.calls.toFixed(1)} | ${r.idleNothing.cpuMs.toFixed(0)} | ${r.idleMany.calls.toFixed(1)} | ${r.idleMany.cpuMs.toFixed(0)} |`);
  }
}
if (repeat > 1 || builds.length > 1) {
  console.log(`\nmedians of ${repeat} run(s), ms:\n`);
  console.log("| build | SQL p50 | SQL p99 | shell p50 | shell p99 |\n| --- | --: | --: | --: | --: |");
  for (const build of builds) {
    const rs = results.get(build)!;
    const m = (pick: (r: Result) => number) => median(rs.map(pick)).toFixed(1);
    console.log(`| ${build.name} | ${m((r) => r.sql.p50)} | ${m((r) => r.sql.p99)} | ${m((r) => r.shell.p50)} | ${m((r) => r.shell.p99)} |`);
  }
}
