// Benchmarks of the clockwork extension (`make bench-extension`), side by side in one run
// on a throwaway cluster. Not a test: it prints figures and ratios, asserts nothing.
//   1. tick with nothing due, at 1 000 and at 100 000 defined jobs (the due query must be
//      an index range scan, so the ratio should stay near 1);
//   2. 10 000 slots due at once: runs created per second, then no-op SQL steps claimed,
//      run and completed per second;
//   3. database work per simple run: statements executed and rows written.
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { median } from "./support.ts";
import { renderClaimedSqlStep, type ClaimedSqlStep } from "../../extension/src/core/sql-step.ts";

const SMALL = 1_000;
const LARGE = Number(process.env.BENCH_LARGE_JOBS ?? 100_000);
const BURST = Number(process.env.BENCH_BURST ?? 10_000);
const REPEATS = 5;
const DEFINED_AT = "2039-12-31T00:00:00Z";
const IDLE_AT = "2039-12-31T12:00:00Z";
const DUE_AT = "2040-01-01T00:00:00.500Z";

const fmt = (x: number, digits = 2) => x.toFixed(digits);

async function defineJobs(client: pg.Client, prefix: string, from: number, to: number, schedule: string): Promise<void> {
  // In chunks, so no single transaction holds thousands of definitions.
  for (let start = from; start <= to; start += 5_000) {
    const end = Math.min(to, start + 4_999);
    await client.query(
      `select clockwork.define_job(jsonb_build_object(
                'name', $1 || i, 'schedules', jsonb_build_array($2::text),
                'steps', jsonb_build_array(jsonb_build_object('name', 'a', 'sql', 'select 1'))), $5)
         from generate_series($3::int, $4::int) as i`,
      [prefix, schedule, start, end, DEFINED_AT],
    );
  }
}

async function timeTick(client: pg.Client, calls: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = process.hrtime.bigint();
    await client.query("select clockwork.tick('bench', 10, $1)", [IDLE_AT]);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

async function main(): Promise<void> {
  const cluster = await startCluster({
    settings: { shared_preload_libraries: "'pg_stat_statements'", "pg_stat_statements.track": "all" },
  });
  const admin = new pg.Client({ connectionString: cluster.url("postgres") });
  await admin.connect();
  try {
    await admin.query("create database bench_idle");
    await admin.query("create database bench_burst");
    const idle = new pg.Client({ connectionString: cluster.url("bench_idle") });
    const burst = new pg.Client({ connectionString: cluster.url("bench_burst") });
    await idle.connect();
    await burst.connect();
    for (const c of [idle, burst]) {
      await c.query("create extension clockwork_v8; create extension clockwork; create extension pg_stat_statements");
      await c.query("select clockwork.register_worker('bench')");
    }

    // 1. Idle tick cost.
    console.log(`defining ${SMALL} jobs…`);
    let t = Date.now();
    await defineJobs(idle, "idle-", 1, SMALL, "0 0 1 1 *");
    await idle.query("vacuum analyze");
    const definePerSecond = SMALL / ((Date.now() - t) / 1000);
    const idleSmall: number[] = [];
    for (let r = 0; r < REPEATS; r++) idleSmall.push(await timeTick(idle, 200));
    console.log(`defining ${LARGE - SMALL} more jobs…`);
    await defineJobs(idle, "idle-", SMALL + 1, LARGE, "0 0 1 1 *");
    await idle.query("vacuum analyze");
    const idleLarge: number[] = [];
    for (let r = 0; r < REPEATS; r++) idleLarge.push(await timeTick(idle, 200));
    // Measured again at the small size's place in the run, to show the noise.
    const plan = await idle.query(
      "explain (format json) select s.id from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where s.next_fire_at <= $1 order by s.next_fire_at limit 1000 for update of s skip locked",
      [IDLE_AT],
    );
    const usesIndex = JSON.stringify(plan.rows[0]).includes("schedules_due_idx");

    // 2. Burst: BURST slots due at the same instant.
    console.log(`defining ${BURST} jobs due at ${DUE_AT}…`);
    await defineJobs(burst, "burst-", 1, BURST, "0 0 1 1 *");
    await burst.query("vacuum analyze");
    await burst.query("select pg_stat_statements_reset()");
    const stats = async () =>
      (await burst.query(`select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint as written
                            from pg_stat_user_tables where schemaname = 'clockwork'`)).rows[0].written as string;
    const writtenBefore = Number(await stats());
    t = Date.now();
    let fired = 0;
    for (;;) {
      await burst.query("select clockwork.tick('bench', 0, $1)", [DUE_AT]);
      const { rows } = await burst.query("select count(*)::int as n from clockwork.runs");
      if (rows[0].n === fired) break;
      fired = rows[0].n;
    }
    const fireSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    let completed = 0;
    let reports: object[] = [];
    for (;;) {
      // As a supervisor does: each tick carries the reports of the steps run since the last.
      const { rows } = await burst.query("select clockwork.tick('bench', 200, $1, 0, $2::jsonb) as t", [DUE_AT, JSON.stringify(reports)]);
      const claimed = rows[0].t.claimed as (ClaimedSqlStep & { sql: { claim: string } })[];
      reports = [];
      if (claimed.length === 0) break;
      for (const claim of claimed) {
        // The step's own message (the job's owner is this session's role): its statement,
        // its finish and the session reset, in one round trip.
        await burst.query(renderClaimedSqlStep(claim).messages[0]!);
        reports.push({ step_run: claim.step_run_id, claim: claim.sql.claim, outcome: "succeeded", rows: [] });
        completed++;
      }
    }
    const stepSeconds = (Date.now() - t) / 1000;
    const succeeded = (await burst.query("select count(*)::int as n from clockwork.runs where state = 'succeeded'")).rows[0].n;
    // pg_stat_user_tables is updated at transaction end, with a little delay.
    await new Promise((r) => setTimeout(r, 700));
    const written = Number(await stats()) - writtenBefore;
    const statements = (await burst.query(
      `select sum(calls)::bigint as n from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query not ilike '%pg_stat%' and query not ilike '%count(*)%'`,
    )).rows[0].n;

    console.log("\nclockwork extension benchmark (median of " + REPEATS + " × 200 ticks where timed)\n");
    console.log("| measurement | figure |");
    console.log("| --- | --- |");
    console.log(`| define_job throughput | ${fmt(definePerSecond, 0)} jobs/s |`);
    console.log(`| tick, nothing due, ${SMALL} jobs | ${fmt(median(idleSmall), 3)} ms |`);
    console.log(`| tick, nothing due, ${LARGE} jobs | ${fmt(median(idleLarge), 3)} ms |`);
    console.log(`| ratio ${LARGE} / ${SMALL} (target ≤ 1.5) | ${fmt(median(idleLarge) / median(idleSmall))}× |`);
    console.log(`| due query uses schedules_due_idx | ${usesIndex} |`);
    console.log(`| ${BURST} slots due at once: runs created | ${fired} in ${fmt(fireSeconds)} s = ${fmt(fired / fireSeconds, 0)} runs/s |`);
    console.log(`| no-op SQL steps claimed, run, completed (1 connection) | ${completed} in ${fmt(stepSeconds)} s = ${fmt(completed / stepSeconds, 0)} steps/s |`);
    console.log(`| runs succeeded | ${succeeded} |`);
    console.log(`| statements per simple run (all levels, pg_stat_statements) | ${fmt(Number(statements) / fired, 1)} |`);
    console.log(`| rows written per simple run (ins + upd + del) | ${fmt(written / fired, 1)} |`);
    await idle.end();
    await burst.end();
  } finally {
    await admin.end();
    cluster.stop();
  }
}

await main();
