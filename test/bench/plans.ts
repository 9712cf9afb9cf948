// Plans that go wrong with the data (not a test: figures for docs/benchmarks.md, "Plans
// made on empty tables"). Two situations a real install meets:
//  1. The tables are empty and analyzed (a new install after VACUUM ANALYZE) while a
//     supervisor's session makes its plans; then the history grows (a burst, a restore)
//     before autovacuum analyzes again. Measured end to end: one session runs eight seconds
//     of an every-second job (firing tick, the step, the report's tick) on the empty tables,
//     runs and step_runs grow by --history rows without ANALYZE, and the same session's
//     ticks are timed for eight more seconds. Then, for some statements of those ticks, the
//     EXPLAIN ANALYZE time of the plan made on the empty tables against a plan made again.
//     The job keeps its history (retention: forever), so no tick prunes it.
//  2. A burst after ANALYZE: the statistics say no step is running or awaiting its report,
//     and 3 000 are. EXPLAIN ANALYZE of the statements that settle one run's step runs.
// With --baseline DIR (a checkout of an earlier build) and --baseline-pg-config PATH (where
// it is installed), the baseline runs the same on a cluster of its own, with its own
// statement texts, taking turns.
//   npx tsx test/bench/plans.ts [--history 200000] [--baseline DIR --baseline-pg-config PATH]
import { join, resolve } from "node:path";
import pg from "pg";
import { type Cluster, startCluster } from "../support/cluster.ts";
import type { Statement } from "../../extension/src/db/query.ts";
import { SQL as THIS_SQL } from "../../extension/src/db/statements.ts";
import { SQLSTATE } from "../../extension/src/core/index.ts";
import { arg, median, sleep, textArg } from "./support.ts";

const HISTORY = arg("--history", 200_000);
const BASELINE = textArg("--baseline");
const BASELINE_PG_CONFIG = textArg("--baseline-pg-config");
const BURST = 3000;

type Statements = Record<string, Statement>;

async function withPgConfig<T>(path: string | null, f: () => Promise<T>): Promise<T> {
  if (path === null) return f();
  const own = process.env.PG_CONFIG;
  process.env.PG_CONFIG = path;
  try {
    return await f();
  } finally {
    if (own === undefined) delete process.env.PG_CONFIG;
    else process.env.PG_CONFIG = own;
  }
}

async function connect(cluster: Cluster): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.url("postgres") });
  await client.connect();
  return client;
}

/** Milliseconds of the statement's execution, from EXPLAIN ANALYZE, in a rolled-back transaction. */
async function explainMs(client: pg.Client, args: string): Promise<{ ms: number; indexes: string }> {
  await client.query("begin");
  try {
    const plan = (await client.query(`explain (analyze, format json) execute probe${args}`)).rows[0]["QUERY PLAN"][0];
    const text = JSON.stringify(plan.Plan);
    const scans = [...text.matchAll(/"Index Name":"(\w+)"|"Node Type":"Seq Scan","[^}]*?"Relation Name":"(\w+)"/g)]
      .map((m) => m[1] ?? `Seq Scan on ${m[2]}`);
    return { ms: plan["Execution Time"] as number, indexes: [...new Set(scans)].join(", ") };
  } finally {
    await client.query("rollback");
  }
}

interface Figures {
  firingTickMs: number[];
  reportTickMs: number[];
  statements: { name: string; kept: string; remade: string }[];
  byRun: { name: string; mode: string; ms: string; reads: string }[];
}

/**
 * HISTORY runs of the database's one job, finished a day ago, each with its succeeded step
 * run (runs of the last hour, the bench's own, get none).
 */
async function addHistory(client: pg.Client): Promise<void> {
  await client.query(`
    insert into clockwork.runs (job_id, job_version, trigger, state, created_at, queued_at, started_at, finished_at)
    select j.id, j.version, 'manual', 'succeeded', t, t, t, t
      from clockwork.jobs as j, generate_series(1, $1::integer), lateral (select now() - interval '1 day' as t) as at`, [HISTORY]);
  await client.query(`
    insert into clockwork.step_runs (run_id, step, instance, phase, kind, attempt, state, started_at, finished_at)
    select r.id, 'a', 'a', 'step', 'sql', 1, 'succeeded', r.started_at, r.finished_at
      from clockwork.runs as r where r.finished_at < now() - interval '1 hour'`);
}

/** Situation 1, end to end and by statement. */
async function madeOnEmptyTables(cluster: Cluster, sql: Statements, figures: Figures): Promise<void> {
  const admin = await connect(cluster);
  await admin.query("create extension clockwork_v8; create extension clockwork");
  await admin.query("alter table clockwork.runs set (autovacuum_enabled = off)");
  await admin.query("alter table clockwork.step_runs set (autovacuum_enabled = off)");
  await admin.query("select clockwork.register_worker('w1')");
  await admin.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "every-second", schedules: ["* * * * * *"], policies: { retention: "forever" }, steps: [{ name: "a", sql: "select 1" }] })]);
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  await admin.query("vacuum analyze");
  const session = await connect(cluster);
  const owner = await connect(cluster);
  // The probes of the statements: prepared on the empty tables too, their generic plan made now.
  const probes = ["activeRuns", "lockRuns", "stepRunsOfRuns"].filter((n) => sql[n] !== undefined);
  const probeClients = new Map<string, pg.Client>();
  for (const name of probes) {
    const client = await connect(cluster);
    await client.query("set plan_cache_mode = force_generic_plan");
    await client.query(`prepare probe (${sql[name]!.types.join(", ")}) as ${sql[name]!.text}`);
    await explainMs(client, "('{1}')");
    probeClients.set(name, client);
  }
  const second = async (i: number): Promise<{ firing: number; report: number }> => {
    // Real time (a step's fenced finish refuses a transaction begun before the step's start).
    await sleep(Math.max(0, start + i * 1000 + 20 - Date.now()));
    let t = performance.now();
    const claimed = (await session.query("select clockwork.tick('w1', 10) as t")).rows[0].t.claimed;
    const firing = performance.now() - t;
    for (const c of claimed) await owner.query("select clockwork._finish_sql_step($1, $2)", [c.step_run_id, c.sql.claim]);
    const reports = claimed.map((c: any) => ({ step_run: c.step_run_id, claim: c.sql.claim, outcome: "succeeded", rows: [], committed: true }));
    t = performance.now();
    await session.query("select clockwork.tick('w1', 0, now(), 0, $1::jsonb)", [JSON.stringify(reports)]);
    return { firing, report: performance.now() - t };
  };
  for (let i = 0; i < 8; i++) await second(i);
  await addHistory(admin);
  await sleep(1100); // past the session's next look at the tables' sizes (db/query.ts), if it has one
  const grown = Math.ceil((Date.now() - start) / 1000);
  for (let i = grown; i < grown + 8; i++) {
    const { firing, report } = await second(i);
    figures.firingTickMs.push(firing);
    figures.reportTickMs.push(report);
  }
  const jobId = String((await admin.query("select id from clockwork.jobs")).rows[0].id);
  const runIds = (await admin.query("select array_agg(id)::text as ids from (select id from clockwork.runs order by id desc limit 1) as r")).rows[0].ids;
  for (const name of probes) {
    const client = probeClients.get(name)!;
    const args = name === "activeRuns" ? `('{${jobId}}')` : `('${runIds}')`;
    const kept = await explainMs(client, args);
    await client.query("deallocate probe");
    await client.query(`prepare probe (${sql[name]!.types.join(", ")}) as ${sql[name]!.text}`);
    const remade = await explainMs(client, args);
    figures.statements.push({ name, kept: `${kept.ms.toFixed(3)} ms (${kept.indexes})`, remade: `${remade.ms.toFixed(3)} ms (${remade.indexes})` });
    await client.end();
  }
  await session.end();
  await owner.end();
  await admin.end();
}

/** Situation 2: a burst after ANALYZE; the statements that settle one run's step runs. */
async function afterABurst(cluster: Cluster, sql: Statements, figures: Figures): Promise<void> {
  const admin = await connect(cluster);
  await admin.query("create database burst");
  const client = new pg.Client({ connectionString: cluster.url("burst") });
  await client.connect();
  await client.query("create extension clockwork_v8; create extension clockwork");
  await client.query("select clockwork.register_worker('w1')");
  await client.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "burst", policies: { max_instances: 100000 }, steps: [{ name: "a", sql: "select 1" }] })]);
  await addHistory(client);
  await client.query("vacuum analyze clockwork.runs, clockwork.step_runs");
  await client.query("select clockwork.run_now('burst') from generate_series(1, $1)", [BURST]);
  const claimed = (await client.query("select clockwork.tick('w1', $1) as t", [BURST])).rows[0].t.claimed;
  // Half of them finished by their owner and not yet reported (awaiting_report), half running.
  for (const c of claimed.slice(0, claimed.length / 2)) await client.query("select clockwork._finish_sql_step($1, $2)", [c.step_run_id, c.sql.claim]);
  const awaiting = claimed[0].run_id;
  const running = claimed.at(-1).run_id;
  const cases: [string, string][] = [
    // Builds from before KW038 take five arguments.
    ["expireLeasesOfRun", `('${running}', now() + interval '1 hour', 3, false, '{}'${sql.expireLeasesOfRun!.types.length > 5 ? `, '${SQLSTATE.handed_back_at_shutdown}'` : ""})`],
    ["settleUnreported", `('{${awaiting}}', now() + interval '1 hour')`],
    ["runningStepRuns", `('${running}', '{a}')`],
    ["cancelRunningInstances", `('${running}', '{a}', now(), 'x', 'cancelled', false)`],
  ];
  for (const [name, args] of cases) {
    for (const mode of ["force_generic_plan", "force_custom_plan"]) {
      await client.query(`set plan_cache_mode = ${mode}`);
      await client.query(`prepare probe (${sql[name]!.types.join(", ")}) as ${sql[name]!.text}`);
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await explainMs(client, args));
      await client.query("deallocate probe");
      figures.byRun.push({ name, mode: mode.replace("force_", "").replace("_plan", ""), ms: median(runs.map((r) => r.ms)).toFixed(3), reads: runs[0]!.indexes });
    }
  }
  await client.end();
  await admin.end();
}

const builds: { name: string; sql: Statements; pgConfig: string | null; figures: Figures }[] = [
  { name: "this build", sql: THIS_SQL as unknown as Statements, pgConfig: null, figures: { firingTickMs: [], reportTickMs: [], statements: [], byRun: [] } },
];
if (BASELINE !== null && BASELINE_PG_CONFIG !== null) {
  const { SQL } = await import(join(resolve(BASELINE), "extension/src/db/statements.ts"));
  builds.push({ name: `baseline (${BASELINE})`, sql: SQL, pgConfig: BASELINE_PG_CONFIG, figures: { firingTickMs: [], reportTickMs: [], statements: [], byRun: [] } });
}
const clusters: Cluster[] = [];
try {
  for (const b of builds) {
    const cluster = await withPgConfig(b.pgConfig, () => startCluster());
    clusters.push(cluster);
    await madeOnEmptyTables(cluster, b.sql, b.figures);
    await afterABurst(cluster, b.sql, b.figures);
    console.log(`${b.name}: done`);
  }
  console.log(`\n1. Plans made on empty, analyzed tables; then ${HISTORY} runs and step runs of history, not analyzed. Wall ms of the same session's ticks over 8 seconds (median, max):\n`);
  console.log("| build | firing tick | report's tick |\n| --- | --: | --: |");
  for (const b of builds) {
    const f = (xs: number[]) => `${median(xs).toFixed(2)} (max ${Math.max(...xs).toFixed(2)})`;
    console.log(`| ${b.name} | ${f(b.figures.firingTickMs)} | ${f(b.figures.reportTickMs)} |`);
  }
  console.log("\nEXPLAIN ANALYZE, the generic plan made on the empty tables against one made on the grown tables (what db/query.ts now does once a table doubled):\n");
  console.log("| statement | plan made on empty tables | plan made again |\n| --- | --- | --- |");
  for (const s of builds[0]!.figures.statements) console.log(`| ${s.name} | ${s.kept} | ${s.remade} |`);
  console.log(`\n2. A burst of ${BURST} after ANALYZE on ${HISTORY} runs of history: EXPLAIN ANALYZE ms (median of 5) of one run's step runs, and what the plan reads:\n`);
  console.log(`| statement | plan | ${builds.map((b) => b.name).join(" | ")} |\n| --- | --- |${builds.map(() => " --- |").join("")}`);
  for (let i = 0; i < builds[0]!.figures.byRun.length; i++) {
    const row = builds[0]!.figures.byRun[i]!;
    console.log(`| ${row.name} | ${row.mode} | ${builds.map((b) => `${b.figures.byRun[i]!.ms} (${b.figures.byRun[i]!.reads})`).join(" | ")} |`);
  }
} finally {
  for (const c of clusters) c.stop();
}
