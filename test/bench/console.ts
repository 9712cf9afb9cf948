// Page-load benchmark of the web console (`make bench-console`): every page's API answer,
// through the real console server and its database role, with 10 000 jobs and a million
// runs of history (30 days, skewed: 100 busy jobs hold half the runs). Not a test: it
// prints medians and p95s and asserts nothing.
//
// Baselines measured in the same run, side by side:
//   - the floor: /api/session, one trivial query through the same server and pool;
//   - the same pages without the console's indexes (runs_job_created_idx, runs_job_failed_idx,
//     skipped_slots_slot_idx), to show what each index buys.
// Two roles: the superuser (no row-level security: every row) and an owner of 50 jobs
// (row-level security checks each row it reads).
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { loadConsoleConfig } from "../../supervisor/src/console/config.ts";
import { startConsole } from "../../supervisor/src/console/main.ts";
import { median } from "./support.ts";

const JOBS = Number(process.env.BENCH_CONSOLE_JOBS ?? 10_000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 1_000_000);
const OWNED = 50;
const REPEATS = Number(process.env.BENCH_CONSOLE_REPEATS ?? 15);

const cluster = await startCluster({ settings: { shared_buffers: "'256MB'", work_mem: "'16MB'" } });
const url = cluster.url("postgres");
const admin = new pg.Client({ connectionString: url });
await admin.connect();

function p95(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))]!;
}

try {
  const t0 = Date.now();
  await admin.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork");
  await admin.query("DROP ROLE IF EXISTS bench_owner; CREATE ROLE bench_owner LOGIN");
  // Jobs through the SQL API: real definitions and schedules.
  for (let start = 1; start <= JOBS - OWNED; start += 2_500) {
    const end = Math.min(JOBS - OWNED, start + 2_499);
    await admin.query(
      `SELECT clockwork.define_job(jsonb_build_object(
                'name', 'job-' || lpad(i::text, 5, '0'),
                'schedules', jsonb_build_array(CASE WHEN i <= 100 THEN '* * * * *' ELSE (i % 60) || ' */' || (1 + i % 6) || ' * * *' END),
                'steps', jsonb_build_array(jsonb_build_object('name', 'main', 'sql', 'SELECT 1'))))
         FROM generate_series($1::int, $2::int) AS i`,
      [start, end],
    );
  }
  await admin.query("SET ROLE bench_owner");
  await admin.query(
    `SELECT clockwork.define_job(jsonb_build_object(
              'name', 'owned-' || lpad(i::text, 3, '0'), 'schedules', jsonb_build_array('*/5 * * * *'),
              'steps', jsonb_build_array(jsonb_build_object('name', 'main', 'sql', 'SELECT 1'))))
       FROM generate_series(1, $1::int) AS i`,
    [OWNED],
  );
  await admin.query("RESET ROLE");
  // A million runs over 30 days: half on the 100 busy jobs, the rest spread over all;
  // 3 % failed; one step run each (with a failure's error), newest 20 still running.
  await admin.query(`
    INSERT INTO clockwork.runs (job_id, job_version, schedule_id, slot_at, trigger, state, created_at, queued_at, started_at, finished_at, reason)
    SELECT j.id, 1, s.id, t.at, 'schedule', t.state, t.at, t.at, t.at + interval '2 ms',
           CASE WHEN t.state = 'running' THEN NULL ELSE t.at + (3 + random() * 3000) * interval '1 ms' END,
           CASE WHEN t.state = 'failed' THEN 'step "main" failed' END
      FROM (SELECT i,
                   CASE WHEN i % 2 = 0 THEN 1 + (i / 2) % 100 ELSE 1 + ((i / 2)::bigint * 7919) % $2 END AS n,
                   date_trunc('second', now() - interval '30 days') + (i * (30 * 86400.0 / $1)) * interval '1 second' AS at,
                   CASE WHEN i > $1 - 20 THEN 'running' WHEN i % 33 = 0 THEN 'failed' ELSE 'succeeded' END AS state
              FROM generate_series(1, $1::int) AS i) AS t
      JOIN clockwork.jobs AS j ON j.id = t.n
      JOIN clockwork.schedules AS s ON s.job_id = j.id AND s.position = 0`,
    [RUNS, JOBS]);
  // Each job's last ended run, as the run lifecycle keeps it (and the 1.0 → 1.1 upgrade fills it).
  await admin.query(`
    UPDATE clockwork.jobs AS j
       SET last_run_id = r.id, last_run_state = r.state, last_run_finished_at = r.finished_at
      FROM (SELECT DISTINCT ON (job_id) job_id, id, state, finished_at
              FROM clockwork.runs WHERE finished_at IS NOT NULL ORDER BY job_id, id DESC) AS r
     WHERE r.job_id = j.id`);
  await admin.query(`
    INSERT INTO clockwork.step_runs (run_id, step, instance, kind, attempt, state, started_at, finished_at, lease_expires_at, exit_code, sql_state, error)
    SELECT r.id, 'main', 'main', 'sql', 1, r.state, r.started_at, r.finished_at,
           CASE WHEN r.state = 'running' THEN now() + interval '30 s' END,
           NULL, CASE WHEN r.state = 'failed' THEN '22012' END, CASE WHEN r.state = 'failed' THEN 'division by zero' END
      FROM clockwork.runs AS r`);
  await admin.query(`
    INSERT INTO clockwork.skipped_slots (schedule_id, slot_at, last_slot_at, slots, reason, recorded_at)
    SELECT s.id, date_trunc('minute', now()) - (i * interval '1 minute'), date_trunc('minute', now()) - (i * interval '1 minute'), 1,
           'overlap_skipped', now()
      FROM generate_series(1, 50000) AS i
      JOIN clockwork.schedules AS s ON s.job_id = 1 + (i * 31) % $1`, [JOBS]);
  await admin.query("SELECT clockwork.register_worker('bench-worker')");
  await admin.query("UPDATE clockwork.step_runs SET worker_id = (SELECT id FROM clockwork.workers LIMIT 1) WHERE state = 'running'");
  await admin.query("VACUUM ANALYZE");
  const counts = (await admin.query("SELECT (SELECT count(*) FROM clockwork.jobs)::int AS jobs, (SELECT count(*) FROM clockwork.runs)::int AS runs")).rows[0];
  console.log(`console page loads: ${counts.jobs} jobs, ${counts.runs} runs, 50 000 skipped slots (set up in ${((Date.now() - t0) / 1000).toFixed(0)} s); median and p95 of ${REPEATS} loads, ms`);

  if (process.env.BENCH_CONSOLE_KEEP) {
    // For reading plans: leave the cluster up until interrupted.
    console.log(`cluster kept for inspection: psql ${url} (Ctrl-C stops it)`);
    await new Promise((resolve) => process.once("SIGINT", resolve));
    await admin.end();
    cluster.stop();
    process.exit(0);
  }
  const busy = (await admin.query("SELECT id::text FROM clockwork.jobs WHERE name = 'job-00001'")).rows[0].id;
  const ownedJob = (await admin.query("SELECT id::text FROM clockwork.jobs WHERE name = 'owned-001'")).rows[0].id;
  const failedRun = (await admin.query("SELECT max(id)::text AS id FROM clockwork.runs WHERE job_id = $1 AND state = 'failed'", [busy])).rows[0].id;
  const ownedRun = (await admin.query("SELECT max(id)::text AS id FROM clockwork.runs WHERE job_id = $1", [ownedJob])).rows[0].id;

  const pages = (job: string, run: string): [string, string][] => [
    ["floor: session", "/api/session"],
    ["summary", "/api/summary"],
    ["jobs, page 1", "/api/jobs"],
    ["jobs, page 100", "/api/jobs?offset=4950"],
    ["jobs, search", "/api/jobs?q=job-012"],
    ["jobs, failing", "/api/jobs?filter=failing"],
    ["jobs, running", "/api/jobs?filter=running"],
    ["job detail + runs", `/api/jobs/${job}`],
    ["job runs, older", `/api/jobs/${job}?before=${run}`],
    ["run detail", `/api/runs/${run}`],
    ["timeline 1h", "/api/timeline?span=1h"],
    ["timeline 24h", "/api/timeline?span=24h"],
    ["timeline 7d", "/api/timeline?span=7d"],
    ["failures 7d", "/api/failures?period=7d"],
    ["failures 30d", "/api/failures?period=30d"],
    ["skipped slots", "/api/skipped"],
    ["workers", "/api/workers"],
  ];

  async function measure(consoleUrl: string, list: [string, string][]): Promise<Map<string, number[]>> {
    const times = new Map<string, number[]>(list.map(([name]) => [name, []]));
    for (let i = 0; i < REPEATS + 2; i++) {
      for (const [name, path] of list) {
        if (times.get(name)!.some((x) => !Number.isFinite(x))) continue;
        const t = performance.now();
        const response = await fetch(new URL(path, consoleUrl));
        const body = await response.text();
        if (!response.ok) {
          // The console's statement_timeout (10 s): recorded as such, not as a figure.
          if (/canceling statement due to statement timeout/.test(body)) {
            times.get(name)!.push(Number.POSITIVE_INFINITY);
            continue;
          }
          throw new Error(`${path}: ${response.status} ${body}`);
        }
        if (i >= 2) times.get(name)!.push(performance.now() - t); // the first two warm caches
      }
    }
    return times;
  }

  const roles: [string, string, string, string][] = [
    ["superuser", url, busy, failedRun],
    ["owner of 50 jobs", cluster.url("postgres").replace("postgres@", "bench_owner@"), ownedJob, ownedRun],
  ];
  const results = new Map<string, Map<string, number[]>>();
  for (const [label, databaseUrl, job, run] of roles) {
    const consoleHandle = await startConsole(loadConsoleConfig(["--database-url", databaseUrl, "--port", "0"]), () => {});
    results.set(`${label}`, await measure(consoleHandle.server.url, pages(job, run)));
    await consoleHandle.stop();
  }
  // Without the console's indexes, as the superuser (the same pages, the same data).
  await admin.query("DROP INDEX clockwork.runs_job_created_idx, clockwork.runs_job_failed_idx, clockwork.skipped_slots_slot_idx");
  const withoutIndexes = await startConsole(loadConsoleConfig(["--database-url", url, "--port", "0"]), () => {});
  const noIndexPages = pages(busy, failedRun).filter(([name]) => /floor|timeline|failures|skipped/.test(name));
  results.set("superuser, without the console's indexes", await measure(withoutIndexes.server.url, noIndexPages));
  await withoutIndexes.stop();

  // The failing filter's condition as it was before the job row kept its last ended run
  // (a probe of every job's runs) and as it is (one column), the same data, side by side.
  const failingBefore = `SELECT count(*)::int AS n FROM clockwork.jobs AS j
     WHERE j.dropped_at IS NULL
       AND EXISTS (SELECT 1 FROM clockwork.runs AS r WHERE r.job_id = j.id AND r.state IN ('failed', 'timed_out'))
       AND (SELECT r.state FROM clockwork.runs AS r WHERE r.job_id = j.id ORDER BY r.id DESC LIMIT 1) IN ('failed', 'timed_out')`;
  const failingNow = `SELECT count(*)::int AS n FROM clockwork.jobs AS j
     WHERE j.dropped_at IS NULL AND j.last_run_state IN ('failed', 'timed_out')`;
  const timed = async (sql: string): Promise<{ ms: number[]; n: number }> => {
    const ms: number[] = [];
    let n = 0;
    for (let i = 0; i < REPEATS + 2; i++) {
      const t = performance.now();
      n = (await admin.query(sql)).rows[0].n;
      if (i >= 2) ms.push(performance.now() - t);
    }
    return { ms, n };
  };
  const before = await timed(failingBefore);
  const now = await timed(failingNow);
  console.log(`failing jobs, the filter's condition alone: per-job probe ${median(before.ms).toFixed(1)} ms (${before.n} jobs), ` +
    `jobs.last_run_state ${median(now.ms).toFixed(1)} ms (${now.n} jobs): ${(median(before.ms) / median(now.ms)).toFixed(1)}× faster`);

  const names = pages(busy, failedRun).map(([name]) => name);
  const columns = [...results.keys()];
  const figure = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : ">10 s").padStart(7);
  const cell = (xs: number[] | undefined) => (xs ? `${figure(median(xs))} ${figure(p95(xs))}` : "".padStart(15));
  console.log(`${"page".padEnd(20)}${columns.map((c) => c.slice(0, 30).padStart(32)).join("")}`);
  console.log(`${"".padEnd(20)}${columns.map(() => "   median     p95".padStart(32)).join("")}`);
  for (const name of names) {
    console.log(`${name.padEnd(20)}${columns.map((c) => cell(results.get(c)!.get(name)).padStart(32)).join("")}`);
  }
  const su = results.get("superuser")!;
  const floor = median(su.get("floor: session")!);
  const worst = Math.max(...names.filter((n) => !n.startsWith("floor")).flatMap((n) => [...results.values()].map((r) => (r.get(n) ? median(r.get(n)!) : 0)).slice(0, 2)));
  console.log(`slowest page median with indexes: ${worst.toFixed(1)} ms (${(worst / floor).toFixed(1)}× the ${floor.toFixed(1)} ms floor; target: well under 200 ms)`);
  const noIdx = results.get("superuser, without the console's indexes")!;
  for (const name of ["timeline 7d", "failures 7d", "failures 30d", "skipped slots"]) {
    const ratio = median(noIdx.get(name)!) / median(su.get(name)!);
    console.log(`${name}: ${Number.isFinite(ratio) ? `${ratio.toFixed(1)}×` : "past the 10 s statement timeout,"} slower without the console's indexes`);
  }
} finally {
  await admin.end();
  cluster.stop();
}
