// Benchmark of the clockwork_v8 runtime against plpgsql (not a test: it prints figures),
// and of the released PL/v8 3.2.2 beside it when that is installed (`make bench-runtime`
// builds it from ../shared first), measured in the same run on the same cluster.
//   make bench-runtime      (or: npx tsx test/bench/runtime.ts after `make install`)
// Starts its own throwaway clusters: one as configured by default, one with
// shared_preload_libraries = 'clockwork_v8' (the postmaster then maps libnode once and
// backends inherit it, which is what makes the first call cheap; PL/v8 cannot be
// preloaded). Every figure is the median of RUNS repetitions.
import { readFileSync } from "node:fs";
import pg from "pg";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { median } from "./support.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ROWS = 100_000;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function connect(cluster: Cluster, db = "bench"): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: cluster.url(db) });
  await c.connect();
  return c;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

const SETUP = (language: string) => `
  create extension ${language};
  create function inc_pl(i int) returns int language plpgsql immutable strict as $$ begin return i + 1; end $$;
  create function inc_v8(i int) returns int language plv8 immutable strict as $$ return i + 1; $$;
  create function js_pl(j jsonb) returns jsonb language plpgsql immutable strict as
    $$ begin return jsonb_set(j, '{n}', to_jsonb((j->>'n')::int + 1)); end $$;
  create function js_v8(j jsonb) returns jsonb language plv8 immutable strict as
    $$ j.n = j.n + 1; return j; $$;
  -- one small statement from inside a function, n times (the design notes' hot path)
  create function stmt_pl(n int) returns int language plpgsql as $$
    declare t timestamptz; begin
      for i in 1..n loop execute 'select $1::timestamp at time zone $2' into t using now()::timestamp, 'Europe/Paris'; end loop;
      return n; end $$;
  create function stmt_v8(n int) returns int language plv8 as $$
    for (var i = 0; i < n; i++) plv8.execute('select $1::timestamp at time zone $2 as t', [new Date(), 'Europe/Paris']);
    return n; $$;
  create function plan_pl(n int) returns int language plpgsql as $$
    declare t timestamptz; begin
      for i in 1..n loop t := now()::timestamp at time zone 'Europe/Paris'; end loop;
      return n; end $$;
  create function plan_v8(n int) returns int language plv8 as $$
    var p = plv8.prepare('select $1::timestamp at time zone $2 as t', ['timestamp', 'text']);
    for (var i = 0; i < n; i++) p.execute([new Date(), 'Europe/Paris']);
    p.free(); return n; $$;
`;

/** A database "bench" on clockwork_v8 and, when PL/v8 is installed, "bench_plv8" on it. */
async function prepare(cluster: Cluster, withPlv8: boolean): Promise<void> {
  const admin = await connect(cluster, "postgres");
  await admin.query("create database bench");
  if (withPlv8) await admin.query("create database bench_plv8");
  await admin.end();
  for (const [db, language] of withPlv8 ? [["bench", "clockwork_v8"], ["bench_plv8", "plv8"]] : [["bench", "clockwork_v8"]]) {
    const c = await connect(cluster, db);
    await c.query(SETUP(language!));
    await c.end();
  }
}

async function plv8Installed(cluster: Cluster): Promise<boolean> {
  const c = await connect(cluster, "postgres");
  const r = await c.query("select count(*)::int as n from pg_available_extensions where name = 'plv8'");
  await c.end();
  return r.rows[0].n === 1;
}

/** Client wall time of the literal query, and the server's execution time for it. */
async function callOverhead(c: pg.Client, sql: string): Promise<{ client: number; server: number }> {
  await c.query(sql); // warm: compile, caches
  const client: number[] = [];
  const server: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await c.query({ text: sql, rowMode: "array" });
    client.push(ms(t0));
    const plan = await c.query(`explain (analyze, timing off, summary on, format json) ${sql}`);
    server.push(plan.rows[0]["QUERY PLAN"][0]["Execution Time"]);
  }
  return { client: median(client), server: median(server) };
}

/** First `select f(1)` in a fresh backend, and the backend's RSS right after it. */
async function firstCall(cluster: Cluster, fn: string, db = "bench"): Promise<{ latency: number; rss: number }> {
  const lat: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = await connect(cluster, db);
    const pid = (await c.query("select pg_backend_pid() as pid")).rows[0].pid;
    const t0 = process.hrtime.bigint();
    await c.query(`select ${fn}(1)`);
    lat.push(ms(t0));
    rss.push(rssKb(pid));
    await c.end();
  }
  return { latency: median(lat), rss: median(rss) };
}

async function rssAfterLoad(cluster: Cluster, fn: string, db = "bench"): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = await connect(cluster, db);
    const pid = (await c.query("select pg_backend_pid() as pid")).rows[0].pid;
    await c.query(`select count(${fn}(i)) from generate_series(1, ${ROWS}) i`);
    await c.query(`select count(${fn.replace("inc", "js")}(jsonb_build_object('n', i, 'name', 'x'))) from generate_series(1, ${ROWS}) i`);
    xs.push(rssKb(pid));
    await c.end();
  }
  return median(xs);
}

type Row = [string, string, string, string, string, string];
const rows: Row[] = [];
const f1 = (x: number) => x.toFixed(1);
const mb = (kb: number) => (kb / 1024).toFixed(1);
const ratio = (x: number, base: number) => (x / base).toFixed(2) + "x";
const NONE = "—";

async function main() {
  const plain = await startCluster();
  try {
    const withPlv8 = await plv8Installed(plain);
    if (!withPlv8) console.log("PL/v8 is not installed here: its columns stay empty (make bench-runtime installs it).\n");
    await prepare(plain, withPlv8);
    const c = await connect(plain);
    const p = withPlv8 ? await connect(plain, "bench_plv8") : null;
    /** The same measurement for plpgsql and clockwork_v8 (database bench) and PL/v8 (bench_plv8). */
    const measure = async (label: string, m: (c: pg.Client, fn: string) => Promise<number>, pl: string, v8: string, fmt = f1) => {
      const a = await m(c, pl);
      const b = await m(c, v8);
      const d = p ? await m(p, v8) : null;
      rows.push([label, fmt(a), fmt(b), ratio(b, a), d === null ? NONE : fmt(d), d === null ? NONE : ratio(d, a)]);
    };
    const q = (fn: string) => `select ${fn}(i) from generate_series(1, ${ROWS}) i`;
    const qj = (fn: string) => `select ${fn}(jsonb_build_object('n', i, 'name', 'x')) from generate_series(1, ${ROWS}) i`;
    await measure(`f(i) = i+1, ${ROWS} rows: client ms`, async (db, fn) => (await callOverhead(db, q(fn))).client, "inc_pl", "inc_v8");
    await measure(`f(i) = i+1, ${ROWS} rows: server ms`, async (db, fn) => (await callOverhead(db, q(fn))).server, "inc_pl", "inc_v8");
    await measure(`jsonb in/out, ${ROWS} rows: client ms`, async (db, fn) => (await callOverhead(db, qj(fn))).client, "js_pl", "js_v8");
    await measure(`jsonb in/out, ${ROWS} rows: server ms`, async (db, fn) => (await callOverhead(db, qj(fn))).server, "js_pl", "js_v8");
    const STMTS = 10_000;
    const per = async (db: pg.Client, fn: string) => (await callOverhead(db, `select ${fn}(${STMTS})`)).server * 1000 / STMTS;
    await measure("one dynamic statement (EXECUTE / plv8.execute), µs", per, "stmt_pl", "stmt_v8");
    await measure("plpgsql static expression / plv8 plan.execute, µs", per, "plan_pl", "plan_v8");
    await c.end();
    await p?.end();

    const fpl = await firstCall(plain, "inc_pl");
    const fv8 = await firstCall(plain, "inc_v8");
    const fp8 = withPlv8 ? await firstCall(plain, "inc_v8", "bench_plv8") : null;
    const plus = (x: number, base: number, unit: string, f: (n: number) => string) => `+${f(x - base)} ${unit}`;
    rows.push(["first call in a fresh backend, ms", f1(fpl.latency), f1(fv8.latency), plus(fv8.latency, fpl.latency, "ms", f1),
      fp8 ? f1(fp8.latency) : NONE, fp8 ? plus(fp8.latency, fpl.latency, "ms", f1) : NONE]);
    rows.push(["backend RSS after first call, MB", mb(fpl.rss), mb(fv8.rss), plus(fv8.rss, fpl.rss, "MB", mb),
      fp8 ? mb(fp8.rss) : NONE, fp8 ? plus(fp8.rss, fpl.rss, "MB", mb) : NONE]);
    const lpl = await rssAfterLoad(plain, "inc_pl");
    const lv8 = await rssAfterLoad(plain, "inc_v8");
    const lp8 = withPlv8 ? await rssAfterLoad(plain, "inc_v8", "bench_plv8") : null;
    rows.push([`backend RSS after 2x${ROWS / 1000}k calls, MB`, mb(lpl), mb(lv8), plus(lv8, lpl, "MB", mb),
      lp8 === null ? NONE : mb(lp8), lp8 === null ? NONE : plus(lp8, lpl, "MB", mb)]);
  } finally {
    plain.stop();
  }

  const preloaded = await startCluster({ settings: { shared_preload_libraries: "'clockwork_v8'" } });
  try {
    await prepare(preloaded, false);
    const fpl = await firstCall(preloaded, "inc_pl");
    const fv8 = await firstCall(preloaded, "inc_v8");
    rows.push(["preloaded: first call in a fresh backend, ms", f1(fpl.latency), f1(fv8.latency), `+${f1(fv8.latency - fpl.latency)} ms`, "cannot preload", NONE]);
    rows.push(["preloaded: backend RSS after first call, MB", mb(fpl.rss), mb(fv8.rss), `+${mb(fv8.rss - fpl.rss)} MB`, NONE, NONE]);
  } finally {
    preloaded.stop();
  }

  const head: Row = ["measurement (median of " + RUNS + ")", "plpgsql", "clockwork_v8", "vs plpgsql", "PL/v8 3.2.2", "vs plpgsql"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: Row) => "| " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  console.log(line(head));
  console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
  for (const r of rows) console.log(line(r));
  console.log("\nclient ms: wall time of the literal query from node-postgres, rows included;");
  console.log("server ms: EXPLAIN ANALYZE (timing off) execution time, no rows sent;");
  console.log("RSS: VmRSS of the backend from /proc/<pid>/status (plpgsql column: a plpgsql-only backend).");
  console.log("PL/v8 3.2.2: the released source built against the same V8 (../shared/tools/plv8-build.sh), same cluster.");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
