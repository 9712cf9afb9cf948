// What the PL/pgSQL fronts of the API cost (build/bundle.ts, `front`): each documented
// function is a PL/pgSQL function whose EXCEPTION block (a subtransaction per call) raises
// errors again without JavaScript context, in front of the PL/v8 function `_<name>`. This
// calls both side by side in one run, on one throwaway cluster, taking turns: the front,
// and the internal function directly (what every call cost before the fronts). Not a
// test: it prints medians and ratios and asserts nothing.
//   npx tsx test/bench/api-front.ts [--calls 1000] [--rounds 7]
// 1. run_now, `--calls` in one statement (the enqueue of test/bench/throughput.ts): the
//    worst case for the front's share, no round trip per call;
// 2. run_now, one statement per call (as an application calls it);
// 3. next_runs (set-returning), one statement per call, 20 rows each.
import { loadavg } from "node:os";
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, median } from "./support.ts";

const CALLS = arg("--calls", 1000);
const ROUNDS = arg("--rounds", 7);
const SINGLE = Math.max(1, Math.floor(CALLS / 5));

type Variant = "front" | "internal";

interface Case {
  readonly title: string;
  /** Seconds for one measurement of the variant; `job` is a fresh job for it. */
  readonly measure: (client: pg.Client, variant: Variant, job: string) => Promise<number>;
}

const fn = (variant: Variant, name: string) => (variant === "front" ? `clockwork.${name}` : `clockwork._${name}`);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const cases: Case[] = [
  {
    title: `run_now, ${CALLS} in one statement`,
    measure: (c, v, job) => timed(() => c.query(`select count(${fn(v, "run_now")}($1, '{}'::jsonb, now())) from generate_series(1, $2)`, [job, CALLS])),
  },
  {
    title: `run_now, ${SINGLE} statements of one call`,
    measure: (c, v, job) => timed(async () => {
      for (let i = 0; i < SINGLE; i++) await c.query(`select ${fn(v, "run_now")}($1, '{}'::jsonb, now())`, [job]);
    }),
  },
  {
    title: `next_runs (20 rows), ${SINGLE} statements of one call`,
    measure: (c, v, job) => timed(async () => {
      for (let i = 0; i < SINGLE; i++) await c.query(`select count(*) from ${fn(v, "next_runs")}($1, 20, now())`, [job]);
    }),
  },
];

async function main(): Promise<void> {
  const cluster = await startCluster();
  const client = new pg.Client({ connectionString: cluster.url("postgres") });
  await client.connect();
  try {
    await client.query("create extension clockwork_v8; create extension clockwork");
    const load = [loadavg()[0]!];
    let jobs = 0;
    const freshJob = async (): Promise<string> => {
      // A job of its own per measurement: runs queued by earlier ones cost nothing here.
      const name = `noop${++jobs}`;
      await client.query(
        `select clockwork.define_job(jsonb_build_object('name', $1::text, 'schedules', jsonb_build_array('*/5 * * * * *'),
                  'policies', jsonb_build_object('max_instances', 1000000),
                  'steps', jsonb_build_array(jsonb_build_object('name', 'a', 'sql', 'select 1'))))`,
        [name],
      );
      return name;
    };
    console.log(`| call | front (s, median of ${ROUNDS}) | internal function (s) | front / internal |`);
    console.log("| --- | --: | --: | --: |");
    for (const c of cases) {
      const samples: Record<Variant, number[]> = { front: [], internal: [] };
      // Warm both up (bundle loaded, plans cached) before measuring.
      for (const v of ["front", "internal"] as const) await c.measure(client, v, await freshJob());
      for (let round = 0; round < ROUNDS; round++) {
        // Take turns, the first alternating, so neither always runs on a warmer machine.
        const order: Variant[] = round % 2 === 0 ? ["front", "internal"] : ["internal", "front"];
        for (const v of order) samples[v].push(await c.measure(client, v, await freshJob()));
      }
      const front = median(samples.front);
      const internal = median(samples.internal);
      console.log(`| ${c.title} | ${front.toFixed(3)} | ${internal.toFixed(3)} | ${(front / internal).toFixed(3)}× |`);
      load.push(loadavg()[0]!);
    }
    console.log(`load average (1 min) during the run: ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`);
  } finally {
    await client.end();
    cluster.stop();
  }
}

await main();
