// The tick that fires one slot and claims its step, statement by statement (not a test:
// a probe for docs/benchmarks.md, "The supervisor"). One every-second job; 50 ms before
// each slot a tick with a lookahead of 100 ms fires and claims it, as a supervisor does;
// then an empty tick. Prints both ticks' medians and the statements inside them by
// server time (pg_stat_statements, track = all, planning counted: a statement planned on
// every call shows plans = calls). --idle-jobs N first defines and drops N yearly jobs,
// as supervisor.ts does before its lag phase. CLOCKWORK_TEST_RUNTIME=plv8 runs it on the
// real PL/v8 (make plv8 installs it), as the test suites do.
//   npx tsx test/bench/tick-probe.ts [--slots 20] [--idle-jobs 0]
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { installClockworkSql, RUNTIME } from "../support/runtime.ts";
import { arg, sleep } from "./support.ts";

const idleJobs = arg("--idle-jobs", 0);
const slots = arg("--slots", 20);
const WARM_UP = 5;

const cluster = await startCluster({
  settings: { shared_preload_libraries: "'pg_stat_statements'", "pg_stat_statements.track": "all", "pg_stat_statements.track_planning": "on" },
});
const c = new pg.Client({ connectionString: cluster.url("postgres") });
try {
  await c.connect();
  await c.query(`create extension pg_stat_statements; ${installClockworkSql}`);
  await c.query("select clockwork.register_worker('probe')");
  if (idleJobs > 0) {
    await c.query("select clockwork.schedule('yearly-' || i, '0 0 1 1 *', 'select 1') from generate_series(1, $1) as i", [idleJobs]);
    await c.query("select clockwork.drop_job('yearly-' || i) from generate_series(1, $1) as i", [idleJobs]);
  }
  await c.query("select clockwork.schedule('every-second', '* * * * * *', 'select 1')");
  const firing: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < slots + WARM_UP; i++) {
    const intoSecond = Date.now() % 1000;
    await sleep((intoSecond < 900 ? 950 : 1950) - intoSecond);
    if (i === WARM_UP) await c.query("select pg_stat_statements_reset()");
    let t = performance.now();
    const claimed = (await c.query("select clockwork.tick('probe', 10, now(), 100, null) as t")).rows[0].t.claimed as { step_run_id: string }[];
    if (i >= WARM_UP) firing.push(performance.now() - t);
    t = performance.now();
    await c.query("select clockwork.tick('probe', 0, now(), 0, null)");
    if (i >= WARM_UP) empty.push(performance.now() - t);
    // The step is reported at once, so that the next slot fires (overlap: skip).
    for (const claim of claimed) await c.query("select clockwork.complete_step($1::bigint, 'probe', 0)", [claim.step_run_id]);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
  console.log(`${RUNTIME}, ${slots} slots, ${idleJobs} dropped jobs: firing tick median ${median(firing)} ms (max ${Math.max(...firing).toFixed(1)}), empty tick median ${median(empty)} ms\n`);
  console.log("| calls | plans | exec ms | plan ms | statement |\n| --: | --: | --: | --: | --- |");
  const top = await c.query(`
    select calls, plans, total_exec_time, total_plan_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as q
      from pg_stat_statements
     where query not like '%pg_stat_statements%'
     order by total_exec_time + total_plan_time desc limit 40`);
  for (const r of top.rows) {
    console.log(`| ${r.calls} | ${r.plans} | ${Number(r.total_exec_time).toFixed(1)} | ${Number(r.total_plan_time).toFixed(1)} | \`${String(r.q).replaceAll("|", "\\|")}\` |`);
  }
} finally {
  await c.end().catch(() => {});
  cluster.stop();
}
