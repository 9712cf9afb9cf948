// Benchmark of the clockwork_v8 runtime against plpgsql (not a test: it prints figures).
//   make bench-runtime      (or: npx tsx test/bench/runtime.ts after `make install`)
// Starts its own throwaway clusters: one as configured by default, one with
// shared_preload_libraries = 'clockwork_v8' (the postmaster then maps libnode once and
// backends inherit it, which is what makes the first call cheap). Every figure is the
// median of RUNS repetitions.
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

const SETUP = `
  create extension clockwork_v8;
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

async function prepare(cluster: Cluster): Promise<void> {
  const admin = await connect(cluster, "postgres");
  await admin.query("create database bench");
  await admin.end();
  const c = await connect(cluster);
  await c.query(SETUP);
  await c.end();
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
async function firstCall(cluster: Cluster, fn: string): Promise<{ latency: number; rss: number }> {
  const lat: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = await connect(cluster);
    const pid = (await c.query("select pg_backend_pid() as pid")).rows[0].pid;
    const t0 = process.hrtime.bigint();
    await c.query(`select ${fn}(1)`);
    lat.push(ms(t0));
    rss.push(rssKb(pid));
    await c.end();
  }
  return { latency: median(lat), rss: median(rss) };
}

async function rssAfterLoad(cluster: Cluster, fn: string): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = await connect(cluster);
    const pid = (await c.query("select pg_backend_pid() as pid")).rows[0].pid;
    await c.query(`select count(${fn}(i)) from generate_series(1, ${ROWS}) i`);
    await c.query(`select count(${fn.replace("inc", "js")}(jsonb_build_object('n', i, 'name', 'x'))) from generate_series(1, ${ROWS}) i`);
    xs.push(rssKb(pid));
    await c.end();
  }
  return median(xs);
}

type Row = [string, string, string, string];
const rows: Row[] = [];
const f1 = (x: number) => x.toFixed(1);
const mb = (kb: number) => (kb / 1024).toFixed(1);

async function main() {
  const plain = await startCluster();
  try {
    await prepare(plain);
    const c = await connect(plain);
    const q = (fn: string) => `select ${fn}(i) from generate_series(1, ${ROWS}) i`;
    const qj = (fn: string) => `select ${fn}(jsonb_build_object('n', i, 'name', 'x')) from generate_series(1, ${ROWS}) i`;
    const pl = await callOverhead(c, q("inc_pl"));
    const v8 = await callOverhead(c, q("inc_v8"));
    rows.push([`f(i) = i+1, ${ROWS} rows: client ms`, f1(pl.client), f1(v8.client), (v8.client / pl.client).toFixed(2) + "x"]);
    rows.push([`f(i) = i+1, ${ROWS} rows: server ms`, f1(pl.server), f1(v8.server), (v8.server / pl.server).toFixed(2) + "x"]);
    const jpl = await callOverhead(c, qj("js_pl"));
    const jv8 = await callOverhead(c, qj("js_v8"));
    rows.push([`jsonb in/out, ${ROWS} rows: client ms`, f1(jpl.client), f1(jv8.client), (jv8.client / jpl.client).toFixed(2) + "x"]);
    rows.push([`jsonb in/out, ${ROWS} rows: server ms`, f1(jpl.server), f1(jv8.server), (jv8.server / jpl.server).toFixed(2) + "x"]);
    const STMTS = 10_000;
    const per = async (fn: string) => (await callOverhead(c, `select ${fn}(${STMTS})`)).server * 1000 / STMTS;
    const spl = await per("stmt_pl");
    const sv8 = await per("stmt_v8");
    rows.push(["one dynamic statement (EXECUTE / plv8.execute), µs", f1(spl), f1(sv8), (sv8 / spl).toFixed(2) + "x"]);
    const ppl = await per("plan_pl");
    const pv8 = await per("plan_v8");
    rows.push(["plpgsql static expression / plv8 plan.execute, µs", f1(ppl), f1(pv8), (pv8 / ppl).toFixed(2) + "x"]);
    await c.end();

    const fpl = await firstCall(plain, "inc_pl");
    const fv8 = await firstCall(plain, "inc_v8");
    rows.push(["first call in a fresh backend, ms", f1(fpl.latency), f1(fv8.latency), `+${f1(fv8.latency - fpl.latency)} ms`]);
    rows.push(["backend RSS after first call, MB", mb(fpl.rss), mb(fv8.rss), `+${mb(fv8.rss - fpl.rss)} MB`]);
    const lpl = await rssAfterLoad(plain, "inc_pl");
    const lv8 = await rssAfterLoad(plain, "inc_v8");
    rows.push([`backend RSS after 2x${ROWS / 1000}k calls, MB`, mb(lpl), mb(lv8), `+${mb(lv8 - lpl)} MB`]);
  } finally {
    plain.stop();
  }

  const preloaded = await startCluster({ settings: { shared_preload_libraries: "'clockwork_v8'" } });
  try {
    await prepare(preloaded);
    const fpl = await firstCall(preloaded, "inc_pl");
    const fv8 = await firstCall(preloaded, "inc_v8");
    rows.push(["preloaded: first call in a fresh backend, ms", f1(fpl.latency), f1(fv8.latency), `+${f1(fv8.latency - fpl.latency)} ms`]);
    rows.push(["preloaded: backend RSS after first call, MB", mb(fpl.rss), mb(fv8.rss), `+${mb(fv8.rss - fpl.rss)} MB`]);
  } finally {
    preloaded.stop();
  }

  const head: Row = ["measurement (median of " + RUNS + ")", "plpgsql", "plv8 (clockwork_v8)", "plv8 vs plpgsql"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: Row) => "| " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  console.log(line(head));
  console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
  for (const r of rows) console.log(line(r));
  console.log("\nclient ms: wall time of the literal query from node-postgres, rows included;");
  console.log("server ms: EXPLAIN ANALYZE (timing off) execution time, no rows sent;");
  console.log("RSS: VmRSS of the backend from /proc/<pid>/status (plpgsql column: a plpgsql-only backend).");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
