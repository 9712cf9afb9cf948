// How an SQL step claimed ahead could reach its start (not a test: figures for
// docs/benchmarks.md). The database waits until the step's start (clockwork.wait_until);
// what follows decides the lag. Three ways, on one connection, --samples starts each,
// taking turns --rounds times:
//   after the answer (what the supervisor does): the step's message is sent when wait_until
//     has answered, one round trip after the start;
//   pipelined: the step's message is sent right behind wait_until's, as a second message,
//     so it waits in the server's socket buffer and no round trip is left;
//   one message: `SELECT wait_until(…); <step>` as one message. Fastest, and wrong: a
//     transaction begun later in a message takes the message's arrival as its start, so
//     the step's now() precedes its slot (the column "now() before the start" counts them),
//     and _finish_sql_step refuses it as too early.
// The step is the shape of a real one: BEGIN, a set_config, an INSERT that records
// clock_timestamp() and now(), COMMIT. Lag = clock_timestamp() at the INSERT minus the start.
//   npx tsx test/bench/step-start.ts [--samples 30] [--rounds 3]
import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { ScriptQuery } from "../../supervisor/src/steps/script-query.ts";
import { arg, percentiles, sleep } from "./support.ts";

const SAMPLES = arg("--samples", 30);
const ROUNDS = arg("--rounds", 3);
/** How long before the start the wait is sent: the supervisor's SQL_WAIT_LEAD_MS. */
const LEAD_MS = 20;

/** wait_until's message, with the step's written right behind it. */
class WaitThenStep extends ScriptQuery {
  constructor(text: string, private readonly step: string) {
    super(text);
  }
  override submit(connection: { query(text: string): void }): null {
    connection.query(this.text);
    connection.query(this.step);
    return null;
  }
}

/** The step's message, already written by WaitThenStep: only its answer is read. */
class AlreadySent extends ScriptQuery {
  override submit(): null {
    return null;
  }
}

type Way = "after the answer" | "pipelined" | "one message";
const WAYS: Way[] = ["after the answer", "pipelined", "one message"];

const cluster = await startCluster();
const client = new pg.Client({ connectionString: cluster.url("postgres") });
try {
  await client.connect();
  await client.query("CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork");
  await client.query("CREATE TABLE started (n integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), now timestamptz NOT NULL DEFAULT now())");
  const lags = new Map<Way, number[]>(WAYS.map((w) => [w, []]));
  const early = new Map<Way, number>(WAYS.map((w) => [w, 0]));
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const way of WAYS) {
      for (let i = 0; i < SAMPLES; i++) {
        const start = new Date(Date.now() + LEAD_MS).toISOString();
        const wait = `SELECT clockwork.wait_until('${start}')`;
        const step = `BEGIN; SELECT pg_catalog.set_config('application_name', 'step', true); INSERT INTO started (n) VALUES (${++n}); COMMIT`;
        let outcome;
        if (way === "after the answer") {
          await client.query(wait);
          const q = new ScriptQuery(step);
          client.query(q as unknown as pg.QueryConfig);
          outcome = await q.outcome;
        } else if (way === "pipelined") {
          const first = new WaitThenStep(wait, step);
          const second = new AlreadySent(step);
          client.query(first as unknown as pg.QueryConfig);
          client.query(second as unknown as pg.QueryConfig);
          const waited = await first.outcome;
          if (waited.error !== null) throw waited.error;
          outcome = await second.outcome;
        } else {
          const q = new ScriptQuery(`${wait}; ${step}`);
          client.query(q as unknown as pg.QueryConfig);
          outcome = await q.outcome;
        }
        if (outcome.error !== null) throw outcome.error;
        const row = (await client.query("SELECT extract(epoch FROM at - $2::timestamptz) * 1000 AS lag, now < $2::timestamptz AS early FROM started WHERE n = $1", [n, start])).rows[0];
        lags.get(way)!.push(Number(row.lag));
        if (row.early === true) early.set(way, early.get(way)! + 1);
        // Apart, as steps of a schedule are: the server and the client idle in between.
        await sleep(100 + Math.random() * 200);
      }
    }
  }
  console.log(`SQL step start after wait_until, ${SAMPLES} × ${ROUNDS} starts each, ms after the start\n`);
  console.log("| way | p50 | p90 | max | now() before the start |\n| --- | --: | --: | --: | --: |");
  for (const way of WAYS) {
    const p = percentiles(lags.get(way)!);
    const sorted = [...lags.get(way)!].sort((a, b) => a - b);
    const p90 = sorted[Math.floor(0.9 * sorted.length)]!;
    console.log(`| ${way} | ${p.p50.toFixed(2)} | ${p90.toFixed(2)} | ${p.max.toFixed(2)} | ${early.get(way)} of ${p.n} |`);
  }
} finally {
  await client.end().catch(() => {});
  cluster.stop();
}
