// Where a run_now burst's time goes (not a test: figures for docs/benchmarks.md, "Where the
// time goes"). One supervisor at --concurrency 10 processes N no-op SQL steps on a cluster
// with pg_stat_statements (track = all, so the statements inside PL/v8 functions count too);
// prints the processing rate, the CPU time the burst cost in each process (from /proc: the
// supervisor, its tick connection, the owners' connections that run the steps), then the
// statements by total server time, then the cost of tick's claim and of its reports per
// step in one batch of N (no supervisor).
//   npx tsx test/bench/hot-path.ts [--jobs 3000] [--concurrency 10] [--claim-ahead N|auto] [--cpu-prof DIR]
// --cpu-prof DIR writes the supervisor's V8 CPU profile there (node --cpu-prof).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, sleep, textArg } from "./support.ts";

const JOBS = arg("--jobs", 3000);
const CONCURRENCY = arg("--concurrency", 10);
const CLAIM_AHEAD = textArg("--claim-ahead") ?? "auto";
const CPU_PROF = textArg("--cpu-prof");
const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));
const NOOP = { name: "noop", policies: { max_instances: 100000 }, steps: [{ name: "a", sql: "select 1" }] };

const cluster = await startCluster({ settings: { shared_preload_libraries: "'pg_stat_statements'", "pg_stat_statements.track": "all" } });
async function database(name: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: cluster.url("postgres") });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const client = new pg.Client({ connectionString: cluster.url(name) });
  await client.connect();
  await client.query("create extension if not exists pg_stat_statements; create extension clockwork_v8; create extension clockwork");
  await client.query("select clockwork.define_job($1::jsonb)", [JSON.stringify(NOOP)]);
  return client;
}
const count = async (c: pg.Client, sql: string, params: unknown[] = []) => Number((await c.query(sql, params)).rows[0].n);
/** CPU time (user + system) a process has used, in ms (Linux; 0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks of 10 ms
  } catch {
    return 0;
  }
}

try {
  // 1. A burst through a real supervisor, with every statement counted.
  const c = await database("hot_path");
  const supervisor = spawn(process.execPath, [...(CPU_PROF !== null ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : []), bin, "supervisor", "--name", "hot", "--concurrency", String(CONCURRENCY),
    "--claim-ahead", String(CLAIM_AHEAD), "--http-port", "off", "--log-level", "warn"],
  { cwd: root, env: { ...process.env, DATABASE_URL: cluster.url("hot_path") }, stdio: ["ignore", "ignore", "inherit"] });
  while (await count(c, "select count(*) as n from clockwork.workers where stopped_at is null") < 1) await sleep(50);
  await sleep(800);
  await c.query("select pg_stat_statements_reset()");
  // CPU of the supervisor and of every backend of the database but this one; backends are
  // told apart at the end by what they last ran (owner connections open on first use).
  const backends = async () => (await c.query("select pid, query from pg_stat_activity where datname = 'hot_path' and pid <> pg_backend_pid()")).rows as { pid: number; query: string }[];
  const cpuBefore = new Map([[supervisor.pid!, cpuMs(supervisor.pid!)], ...(await backends()).map((b) => [b.pid, cpuMs(b.pid)] as [number, number])]);
  const t0 = performance.now();
  await c.query("select clockwork.run_now('noop') from generate_series(1, $1)", [JOBS]);
  const t1 = performance.now();
  while (await count(c, "select count(*) as n from clockwork.runs where state = 'succeeded'") < JOBS) await sleep(20);
  const t2 = performance.now();
  const used = (pid: number) => cpuMs(pid) - (cpuBefore.get(pid) ?? 0);
  const cpuUsed = new Map<string, { ms: number; n: number }>([["the supervisor (Node)", { ms: used(supervisor.pid!), n: 1 }]]);
  for (const b of await backends()) {
    const kind = /clockwork\.tick\(/.test(b.query) ? "its tick connection" : /^BEGIN;|RESET ALL|DISCARD SEQUENCES/.test(b.query) ? "the owners' connections (the steps)" : "its other connections";
    const entry = cpuUsed.get(kind) ?? { ms: 0, n: 0 };
    cpuUsed.set(kind, { ms: entry.ms + used(b.pid), n: entry.n + 1 });
  }
  supervisor.kill("SIGTERM");
  await new Promise((r) => supervisor.once("exit", r));
  console.log(`${JOBS} no-op SQL steps, concurrency ${CONCURRENCY}, claim ahead ${CLAIM_AHEAD}: enqueue ${((t1 - t0) / 1000).toFixed(2)} s, process ${((t2 - t1) / 1000).toFixed(2)} s = ${(JOBS / ((t2 - t1) / 1000)).toFixed(0)} jobs/s\n`);
  console.log("| CPU from run_now to the last run's end (not run_now's own backend) | ms | µs/job |\n| --- | --: | --: |");
  for (const [k, { ms, n }] of cpuUsed) console.log(`| ${k} (${n}) | ${ms} | ${(ms / JOBS * 1000).toFixed(0)} |`);
  console.log("");
  console.log("| calls | total ms | ms/call | ms/job | statement |\n| --: | --: | --: | --: | --- |");
  const top = await c.query(`
    select calls, total_exec_time, mean_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) as q
      from pg_stat_statements
     where query not like '%pg_stat_statements%' and query not like '%count(*) as n%'
     order by total_exec_time desc limit 25`);
  for (const r of top.rows) {
    console.log(`| ${r.calls} | ${Number(r.total_exec_time).toFixed(0)} | ${Number(r.mean_exec_time).toFixed(3)} | ${(Number(r.total_exec_time) / JOBS).toFixed(3)} | \`${String(r.q).replaceAll("|", "\\|")}\` |`);
  }
  await c.end();

  // 2. tick alone, one batch of JOBS: the claim, the steps' fenced finishes, the reports.
  const d = await database("hot_path_batch");
  await d.query("select clockwork.register_worker('w')");
  await d.query("select clockwork.tick('w', 0)");
  console.log("\n| batch | claim µs/step | finish µs/step | report µs/step |\n| --: | --: | --: | --: |");
  for (let round = 1; round <= 3; round++) {
    await d.query("select clockwork.run_now('noop') from generate_series(1, $1)", [JOBS]);
    await d.query("vacuum analyze clockwork.runs, clockwork.step_runs");
    let t = performance.now();
    const claimed = (await d.query("select clockwork.tick('w', $1) as t", [JOBS])).rows[0].t.claimed as { step_run_id: string; sql: { claim: string } }[];
    const claimMs = performance.now() - t;
    t = performance.now();
    for (const cl of claimed) await d.query("select clockwork._finish_sql_step($1, $2)", [cl.step_run_id, cl.sql.claim]);
    const finishMs = performance.now() - t;
    const reports = claimed.map((cl) => ({ step_run: cl.step_run_id, claim: cl.sql.claim, outcome: "succeeded", rows: [{ "?column?": 1 }], committed: true }));
    t = performance.now();
    await d.query("select clockwork.tick('w', 0, now(), 0, $1::jsonb)", [JSON.stringify(reports)]);
    const reportMs = performance.now() - t;
    const per = (ms: number) => (ms / claimed.length * 1000).toFixed(0);
    console.log(`| ${claimed.length} (round ${round}) | ${per(claimMs)} | ${per(finishMs)} | ${per(reportMs)} |`);
  }
  await d.end();
} finally {
  cluster.stop();
}
