// Throughput of manual runs with a no-op SQL step (clockwork.run_now + one supervisor at
// concurrency 10), side by side with graphile-worker processing no-op jobs at concurrency
// 10 with its local queue, on the same cluster in the same run. Not a test: figures only.
//   npx tsx test/bench/throughput.ts [--jobs 5000] [--rounds 3]
//       [--baseline DIR --baseline-pg-config PATH] [--log-level L] [--baseline-log-level L] [--socket]
//       [--graphile-task noop|sql|both]
// --graphile-task: what graphile-worker's job does. noop (the default, the figure):
// `async () => {}`, which never touches the database. sql: `select 1` through the job
// helpers' pool (helpers.query, one pooled connection per call, an implicit transaction),
// the same SQL as Clockwork's no-op step runs, which Clockwork runs in its own transaction
// on an owner connection with its completion recorded there. both: the two variants take
// turns in the same run, beside Clockwork. Information only: the target stays the default.
// --socket: every connection (graphile-worker's, the supervisors' and so their owners')
// goes over the cluster's Unix socket instead of TCP on 127.0.0.1, as a sidecar sharing
// the server's socket connects (docs/sql-steps.md recommends peer authentication there).
// With --baseline, an earlier build runs the same rounds in the same run, taking turns: DIR
// is a built checkout of it (git archive of its commit, node_modules copied — not linked:
// its `make install` runs npm ci —, .deps linked, `make install` into a private PostgreSQL
// copy, build/private-pg.sh; docs/benchmarks.md has the commands), PATH that copy's
// pg_config; it gets a cluster of its own, started from that copy.
// Each round: the worker is started and idle; N jobs are enqueued in one statement; the
// time from that commit to the last completion is measured. Both schemas are VACUUM
// ANALYZEd before every round (stale statistics change such figures by 10×).
// Also printed: the CPU each system spent from the enqueue to the last completion, in the
// server (from /proc: the postmaster, its collected and live backends, less the bench's own
// backend) and in the worker's process (the supervisor; for graphile-worker, which runs in
// the bench's process, this process, polls included). Clock ticks of 10 ms: use --jobs ≥ 3000.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Logger, run as runGraphileWorker, makeWorkerUtils, type Task } from "graphile-worker";
import { startCluster } from "../support/cluster.ts";
import { arg, median, sleep, textArg } from "./support.ts";

const JOBS = arg("--jobs", 5000);
const BASELINE = textArg("--baseline");
const BASELINE_PG_CONFIG = textArg("--baseline-pg-config");
const ROUNDS = arg("--rounds", 3);
// The supervisors' log level: warn by default (a line per job would cost graphile-worker
// time too, and it logs nothing here); info is what a supervisor runs at unless told.
const LOG_LEVEL = textArg("--log-level") ?? "warn";
const SOCKET = process.argv.includes("--socket");
const BASELINE_LOG_LEVEL = textArg("--baseline-log-level") ?? LOG_LEVEL;
const GRAPHILE_TASK = textArg("--graphile-task") ?? "noop";
if (!["noop", "sql", "both"].includes(GRAPHILE_TASK)) throw new Error(`--graphile-task is noop, sql or both, not ${GRAPHILE_TASK}`);
type GraphileTask = "noop" | "sql";
const GRAPHILE_TASKS: readonly GraphileTask[] = GRAPHILE_TASK === "both" ? ["noop", "sql"] : [GRAPHILE_TASK as GraphileTask];
const CONCURRENCY = 10;
const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

async function waitFor(client: pg.Client, sql: string, done: (n: number) => boolean, timeoutMs = 600_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const n = Number((await client.query(sql)).rows[0].n);
    if (done(n)) return;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${sql} (at ${n})`);
    await sleep(20);
  }
}

interface Cluster {
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  url(db: string): string;
  stop(): void;
}

/** How the bench and the systems it measures reach `db`: TCP, or the Unix socket with --socket. */
function urlOf(cluster: Cluster, db: string): string {
  return SOCKET ? `postgres://postgres@/${db}?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}` : cluster.url(db);
}

/** The supervisor's environment: its database by URL, or by socket directory (a URL needs a host). */
function supervisorEnv(cluster: Cluster, db: string): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, ...env } = process.env;
  if (!SOCKET) return { ...env, DATABASE_URL: cluster.url(db) };
  return { ...env, CLOCKWORK_DB_HOST: cluster.socketDir, CLOCKWORK_DB_PORT: String(cluster.port), CLOCKWORK_DB_NAME: db, CLOCKWORK_DB_USER: "postgres" };
}

/** A build of Clockwork: its cluster and the supervisor it runs. */
interface Build {
  readonly cluster: Cluster;
  readonly bin: string;
  readonly root: string;
  readonly logLevel: string;
}

/**
 * The supervisors' log lines go to a file, as they would to a log file or a container's
 * log pipe in production (not /dev/null, which costs less than either).
 */
const logPath = join(tmpdir(), `clockwork-throughput-${process.pid}.log`);
const logFd = openSync(logPath, "w");
process.on("exit", () => rmSync(logPath, { force: true }));

/** CPU time (user + system, ms) of a process, with that of the children it has collected if `children`; 0 once it is gone. */
function cpuOf(pid: number | string, children = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // After ") ": utime 11, stime 12, cutime 13, cstime 14, in clock ticks of 10 ms.
    return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) of a cluster's server: the postmaster, what it collected from ended
 * backends, and its live children, less the bench's own backend (`except`: its enqueue
 * and polls are not processing).
 */
function serverCpuMs(cluster: Cluster, except: number): number {
  const postmaster = readFileSync(join(cluster.dataDir, "postmaster.pid"), "utf8").split("\n")[0]!.trim();
  let total = cpuOf(postmaster, true);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === except) continue;
    try {
      if (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1] === postmaster) total += cpuOf(pid);
    } catch {
      // ended meanwhile: the postmaster collects its time
    }
  }
  return total;
}

/** The bench's own backend on a connection, whose CPU is not the processing's. */
const backendPids = new WeakMap<pg.Client, number>();
async function backendPid(client: pg.Client): Promise<number> {
  let pid = backendPids.get(client);
  if (pid === undefined) {
    pid = Number((await client.query("select pg_backend_pid() as pid")).rows[0].pid);
    backendPids.set(client, pid);
  }
  return pid;
}

async function clockworkRound(build: Build, client: pg.Client, round: number): Promise<Round> {
  await client.query("vacuum analyze clockwork.runs, clockwork.step_runs, clockwork.jobs, clockwork.workers");
  const name = `bench-${round}`;
  const supervisor: ChildProcess = spawn(
    process.execPath,
    [build.bin, "supervisor", "--name", name, "--concurrency", String(CONCURRENCY), "--http-port", "off", "--log-level", build.logLevel],
    { cwd: build.root, env: supervisorEnv(build.cluster, "bench_clockwork"), stdio: ["ignore", logFd, "inherit"] },
  );
  try {
    await waitFor(client, `select count(*) as n from clockwork.workers where name = '${name}' and stopped_at is null`, (n) => n === 1);
    await sleep(500); // let it settle into its first sleep
    // Polls count this round's runs only (a primary-key range), so the watching itself
    // does not grow with the history kept from earlier rounds.
    const before = Number((await client.query("select coalesce(max(id), 0) as n from clockwork.runs")).rows[0].n);
    const own = await backendPid(client);
    const [server0, worker0] = [serverCpuMs(build.cluster, own), cpuOf(supervisor.pid!)];
    const t0 = performance.now();
    await client.query("select clockwork.run_now('noop') from generate_series(1, $1)", [JOBS]);
    const t1 = performance.now();
    await waitFor(client, `select count(*) as n from clockwork.runs where id > ${before} and state = 'succeeded'`, (n) => n >= JOBS);
    const t2 = performance.now();
    const [server1, worker1] = [serverCpuMs(build.cluster, own), cpuOf(supervisor.pid!)];
    return { enqueue: (t1 - t0) / 1000, process: (t2 - t1) / 1000, serverMs: server1 - server0, workerMs: worker1 - worker0 };
  } finally {
    supervisor.kill("SIGTERM");
    await new Promise((r) => supervisor.once("exit", r));
  }
}

/** graphile-worker's job body for each variant of --graphile-task. */
const graphileTasks: Record<GraphileTask, Task> = {
  noop: async () => {},
  sql: async (_payload, helpers) => {
    await helpers.query("select 1");
  },
};

async function graphileRound(cluster: Cluster, client: pg.Client, task: GraphileTask): Promise<Round> {
  await client.query("vacuum analyze graphile_worker._private_jobs, graphile_worker._private_tasks");
  const runner = await runGraphileWorker({
    preset: {
      worker: {
        connectionString: urlOf(cluster, "bench_graphile"),
        concurrentJobs: CONCURRENCY,
        localQueue: { size: 500 },
        pollInterval: 1000,
      },
    },
    noHandleSignals: true,
    taskList: { noop: graphileTasks[task] },
    // Quiet, like the supervisor at --log-level warn: a line per job would cost it time.
    logger: new Logger(() => () => {}),
  });
  try {
    await sleep(500);
    const own = await backendPid(client);
    // graphile-worker runs in this process: its CPU includes the bench's own polls (small).
    const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const [server0, worker0] = [serverCpuMs(cluster, own), cpu()];
    const t0 = performance.now();
    await client.query("select graphile_worker.add_job('noop', '{}'::json) from generate_series(1, $1)", [JOBS]);
    const t1 = performance.now();
    await waitFor(client, "select count(*) as n from graphile_worker._private_jobs", (n) => n === 0);
    const t2 = performance.now();
    const [server1, worker1] = [serverCpuMs(cluster, own), cpu()];
    return { enqueue: (t1 - t0) / 1000, process: (t2 - t1) / 1000, serverMs: server1 - server0, workerMs: worker1 - worker0 };
  } finally {
    await runner.stop();
  }
}

/** A database with Clockwork and the no-op job in `cluster`. */
async function clockworkDatabase(cluster: Cluster): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: urlOf(cluster, "postgres") });
  await admin.connect();
  await admin.query("create database bench_clockwork");
  await admin.end();
  const cw = new pg.Client({ connectionString: urlOf(cluster, "bench_clockwork") });
  await cw.connect();
  await cw.query("create extension clockwork_v8; create extension clockwork");
  await cw.query("select clockwork.define_job('{\"name\": \"noop\", \"policies\": {\"max_instances\": 100000}, \"steps\": [{\"name\": \"a\", \"sql\": \"select 1\"}]}'::jsonb)");
  return cw;
}

/** One round: seconds to enqueue and to process; CPU (ms) from the enqueue to the last completion, of the server (but the bench's own backend) and of the worker's process. */
type Round = { enqueue: number; process: number; serverMs: number; workerMs: number };

async function main(): Promise<void> {
  if ((BASELINE === null) !== (BASELINE_PG_CONFIG === null)) throw new Error("--baseline and --baseline-pg-config go together");
  const cluster = await startCluster();
  const current: Build = { cluster, bin, root, logLevel: LOG_LEVEL };
  let baseline: Build | null = null;
  if (BASELINE !== null) {
    const own = process.env.PG_CONFIG;
    process.env.PG_CONFIG = BASELINE_PG_CONFIG!;
    try {
      baseline = { cluster: await startCluster(), bin: `${BASELINE}/supervisor/bin/clockwork.js`, root: BASELINE, logLevel: BASELINE_LOG_LEVEL };
    } finally {
      if (own === undefined) delete process.env.PG_CONFIG;
      else process.env.PG_CONFIG = own;
    }
  }
  const admin = new pg.Client({ connectionString: urlOf(cluster, "postgres") });
  await admin.connect();
  try {
    await admin.query("create database bench_graphile");
    const cw = await clockworkDatabase(cluster);
    const base = baseline === null ? null : await clockworkDatabase(baseline.cluster);
    const gw = new pg.Client({ connectionString: urlOf(cluster, "bench_graphile") });
    await gw.connect();
    const utils = await makeWorkerUtils({ connectionString: urlOf(cluster, "bench_graphile") });
    await utils.migrate();
    await utils.release();

    const graphileKey = (task: GraphileTask) => (task === "noop" ? "graphile-worker" : `graphile-worker (${task})`);
    const results = new Map<string, Round[]>([["clockwork", []], ...GRAPHILE_TASKS.map((t) => [graphileKey(t), []] as [string, Round[]])]);
    if (baseline !== null) results.set("baseline", []);
    const rounds = (system: string) => results.get(system)!;
    const turns: Array<[string, () => Promise<Round>]> = [
      ["clockwork", () => clockworkRound(current, cw, rounds("clockwork").length + 1)],
      ...GRAPHILE_TASKS.map((t) => [graphileKey(t), () => graphileRound(cluster, gw, t)] as [string, () => Promise<Round>]),
      ...(baseline !== null && base !== null ? [["baseline", () => clockworkRound(baseline!, base, rounds("baseline").length + 1)] as [string, () => Promise<Round>]] : []),
    ];
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate the order so no system always runs on a warmer (or busier) machine.
      for (let k = 0; k < turns.length; k++) {
        const [system, go] = turns[(k + round - 1) % turns.length]!;
        rounds(system).push(await go());
      }
      console.log(`round ${round}: ` + [...results].map(([system, xs]) => `${system} ${xs.at(-1)!.process.toFixed(2)} s`).join(", "));
    }
    const rate = (xs: Round[]) => JOBS / median(xs.map((x) => x.process));
    const enqueueRate = (xs: Round[]) => JOBS / median(xs.map((x) => x.enqueue));
    const history = await cw.query("select count(*) as n from clockwork.step_runs where state = 'succeeded'");
    console.log(`\n${JOBS} no-op jobs, concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds\n`);
    console.log("| | enqueue (jobs/s) | process (jobs/s) | keeps history |");
    console.log("| --- | --: | --: | --- |");
    console.log(`| clockwork (run_now + supervisor) | ${enqueueRate(rounds("clockwork")).toFixed(0)} | ${rate(rounds("clockwork")).toFixed(0)} | yes (${history.rows[0].n} step runs kept) |`);
    if (baseline !== null) console.log(`| baseline build (${BASELINE}) | ${enqueueRate(rounds("baseline")).toFixed(0)} | ${rate(rounds("baseline")).toFixed(0)} | yes |`);
    const taskText: Record<GraphileTask, string> = { noop: "task `async () => {}`", sql: "task `select 1` via helpers.query" };
    for (const t of GRAPHILE_TASKS) {
      console.log(`| graphile-worker 0.17 (add_job, local queue 500, ${taskText[t]}) | ${enqueueRate(rounds(graphileKey(t))).toFixed(0)} | ${rate(rounds(graphileKey(t))).toFixed(0)} | no (jobs deleted) |`);
    }
    const ratio = (a: string, b: string, label: string) =>
      console.log(`| ratio ${label} | ${(enqueueRate(rounds(a)) / enqueueRate(rounds(b))).toFixed(2)}× | ${(rate(rounds(a)) / rate(rounds(b))).toFixed(2)}× | |`);
    for (const t of GRAPHILE_TASKS) {
      const target = t === "noop" ? " (target ≥ 1.0)" : " (information)";
      ratio("clockwork", graphileKey(t), `clockwork / ${graphileKey(t)}${target}`);
      if (baseline !== null) ratio("baseline", graphileKey(t), `baseline / ${graphileKey(t)}`);
    }
    if (baseline !== null) ratio("clockwork", "baseline", "clockwork / baseline");
    console.log("\n| CPU from the enqueue to the last completion, median µs/job | server (not the enqueuing backend) | worker process | both |\n| --- | --: | --: | --: |");
    for (const [system, xs] of results) {
      const server = median(xs.map((x) => x.serverMs)) * 1000 / JOBS;
      const worker = median(xs.map((x) => x.workerMs)) * 1000 / JOBS;
      const name = system === "clockwork" || system === "baseline" ? `${system} (the supervisor)` : `${system} (this process)`;
      console.log(`| ${name} | ${server.toFixed(0)} | ${worker.toFixed(0)} | ${(server + worker).toFixed(0)} |`);
    }
    await cw.end();
    await base?.end();
    await gw.end();
  } finally {
    await admin.end();
    cluster.stop();
    baseline?.cluster.stop();
  }
}

await main();
