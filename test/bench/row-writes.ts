// What the writes of a no-op SQL step cost in the database, process by process, with no
// supervisor in between (not a test: figures for docs/benchmarks.md, "One CHECK per
// table"). Per round: N run_now in one statement (CPU of that backend per call), one tick
// claiming all N, then on one owner connection the step's message as a supervisor sends it
// (core/sql-step.ts), half of them without the fenced finish and half with it, then one
// tick taking all N reports. CPU is read from /proc/PID/schedstat (nanoseconds on the CPU),
// so a figure does not count the time a backend waited for a core.
// With --baseline-pg-config, an earlier build installed there runs the same rounds on a
// cluster of its own, taking turns; medians of the rounds. With --baseline DIR too (a
// checkout of that build, as throughput.ts takes), its messages are rendered by that
// checkout's renderer, so a change of the message itself shows; without it both builds
// get this checkout's message.
//   npx tsx test/bench/row-writes.ts [--jobs 2000] [--rounds 5] [--baseline DIR] [--baseline-pg-config PATH]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { renderClaimedSqlStep, type ClaimedSqlStep } from "../../extension/src/core/sql-step.ts";
import { arg, median, textArg } from "./support.ts";

const JOBS = arg("--jobs", 2000);
const ROUNDS = arg("--rounds", 5);
const BASELINE_PG_CONFIG = textArg("--baseline-pg-config");
const BASELINE_DIR = textArg("--baseline");
type Render = typeof renderClaimedSqlStep;
const NOOP = { name: "noop", policies: { max_instances: 100000 }, steps: [{ name: "a", sql: "select 1" }] };

/** CPU time a process has been on a core, in µs. */
function cpuUs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
}

interface Build {
  name: string;
  cluster: Cluster;
  scheduler: pg.Client;
  owner: pg.Client;
  schedulerPid: number;
  ownerPid: number;
  /** The renderer of the step's message this build sends. */
  render: Render;
}

async function build(name: string, cluster: Cluster, render: Render): Promise<Build> {
  const connect = async () => {
    const client = new pg.Client({ connectionString: cluster.url("postgres") });
    await client.connect();
    return client;
  };
  const scheduler = await connect();
  await scheduler.query("create extension clockwork_v8; create extension clockwork");
  await scheduler.query("select clockwork.define_job($1::jsonb)", [JSON.stringify(NOOP)]);
  await scheduler.query("select clockwork.register_worker('w')");
  await scheduler.query("select clockwork.tick('w', 0)");
  const owner = await connect();
  const pid = async (c: pg.Client) => Number((await c.query("select pg_backend_pid() as p")).rows[0].p);
  return { name, cluster, scheduler, owner, schedulerPid: await pid(scheduler), ownerPid: await pid(owner), render };
}

interface Round { runNow: number; plain: number; full: number; report: number }

async function round(b: Build): Promise<Round> {
  let cpu = cpuUs(b.schedulerPid);
  await b.scheduler.query("select clockwork.run_now('noop') from generate_series(1, $1)", [JOBS]);
  const runNow = (cpuUs(b.schedulerPid) - cpu) / JOBS;
  await b.scheduler.query("vacuum analyze clockwork.runs, clockwork.step_runs");
  const claimed = (await b.scheduler.query("select clockwork.tick('w', $1) as t", [JOBS])).rows[0].t.claimed as ClaimedSqlStep[];
  const half = Math.floor(claimed.length / 2);
  // The same message without the finish (as for a step on another database), then with it.
  cpu = cpuUs(b.ownerPid);
  for (const claim of claimed.slice(0, half)) {
    await b.owner.query(b.render({ ...claim, sql: { ...claim.sql!, exactly_once: false } }).messages[0]!);
  }
  const plain = (cpuUs(b.ownerPid) - cpu) / half;
  cpu = cpuUs(b.ownerPid);
  for (const claim of claimed.slice(half)) await b.owner.query(b.render(claim).messages[0]!);
  const full = (cpuUs(b.ownerPid) - cpu) / (claimed.length - half);
  for (const claim of claimed.slice(0, half)) await b.owner.query("select clockwork._finish_sql_step($1, $2)", [claim.step_run_id, claim.sql!.claim]);
  const reports = claimed.map((c) => ({ step_run: c.step_run_id, claim: c.sql!.claim, outcome: "succeeded", rows: [{ "?column?": 1 }], committed: true }));
  cpu = cpuUs(b.schedulerPid);
  await b.scheduler.query("select clockwork.tick('w', 0, now(), 0, $1::jsonb)", [JSON.stringify(reports)]);
  const report = (cpuUs(b.schedulerPid) - cpu) / claimed.length;
  return { runNow, plain, full, report };
}

const clusters: Cluster[] = [];
try {
  const builds: Build[] = [];
  clusters.push(await startCluster());
  builds.push(await build("this build", clusters[0]!, renderClaimedSqlStep));
  if (BASELINE_PG_CONFIG !== null) {
    const own = process.env.PG_CONFIG;
    process.env.PG_CONFIG = BASELINE_PG_CONFIG;
    try {
      clusters.push(await startCluster());
    } finally {
      if (own === undefined) delete process.env.PG_CONFIG;
      else process.env.PG_CONFIG = own;
    }
    const render: Render = BASELINE_DIR === null ? renderClaimedSqlStep
      : (await import(pathToFileURL(join(BASELINE_DIR, "extension/src/core/sql-step.ts")).href)).renderClaimedSqlStep;
    builds.push(await build(`baseline (${BASELINE_DIR ?? BASELINE_PG_CONFIG})`, clusters[1]!, render));
  }
  const results = new Map<Build, Round[]>(builds.map((b) => [b, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const b of r % 2 === 1 ? builds : [...builds].reverse()) results.get(b)!.push(await round(b));
    console.log(`round ${r}: ${builds.map((b) => `${b.name} message ${results.get(b)!.at(-1)!.full.toFixed(0)} µs`).join(", ")}`);
  }
  console.log(`\n${JOBS} no-op SQL steps a round, µs of CPU per step, median of ${ROUNDS} rounds\n`);
  console.log("| build | run_now | message without finish | message with finish | the finish | reports (tick) |\n| --- | --: | --: | --: | --: | --: |");
  for (const b of builds) {
    const rs = results.get(b)!;
    const m = (f: (r: Round) => number) => median(rs.map(f)).toFixed(0);
    console.log(`| ${b.name} | ${m((r) => r.runNow)} | ${m((r) => r.plain)} | ${m((r) => r.full)} | ${m((r) => r.full - r.plain)} | ${m((r) => r.report)} |`);
  }
  for (const b of builds) { await b.owner.end(); await b.scheduler.end(); }
} finally {
  for (const c of clusters) c.stop();
}
