// Due → start lag of SQL steps, Clockwork against pg_cron 1.4.2 (Debian's
// postgresql-15-cron) on the same cluster in the same run. Not a test: figures only.
//   npx tsx test/bench/lag.ts [--minute-jobs 1000] [--minutes 2] [--second-jobs 100] [--seconds 10]
// Every job inserts clock_timestamp() into a table; lag = that time minus the slot.
// pg_cron has no sub-minute schedules, so the two are compared on the every-minute load;
// the every-second load is Clockwork's alone. The same two loads of shell steps
// (`date +%s.%N`, lag = the printed time minus the slot) are Clockwork's alone too
// (pg_cron has no shell steps). The systems take turns, never running at once.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, percentiles, sleep } from "./support.ts";

const MINUTE_JOBS = arg("--minute-jobs", 1000);
const MINUTES = arg("--minutes", 2);
const SECOND_JOBS = arg("--second-jobs", 100);
const SECONDS = arg("--seconds", 10);
const SHELL_MINUTES = arg("--shell-minutes", 1);
const CONCURRENCY = 10;
const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

/** Sleeps until `offsetMs` after the start of the next minute. */
async function untilNextMinute(offsetMs = 0): Promise<number> {
  const now = Date.now();
  const next = Math.ceil(now / 60_000) * 60_000;
  await sleep(next + offsetMs - now);
  return next;
}

async function lags(client: pg.Client, table: string, unit: "minute" | "second", from: number, to: number) {
  const { rows } = await client.query(
    `SELECT extract(epoch FROM at - date_trunc('${unit}', at)) * 1000 AS ms FROM ${table}
      WHERE at >= $1 AND at < $2`,
    [new Date(from), new Date(to)],
  );
  return percentiles(rows.map((r) => Number(r.ms)));
}

/** Shell steps print `date +%s.%N` when they start: lag = that minus the slot. */
async function shellLags(client: pg.Client, jobPattern: string, from: number, to: number) {
  const { rows } = await client.query(
    `SELECT (trim(s.stdout)::numeric - extract(epoch FROM r.slot_at)) * 1000 AS ms
       FROM clockwork.runs AS r
       JOIN clockwork.step_runs AS s ON s.run_id = r.id
       JOIN clockwork.jobs AS j ON j.id = r.job_id
      WHERE j.name LIKE $1 AND r.slot_at >= $2 AND r.slot_at < $3 AND s.state = 'succeeded'`,
    [jobPattern, new Date(from), new Date(to)],
  );
  return percentiles(rows.map((r) => Number(r.ms)));
}

async function main(): Promise<void> {
  const cluster = await startCluster({
    settings: {
      shared_preload_libraries: "'pg_cron'",
      "cron.database_name": "'bench_lag'",
      "cron.host": "'127.0.0.1'",
      "cron.log_run": "on",
      max_connections: 300,
    },
  });
  const admin = new pg.Client({ connectionString: cluster.url("postgres") });
  await admin.connect();
  await admin.query("CREATE DATABASE bench_lag");
  const db = new pg.Client({ connectionString: cluster.url("bench_lag") });
  await db.connect();
  let supervisor: ChildProcess | undefined;
  try {
    await db.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork; CREATE EXTENSION pg_cron");
    await db.query("CREATE TABLE fired_clockwork (job int, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    await db.query("CREATE TABLE fired_pg_cron (job int, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    const version = `(extension ${(await db.query("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")).rows[0].extversion})`;

    supervisor = spawn(
      process.execPath,
      [bin, "supervisor", "--name", "lag", "--concurrency", String(CONCURRENCY), "--http-port", "off", "--log-level", "warn"],
      { cwd: root, env: { ...process.env, DATABASE_URL: cluster.url("bench_lag") }, stdio: ["ignore", "ignore", "inherit"] },
    );

    // 1. Clockwork, every minute.
    console.log(`clockwork: ${MINUTE_JOBS} jobs every minute, ${MINUTES} minutes…`);
    await db.query(
      `SELECT clockwork.schedule('minute-' || i, '* * * * *', 'INSERT INTO fired_clockwork (job) VALUES (' || i || ')')
         FROM generate_series(1, $1) AS i`,
      [MINUTE_JOBS],
    );
    await db.query("VACUUM ANALYZE");
    // Slots M … M + MINUTES - 1 fire; the jobs are disabled well before the next one.
    let from = await untilNextMinute(-100);
    let to = from + MINUTES * 60_000;
    await sleep(to - 15_000 - Date.now());
    await db.query("SELECT clockwork.disable_job('minute-' || i) FROM generate_series(1, $1) AS i", [MINUTE_JOBS]);
    await sleep(20_000); // the last minute's queue has drained; nothing more is due
    const clockworkMinute = await lags(db, "fired_clockwork", "minute", from, to + 30_000);

    // 2. Clockwork, every second.
    console.log(`clockwork: ${SECOND_JOBS} jobs every second, ${SECONDS} seconds…`);
    await db.query("TRUNCATE fired_clockwork");
    await db.query(
      `SELECT clockwork.schedule('second-' || i, '* * * * * *', 'INSERT INTO fired_clockwork (job) VALUES (' || i || ')')
         FROM generate_series(1, $1) AS i`,
      [SECOND_JOBS],
    );
    await sleep(3000); // first slots may be caught up
    from = Date.now();
    await sleep(SECONDS * 1000);
    to = Date.now();
    await db.query("SELECT clockwork.disable_job('second-' || i) FROM generate_series(1, $1) AS i", [SECOND_JOBS]);
    await sleep(3000);
    const clockworkSecond = await lags(db, "fired_clockwork", "second", from, to);

    // 2b. The same loads as shell steps.
    console.log(`clockwork: ${MINUTE_JOBS} shell jobs every minute, ${SHELL_MINUTES} minute(s)…`);
    await db.query(
      `SELECT clockwork.schedule_shell('shell-minute-' || i, '* * * * *', 'date +%s.%N') FROM generate_series(1, $1) AS i`,
      [MINUTE_JOBS],
    );
    from = await untilNextMinute(-100);
    to = from + SHELL_MINUTES * 60_000;
    await sleep(to - 15_000 - Date.now());
    await db.query("SELECT clockwork.disable_job('shell-minute-' || i) FROM generate_series(1, $1) AS i", [MINUTE_JOBS]);
    await sleep(20_000);
    const shellMinute = await shellLags(db, "shell-minute-%", from, to);
    console.log(`clockwork: ${SECOND_JOBS} shell jobs every second, ${SECONDS} seconds…`);
    await db.query(
      `SELECT clockwork.schedule_shell('shell-second-' || i, '* * * * * *', 'date +%s.%N') FROM generate_series(1, $1) AS i`,
      [SECOND_JOBS],
    );
    await sleep(3000);
    from = Date.now();
    await sleep(SECONDS * 1000);
    to = Date.now();
    await db.query("SELECT clockwork.disable_job('shell-second-' || i) FROM generate_series(1, $1) AS i", [SECOND_JOBS]);
    await sleep(3000);
    const shellSecond = await shellLags(db, "shell-second-%", from, to);
    supervisor.kill("SIGTERM");
    await new Promise((r) => supervisor!.once("exit", r));
    supervisor = undefined;

    // 3. pg_cron, every minute, the same statements.
    console.log(`pg_cron 1.4.2 ${version}: ${MINUTE_JOBS} jobs every minute, ${MINUTES} minutes…`);
    await db.query(
      `SELECT cron.schedule('minute-' || i, '* * * * *', 'INSERT INTO fired_pg_cron (job) VALUES (' || i || ')')
         FROM generate_series(1, $1) AS i`,
      [MINUTE_JOBS],
    );
    from = await untilNextMinute(-100);
    to = from + MINUTES * 60_000;
    await sleep(to - 15_000 - Date.now());
    await db.query("SELECT cron.unschedule(jobid) FROM cron.job");
    await sleep(20_000);
    const pgCronMinute = await lags(db, "fired_pg_cron", "minute", from, to + 30_000);
    const expected = MINUTE_JOBS * MINUTES;

    const f = (x: number) => (Number.isNaN(x) ? "–" : x.toFixed(1));
    console.log(`\ndue → start lag of SQL steps (ms), same cluster, same run\n`);
    console.log("| load | system | runs (expected) | p50 | p99 | max |");
    console.log("| --- | --- | --: | --: | --: | --: |");
    console.log(`| ${MINUTE_JOBS} jobs every minute | clockwork (1 supervisor, concurrency ${CONCURRENCY}) | ${clockworkMinute.n} (${expected}) | ${f(clockworkMinute.p50)} | ${f(clockworkMinute.p99)} | ${f(clockworkMinute.max)} |`);
    console.log(`| ${MINUTE_JOBS} jobs every minute | pg_cron 1.4.2 ${version} | ${pgCronMinute.n} (${expected}) | ${f(pgCronMinute.p50)} | ${f(pgCronMinute.p99)} | ${f(pgCronMinute.max)} |`);
    console.log(`| ${SECOND_JOBS} jobs every second | clockwork | ${clockworkSecond.n} (~${SECOND_JOBS * SECONDS}) | ${f(clockworkSecond.p50)} | ${f(clockworkSecond.p99)} | ${f(clockworkSecond.max)} |`);
    console.log(`| ratio of medians, every minute, clockwork / pg_cron | | | ${(clockworkMinute.p50 / pgCronMinute.p50).toFixed(2)}× | ${(clockworkMinute.p99 / pgCronMinute.p99).toFixed(2)}× | |`);
    console.log(`\ndue → start lag of shell steps (ms), clockwork only\n`);
    console.log("| load | runs (expected) | p50 | p99 | max |");
    console.log("| --- | --: | --: | --: | --: |");
    console.log(`| ${MINUTE_JOBS} shell jobs every minute | ${shellMinute.n} (${MINUTE_JOBS * SHELL_MINUTES}) | ${f(shellMinute.p50)} | ${f(shellMinute.p99)} | ${f(shellMinute.max)} |`);
    console.log(`| ${SECOND_JOBS} shell jobs every second | ${shellSecond.n} (~${SECOND_JOBS * SECONDS}) | ${f(shellSecond.p50)} | ${f(shellSecond.p99)} | ${f(shellSecond.max)} |`);
  } finally {
    supervisor?.kill("SIGKILL");
    await db.end().catch(() => {});
    await admin.end().catch(() => {});
    cluster.stop();
  }
}

await main();
