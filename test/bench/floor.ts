// The database side's floor for processing no-op jobs (not a test: figures for
// docs/benchmarks.md, "The database's floor"). pgbench runs each model's per-job
// statements at 10 clients on one throwaway cluster (the test clusters' settings:
// synchronous_commit, fsync and full_page_writes off), with no supervisor and no Node in
// the loop, so the rate it reaches is what the database alone allows for that design of
// the per-job writes. Models take turns; each runs --repeat times for --seconds; medians.
//   npx tsx test/bench/floor.ts [--seconds 20] [--repeat 3] [--batch 20] [--clients 10]
//       [--models clockwork,statements,graphile,graphile-sql,queue,folded,insert-only,message,bound,bound-history,folded-bare]
//       [--scripts DIR]
// A pgbench transaction is one batch of --batch jobs, as a supervisor's tick claims and
// reports in batches (a run_now burst of 1000 steps took 48 ticks, about 21 a tick):
// - clockwork: the extension as it is. The real clockwork.tick (reports of the previous
//   batch, their runs' ends, the claim of the next), then per job the owner's message
//   exactly as core/sql-step.ts renders it (BEGIN, the settings, `select 1`, the fenced
//   _finish_sql_step, COMMIT, the session reset) as one simple-query message.
// - statements: the same row writes without the tick function: one transaction per batch
//   with the extension's own statements (db/statements.ts: reportSucceeded, lockRuns,
//   lockJobs, stepRunsOfRuns, finishRuns, claimReadySteps), then the same owner messages.
//   The gap to clockwork is what tick's PL/v8 code and housekeeping add.
// - graphile / graphile-sql: graphile-worker 0.17's own schema (its migrations) and its
//   statements: batchGetJobs' claim (prepared, as it runs them), then per job its
//   completeJob (`delete … where id = $1`); graphile-sql adds the job body `select 1`,
//   which helpers.query runs as its own statement.
// - queue: a redesign that keeps every guarantee and history: runs and step_runs as
//   history only (only the primary key, the attempt key and the job's run list indexed,
//   fillfactor 70, so that updates of a run or step run can be HOT); the ready queue and the
//   leases in small tables of their own (as graphile-worker's jobs table): the claim moves
//   ready → lease (delete + insert, the claim's hash in the lease), marks the step run and
//   its run running; the owner's finish is fenced by the lease (its claim hash) and writes
//   the step run's end; the report writes the result, drops the lease, ends the run.
// - folded: the same tables with fewer writes: the claim writes only the queue and the
//   lease (a step run's running state is its lease: the history row keeps ready until its
//   end), the owner's finish writes the step run's and, for a one-step run, the run's end
//   (start and end times), the report writes the result and drops the lease.
// - insert-only: a run waits and runs as one row of a small table of its own, queue and
//   lease in one row as graphile-worker's jobs (the claim updates it, the owner's finish
//   sets its end time, fenced by the claim hash: a HOT update), and the report moves it
//   into the history: it deletes the row and inserts the run and its step run, ended,
//   with the result (history rows are inserted once, never updated). One-step runs only
//   as modelled (a run of several steps would keep a run row of its own while it runs).
// - message: the owner's message alone (BEGIN, settings, `select 1`, a call that writes
//   nothing in place of the finish, COMMIT, reset), no queue and no history: the floor of
//   any design that keeps a step's own transaction on its owner's session.
// - bound: a lower bound, not a design: graphile-worker's own queue and claim, with its
//   per-job delete moved into the owner's message (the step's own transaction on its owner's
//   session: BEGIN, settings, `select 1`, the delete, COMMIT, reset); no history, no claim
//   secret, no lease. bound-history adds, in the same transaction, one run and one step run
//   history row inserted once (minimal indexes, through a function as the real finish is,
//   so its plans are cached). Any design that keeps the guarantees, each step in its own
//   transaction, does at least bound's work per job, and more for its history.
//   bound-bare (information): bound without the settings and the session reset.
// - folded-bare (not in the default list; information only): folded with the owner's
//   message cut to BEGIN, `select 1`, the finish, COMMIT: no settings, no session reset,
//   which the guarantees need (a step leaves nothing behind); it shows what they cost.
// The redesigns keep the real CHECK functions (clockwork._run_invariants,
// _step_run_invariants, copied with the tables) and the job_versions foreign key, and end
// each batch's runs into jobs.last_run_* as the extension does. The owner's message is
// sent, like the extension's, as BEGIN, settings, the step, the finish, COMMIT, reset.
// Every client is one session: the owner's message runs on the same session as its claim
// (in Clockwork they are different connections; the server's work per job is the same).
// So in clockwork and statements 10 sessions tick at once, as 10 supervisors would: their
// run ends serialise on the job's row lock (lockJobs), which one supervisor's single tick
// connection never waits for; the statement times printed show that wait.
// Each run measures a window of --seconds after --warmup seconds (the sessions' first
// calls load the PL/v8 bundle). Printed per model: jobs/s (jobs ended in the database in
// the window), the server's CPU per job in the window (every backend and server process,
// from /proc), updates per job and the share of them that were HOT (the whole run, from
// pg_stat_user_tables), and for the last run the server's time by statement
// (pg_stat_statements, nested statements too; wall time, so lock waits count) and
// pgbench's latency per command (-r). --scripts DIR keeps the scripts. The queue is
// refilled before every run and must not run dry (it is checked).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { makeWorkerUtils } from "graphile-worker";
import { pgConfig, startCluster } from "../support/cluster.ts";
import { SQL } from "../../extension/src/db/statements.ts";
import { SESSION_RESET } from "../../extension/src/core/sql-step.ts";
import { arg, median, sleep, textArg } from "./support.ts";

const SECONDS = arg("--seconds", 20);
/** Seconds of each run before the window measured. */
const WARMUP = arg("--warmup", 3);
const REPEAT = arg("--repeat", 3);
const BATCH = arg("--batch", 20);
const CLIENTS = arg("--clients", 10);
const MODELS = (textArg("--models") ?? "clockwork,statements,graphile,graphile-sql,queue,folded,insert-only,message,bound,bound-history").split(",");
const SCRIPTS = textArg("--scripts");
const NOOP = { name: "noop", policies: { max_instances: 10000000 }, steps: [{ name: "a", sql: "select 1" }] };
const RESULT = `'[{"?column?": 1}]'::jsonb`;


/**
 * The owner's message for the k-th job of the batch (1-based), as core/sql-step.ts renders
 * it, in one simple-query message (pgbench's `\;` joins statements into one message).
 * `finish` is the fenced finish call.
 */
/**
 * A batch's owner messages, each ending with the fenced finish `finish(id, claim)` of its job
 * (the claim's k-th id and secret). A claim may return fewer than a batch (SKIP LOCKED under
 * contention): the messages past its end call no finish.
 */
function fencedOwnerMessages(finish: string, bare = false): string[] {
  return Array.from({ length: BATCH }, (_, i) => ownerMessage(i + 1,
    `SELECT ${finish}(x.id, x.claim) FROM (SELECT (':ids'::bigint[])[${i + 1}] AS id, (':claims'::text[])[${i + 1}] AS claim) AS x WHERE x.id IS NOT NULL`, bare));
}

function ownerMessage(k: number, finish: string, bare = false): string {
  if (bare) return ["BEGIN", "select 1", finish, "COMMIT"].join(" \\;\n") + ";\n";
  const at = (v: string) => `(':${v}'::text[])[${k}]`;
  const settings = [["clockwork.job", "'noop'"], ["clockwork.run_id", at("runs")], ["clockwork.step", "'a'"], ["clockwork.instance", "'a'"],
    ["clockwork.step_run_id", at("ids")], ["clockwork.attempt", "'1'"]]
    .map(([name, value]) => `pg_catalog.set_config('${name}', ${value}, true)`).join(", ");
  return ["BEGIN", `SELECT ${settings}`, "select 1", finish, "COMMIT", ...SESSION_RESET].join(" \\;\n") + ";\n";
}

interface Model {
  readonly name: string;
  /** The database it runs in. */
  readonly database: string;
  /** pgbench's protocol: simple (a message per command, as the supervisor's owner messages) or prepared. */
  readonly protocol: "simple" | "prepared";
  /** What a run starts from; the first run's guess of its rate sizes the first queue. */
  readonly guess: number;
  setup(c: pg.Client, url: string): Promise<void>;
  /** Adds n jobs to the queue. */
  fill(c: pg.Client, n: number): Promise<void>;
  /** Jobs still queued. */
  queued(c: pg.Client): Promise<number>;
  /** Jobs ended so far. */
  ended(c: pg.Client): Promise<number>;
  /** The tables whose updates are counted (schema.table). */
  readonly tables: readonly string[];
  /** pgbench's script (set by setup where it depends on what setup made). */
  script: string;
  /** pgbench -D variables every client starts with. */
  readonly variables: Record<string, string>;
}

const count = async (c: pg.Client, sql: string) => Number((await c.query(sql)).rows[0].n);

/** A run of the noop job made by run_now, to clone as the queue (run_now's own cost is enqueue, not processing). */
async function templateRun(c: pg.Client): Promise<string> {
  return String((await c.query("select clockwork.run_now('noop') as id")).rows[0].id);
}

/** The columns of a table but its identity and generated ones. */
async function columns(c: pg.Client, table: string): Promise<string[]> {
  const [schema, name] = table.split(".");
  const r = await c.query(`select column_name from information_schema.columns
    where table_schema = $1 and table_name = $2 and is_identity = 'NO' and is_generated = 'NEVER' order by ordinal_position`, [schema, name]);
  return r.rows.map((x) => `"${x.column_name}"`);
}

/** Clones a queued one-step run of clockwork.runs n times into `runs`/`stepRuns`, and its step runs into `queue` if given. */
async function cloneRuns(c: pg.Client, template: string, n: number, runs: string, stepRuns: string, queue: string | null): Promise<void> {
  const runCols = (await columns(c, "clockwork.runs")).filter((x) => x !== '"id"');
  const stepCols = (await columns(c, "clockwork.step_runs")).filter((x) => x !== '"id"' && x !== '"run_id"');
  await c.query(`
    WITH new AS (
      INSERT INTO ${runs} (${runCols.join(", ")})
      SELECT ${runCols.map((x) => `t.${x}`).join(", ")} FROM clockwork.runs AS t, generate_series(1, $2) WHERE t.id = $1::bigint
      RETURNING id
    ), steps AS (
      INSERT INTO ${stepRuns} (run_id, ${stepCols.join(", ")})
      SELECT new.id, ${stepCols.map((x) => `s.${x}`).join(", ")} FROM new, clockwork.step_runs AS s WHERE s.run_id = $1::bigint
      RETURNING id, run_id, priority, ready_at
    )
    ${queue === null ? "SELECT count(*) FROM steps" : `INSERT INTO ${queue} (step_run_id, run_id, priority, ready_at) SELECT id, run_id, priority, ready_at FROM steps`}`,
  [template, n]);
}

async function clockworkDatabase(c: pg.Client): Promise<void> {
  await c.query("create extension clockwork_v8; create extension clockwork");
  await c.query("select clockwork.define_job($1::jsonb)", [JSON.stringify(NOOP)]);
}

function clockworkModel(): Model {
  let template = "";
  // Per client, once: a worker of its own (tick heartbeats it: this session is its proof of life).
  // Each transaction: one tick reports the previous batch (the rows of `select 1`, as the
  // supervisor sends them), ends their runs and claims the next batch; then the batch's owner messages.
  const report = `(SELECT jsonb_agg(jsonb_build_object('step_run', u.id, 'claim', u.claim, 'outcome', 'succeeded',
      'rows', ${RESULT}, 'committed', true, 'late_ms', 0, 'duration_ms', 0.1))
     FROM unnest(':ids'::text[], ':claims'::text[]) AS u(id, claim))`;
  const script = [
    "\\if :w = 0",
    "SELECT clockwork.register_worker('floor-' || :client_id) ->> 'worker_id' AS w",
    "\\gset",
    "\\endif",
    `SELECT coalesce(array_agg(c ->> 'step_run_id'), '{}') AS ids, coalesce(array_agg(c -> 'sql' ->> 'claim'), '{}') AS claims,
       coalesce(array_agg(c ->> 'run_id'), '{}') AS runs
  FROM json_array_elements(clockwork.tick(:w::bigint, ${BATCH}, now(), 0, ${report}) -> 'claimed') AS c`,
    "\\gset",
    ...fencedOwnerMessages("clockwork._finish_sql_step"),
  ].join("\n") + "\n";
  return {
    name: "clockwork", database: "floor_clockwork", protocol: "simple", guess: 5000,
    async setup(c) {
      await clockworkDatabase(c);
      template = await templateRun(c);
    },
    fill: (c, n) => cloneRuns(c, template, n, "clockwork.runs", "clockwork.step_runs", null),
    queued: (c) => count(c, "select count(*) as n from clockwork.step_runs where state = 'ready'"),
    ended: (c) => count(c, "select count(*) as n from clockwork.runs where state = 'succeeded'"),
    tables: ["clockwork.runs", "clockwork.step_runs", "clockwork.jobs"],
    script, variables: { w: "0", ids: "{}", claims: "{}" },
  };
}

/** A statement of db/statements.ts with its parameters replaced by SQL expressions (pgbench's simple protocol has none). */
function bind(text: string, params: Record<number, string>): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n)];
    if (value === undefined) throw new Error(`no value for $${n}`);
    return `(${value})`;
  });
}

/**
 * Clockwork's own statements without the tick function around them: one transaction per
 * batch with the report of the previous batch (reportSucceeded), the lock of its runs and
 * of the job, their step runs read, their ends (finishRuns), then the claim of the next
 * batch (claimReadySteps), the texts taken from extension/src/db/statements.ts; then the
 * owner's messages. What the tick adds (its PL/v8 code, housekeeping passes, decisions)
 * is the difference to the clockwork model.
 */
function statementsModel(): Model {
  let template = "";
  const reports = `SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'claim', u.claim, 'result', '[{"?column?": 1}]', 'stdout', '',
      'truncated', false, 'late_ms', 0, 'duration_ms', 0.1)), '[]')::text FROM unnest(':ids'::bigint[], ':claims'::text[]) AS u(id, claim)`;
  const ends = `SELECT coalesce(jsonb_agg(jsonb_build_object('id', r, 'state', 'succeeded', 'reason', NULL)), '[]')::text FROM unnest(':runs'::bigint[]) AS r`;
  const claimText = SQL.claimReadySteps.text;
  const last = claimText.lastIndexOf("SELECT c.id::text AS step_run_id");
  if (last < 0) throw new Error("claimReadySteps changed: its last SELECT is not found");
  const claim = bind(`${claimText.slice(0, last)}, answer AS (${claimText.slice(last)})
    SELECT coalesce(array_agg(step_run_id), '{}') AS ids, coalesce(array_agg(claim), '{}') AS claims, coalesce(array_agg(run_id), '{}') AS runs FROM answer`,
  { 1: ":w::bigint", 2: String(BATCH), 3: "now()", 4: "'{}'", 5: "now()", 6: "NULL" });
  const script = [
    "\\if :w = 0",
    "SELECT clockwork.register_worker('floor-' || :client_id) ->> 'worker_id' AS w",
    "\\gset",
    "\\endif",
    "BEGIN;",
    `${bind(SQL.reportSucceeded.text, { 1: reports, 2: ":w", 3: "now()", 4: "true" })};`,
    `${bind(SQL.lockRuns.text, { 1: "':runs'::bigint[]" })};`,
    `${bind(SQL.lockJobs.text, { 1: "'{:job}'::bigint[]" })};`,
    `${bind(SQL.stepRunsOfRuns.text, { 1: "':runs'::bigint[]" })};`,
    `${bind(SQL.finishRuns.text, { 1: ends, 2: "now()" })};`,
    claim,
    "\\gset",
    "COMMIT;",
    ...fencedOwnerMessages("clockwork._finish_sql_step"),
  ].join("\n") + "\n";
  const variables: Record<string, string> = { w: "0", ids: "{}", claims: "{}", runs: "{}", job: "0" };
  return {
    name: "statements", database: "floor_statements", protocol: "simple", guess: 5000,
    async setup(c) {
      await clockworkDatabase(c);
      template = await templateRun(c);
      variables.job = String((await c.query("select id from clockwork.jobs where name = 'noop'")).rows[0].id);
    },
    fill: (c, n) => cloneRuns(c, template, n, "clockwork.runs", "clockwork.step_runs", null),
    queued: (c) => count(c, "select count(*) as n from clockwork.step_runs where state = 'ready'"),
    ended: (c) => count(c, "select count(*) as n from clockwork.runs where state = 'succeeded'"),
    tables: ["clockwork.runs", "clockwork.step_runs", "clockwork.jobs"],
    script, variables,
  };
}

function graphileModel(sql: boolean): Model {
  const schema = "graphile_worker";
  // batchGetJobs' text with strategy 2 and no flags (node_modules/graphile-worker/dist/sql/getJobs.js).
  const claim = `with j as (
  select jobs.job_queue_id, jobs.priority, jobs.run_at, jobs.id
    from ${schema}._private_jobs as jobs
    where jobs.is_available = true
    and run_at <= now()
    and task_id = any(:tasks::int[])
    and (
      jobs.job_queue_id is null
      or
      jobs.job_queue_id in (
        select id
        from ${schema}._private_job_queues as job_queues
        where job_queues.is_available = true
        for update
        skip locked
      )
    )
    order by priority asc, run_at asc
    limit ${BATCH}
    for update
    skip locked
),
q as (
  update ${schema}._private_job_queues as job_queues
    set
      locked_by = :pool::text,
      locked_at = now()
    from j
    where job_queues.id = j.job_queue_id
), got as (
  update ${schema}._private_jobs as jobs
    set
      attempts = jobs.attempts + 1,
      locked_by = :pool::text,
      locked_at = now()
    from j
    where jobs.id = j.id
    returning jobs.*
)
select ${Array.from({ length: BATCH }, (_, i) => `coalesce((array_agg(id))[${i + 1}], 0) as id${i + 1}`).join(", ")} from got`;
  const perJob = (k: number) => [...(sql ? ["select 1;"] : []), `delete from ${schema}._private_jobs as jobs\nwhere id = :id${k}::bigint;`].join("\n");
  return {
    name: sql ? "graphile-sql" : "graphile", database: sql ? "floor_graphile_sql" : "floor_graphile", protocol: "prepared", guess: sql ? 15000 : 25000,
    async setup(c, url) {
      const utils = await makeWorkerUtils({ connectionString: url });
      await utils.migrate();
      await utils.release();
      await c.query("select graphile_worker.add_job('noop', '{}'::json)");
      await c.query("delete from graphile_worker._private_jobs");
    },
    async fill(c, n) {
      await c.query(`select graphile_worker.add_jobs(array(select json_populate_record(null::graphile_worker.job_spec, '{"identifier": "noop", "payload": {}}')
        from generate_series(1, $1)))`, [n]);
    },
    queued: (c) => count(c, "select count(*) as n from graphile_worker._private_jobs where locked_at is null"),
    // Completed jobs are deleted: the count goes down as they end.
    ended: (c) => count(c, "select -count(*) as n from graphile_worker._private_jobs"),
    tables: ["graphile_worker._private_jobs"],
    script: [claim, "\\gset", ...Array.from({ length: BATCH }, (_, i) => perJob(i + 1))].join("\n") + "\n",
    variables: { tasks: "{}", pool: "floor" },
  };
}

/**
 * A bound no design that keeps the guarantees can beat: graphile-worker's own queue and
 * claim, with its per-job completion (`delete`) moved into the owner's message (its own
 * transaction: BEGIN, the settings, `select 1`, the delete, COMMIT, the session reset),
 * and no history at all, no claim secret. With `history`, the owner's transaction also
 * inserts the run's and the step run's history rows once (minimal indexes): the least a
 * history row for every run and step run costs. Any design keeping the guarantees does at
 * least the second's work per job: claim, own transaction on the owner's session, remove
 * the job from the queue, record it.
 */
function boundModel(history: boolean, bare = false): Model {
  const base = graphileModel(false);
  const name = bare ? "bound-bare" : history ? "bound-history" : "bound";
  const model: Model = {
    ...base, name, database: `floor_${name.replace("-", "_")}`, protocol: "simple", guess: history ? 8000 : 12000,
    tables: history ? [...base.tables, "model.runs", "model.step_runs"] : base.tables,
    script: "",
    // The settings' values (the owner's message sets the run's and step run's ids): ids of the size real ones have.
    variables: { ...base.variables, ids: `{${Array.from({ length: BATCH }, (_, i) => 1000000 + i).join(",")}}`, runs: `{${Array.from({ length: BATCH }, (_, i) => 2000000 + i).join(",")}}` },
    async setup(c, url) {
      await base.setup(c, url);
      let finish = (k: number) => `delete from graphile_worker._private_jobs as jobs where id = :id${k}::bigint`;
      if (history) {
        await clockworkDatabase(c);
        await c.query(REDESIGN_SCHEMA);
        const template = await templateRun(c);
        await historyKeptFromBefore(c, template);
        const t = (await c.query("select job_id, job_version, trigger, params::text as params from clockwork.runs where id = $1::bigint", [template])).rows[0];
        // In a function, as the extension's finish is: its plans are made once per session.
        await c.query(`CREATE FUNCTION model.record(job bigint, worker bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = model, pg_catalog, pg_temp AS $$
DECLARE
  run bigint;
BEGIN
  WITH done AS (
    DELETE FROM graphile_worker._private_jobs AS jobs WHERE jobs.id = record.job RETURNING jobs.run_at
  )
  INSERT INTO model.runs (job_id, job_version, trigger, params, state, created_at, queued_at, started_at, finished_at, priority)
  SELECT ${t.job_id}, ${t.job_version}, '${t.trigger}', '${t.params}'::jsonb, 'succeeded', done.run_at, done.run_at,
         statement_timestamp(), clock_timestamp(), 0
    FROM done
  RETURNING id INTO run;
  IF run IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO model.step_runs (run_id, step, instance, kind, attempt, state, worker_id, worker_name, started_at, finished_at, result, priority)
  VALUES (run, 'a', 'a', 'sql', 1, 'succeeded', record.worker, 'floor', statement_timestamp(), clock_timestamp(), ${RESULT}, 0);
END $$`);
        finish = (k) => `SELECT model.record(:id${k}::bigint, :w)`;
      }
      // graphile-worker's claim as its model runs it, then each job's owner message.
      // pgbench's simple protocol substitutes variables as text: quote them.
      const claim = base.script.slice(0, base.script.indexOf("\\gset")).trimEnd()
        .replace(":tasks::int[]", "':tasks'::int[]").replaceAll(":pool::text", "':pool'::text");
      model.script = [`\\set w :client_id + 1`, claim, "\\gset", ...Array.from({ length: BATCH }, (_, i) => ownerMessage(i + 1, finish(i + 1), bare))].join("\n") + "\n";
    },
  };
  return model;
}

/** The redesigns' tables: history with HOT updates, a ready queue and leases of their own. */
const REDESIGN_SCHEMA = `
CREATE SCHEMA model;
-- History only: nothing that changes while a run runs is indexed, and pages keep room for HOT updates.
CREATE TABLE model.runs (LIKE clockwork.runs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) WITH (fillfactor = 70);
ALTER TABLE model.runs ADD PRIMARY KEY (id),
  ADD FOREIGN KEY (job_id, job_version) REFERENCES clockwork.job_versions (job_id, version) ON DELETE CASCADE;
CREATE INDEX ON model.runs (job_id, id DESC);
CREATE TABLE model.step_runs (LIKE clockwork.step_runs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) WITH (fillfactor = 70);
ALTER TABLE model.step_runs ADD PRIMARY KEY (id), ADD UNIQUE (run_id, step, instance, attempt),
  ADD FOREIGN KEY (run_id) REFERENCES model.runs (id) ON DELETE CASCADE;
-- The ready queue: a row per ready step run, deleted by its claim.
CREATE TABLE model.ready_steps (
  step_run_id bigint PRIMARY KEY REFERENCES model.step_runs (id) ON DELETE CASCADE,
  run_id bigint NOT NULL, priority integer NOT NULL, ready_at timestamptz NOT NULL);
CREATE INDEX ON model.ready_steps (priority DESC, ready_at, step_run_id);
-- The leases: a row per claimed step run, from its claim to its report (or its expiry).
CREATE TABLE model.leases (
  step_run_id bigint PRIMARY KEY, run_id bigint NOT NULL, worker_id bigint NOT NULL, claim_hash bytea NOT NULL,
  started_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, finished_at timestamptz);
CREATE INDEX ON model.leases (expires_at);
`;

/**
 * The claim of a batch: ready → lease (the secret's hash kept in the lease only). With
 * `history`, the step run and its run are marked running too (HOT updates).
 */
function redesignClaim(history: boolean): string {
  return `WITH taken AS (
  DELETE FROM model.ready_steps AS q
   WHERE q.step_run_id IN (SELECT r.step_run_id FROM model.ready_steps AS r WHERE r.ready_at <= now()
                            ORDER BY r.priority DESC, r.ready_at, r.step_run_id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
  RETURNING q.step_run_id, q.run_id
), secrets AS (
  SELECT step_run_id, run_id, replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '') AS claim FROM taken
), leased AS (
  INSERT INTO model.leases (step_run_id, run_id, worker_id, claim_hash, started_at, expires_at)
  SELECT step_run_id, run_id, :w, sha256(convert_to(claim, 'UTF8')), now(), now() + clockwork.lease_duration() FROM secrets
)${history ? `, running AS (
  UPDATE model.step_runs AS s
     SET state = 'running', ready_at = NULL, worker_id = :w, worker_name = 'floor', started_at = now(),
         lease_expires_at = now() + clockwork.lease_duration()
    FROM secrets AS x WHERE s.id = x.step_run_id
), started AS (
  UPDATE model.runs AS r SET state = 'running', started_at = coalesce(r.started_at, now())
    FROM (SELECT DISTINCT run_id FROM secrets) AS x WHERE r.id = x.run_id AND r.state = 'queued'
)` : ""}
SELECT coalesce(array_agg(x.step_run_id ORDER BY x.step_run_id), '{}') AS ids, coalesce(array_agg(x.claim ORDER BY x.step_run_id), '{}') AS claims,
       coalesce(array_agg(x.run_id ORDER BY x.step_run_id), '{}') AS runs, coalesce(max(j.name), '') AS job
  FROM secrets AS x JOIN model.runs AS r ON r.id = x.run_id JOIN clockwork.jobs AS j ON j.id = r.job_id`;
}

/**
 * The owner's finish, SECURITY DEFINER as _finish_sql_step: fenced by the lease's claim
 * hash; writes the step run's end (HOT); `foldRun` also ends a one-step run (HOT).
 */
function redesignFinish(foldRun: boolean): string {
  return `
CREATE FUNCTION model.finish(step_run bigint, claim text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = model, pg_catalog, pg_temp AS $$
DECLARE
  held model.leases;
BEGIN
  UPDATE model.leases AS l SET finished_at = clock_timestamp()
   WHERE l.step_run_id = finish.step_run AND l.claim_hash = sha256(convert_to(finish.claim, 'UTF8')) AND l.finished_at IS NULL
  RETURNING * INTO held;
  IF held.step_run_id IS NULL THEN
    RAISE EXCEPTION 'step run % is no longer held by this claim', step_run;
  END IF;
  UPDATE model.step_runs AS s
     SET state = 'succeeded', ready_at = NULL, worker_id = held.worker_id, started_at = statement_timestamp(),
         finished_at = held.finished_at, lease_expires_at = NULL, awaiting_report = true
   WHERE s.id = finish.step_run;
  ${foldRun ? `-- A one-step run ends with its step (its last step: the run's other step runs have ended).
  UPDATE model.runs AS r SET state = 'succeeded', started_at = coalesce(r.started_at, statement_timestamp()), finished_at = held.finished_at
   WHERE r.id = held.run_id
     AND NOT EXISTS (SELECT 1 FROM model.step_runs AS o WHERE o.run_id = r.id AND o.id <> finish.step_run AND o.finished_at IS NULL);` : ""}
END $$;`;
}

/** The report of a batch: the rows into the history (HOT), the leases dropped, the runs ended unless the finish did. */
function redesignReport(endRuns: boolean): string {
  return `WITH reported AS (
  DELETE FROM model.leases AS l USING unnest(':ids'::bigint[], ':claims'::text[]) AS u(id, claim)
   WHERE l.step_run_id = u.id AND l.claim_hash = sha256(convert_to(u.claim, 'UTF8')) AND l.worker_id = :w AND l.finished_at IS NOT NULL
  RETURNING l.step_run_id, l.run_id
), recorded AS (
  UPDATE model.step_runs AS s SET result = ${RESULT}, awaiting_report = false
    FROM reported AS x WHERE s.id = x.step_run_id
  RETURNING s.run_id
), ended AS (
  ${endRuns ? `UPDATE model.runs AS r SET state = 'succeeded', finished_at = greatest(now(), r.started_at)
    FROM (SELECT DISTINCT run_id FROM recorded) AS x
   WHERE r.id = x.run_id AND r.state = 'running'
     AND NOT EXISTS (SELECT 1 FROM model.step_runs AS o WHERE o.run_id = r.id AND o.finished_at IS NULL)
  RETURNING r.id, r.job_id, r.state, r.finished_at` : `SELECT r.id, r.job_id, r.state, r.finished_at FROM model.runs AS r
   WHERE r.id IN (SELECT run_id FROM recorded) AND r.finished_at IS NOT NULL`}
), latest AS (
  SELECT DISTINCT ON (job_id) id, job_id, state, finished_at FROM ended ORDER BY job_id, id DESC
)
UPDATE clockwork.jobs AS j SET last_run_id = l.id, last_run_state = l.state, last_run_finished_at = l.finished_at
  FROM latest AS l WHERE j.id = l.job_id AND (j.last_run_id IS NULL OR j.last_run_id < l.id)`;
}

function redesignModel(name: "queue" | "folded" | "folded-bare"): Model {
  const folded = name !== "queue";
  const bare = name === "folded-bare";
  let template = "";
  const script = [
    `\\set w :client_id + 1`,
    // The previous batch's report, then the next batch's claim (one tick's work).
    redesignReport(!folded),
    ";",
    redesignClaim(!folded),
    "\\gset",
    ...fencedOwnerMessages("model.finish", bare),
  ].join("\n") + "\n";
  return {
    name, database: `floor_${name.replace("-", "_")}`, protocol: "simple", guess: 8000,
    async setup(c) {
      await clockworkDatabase(c);
      template = await templateRun(c);
      await c.query(REDESIGN_SCHEMA);
      await c.query(redesignFinish(folded));
    },
    fill: (c, n) => cloneRuns(c, template, n, "model.runs", "model.step_runs", "model.ready_steps"),
    queued: (c) => count(c, "select count(*) as n from model.ready_steps"),
    ended: (c) => count(c, "select count(*) as n from model.runs where state = 'succeeded'"),
    tables: ["model.runs", "model.step_runs", "model.ready_steps", "model.leases", "clockwork.jobs"],
    script, variables: { ids: "{}", claims: "{}" },
  };
}

/**
 * The insert-only redesign: a run waits and runs as one row of a small table of its own
 * (queue and lease in one row, as graphile-worker's jobs), and enters the history, run and
 * step run, once, when it is reported: history rows are inserted, never updated.
 */
const INSERT_ONLY_SCHEMA = `
CREATE TABLE model.active (
  -- The run's id for good (the history row takes it): apart from the ids of the history kept from before.
  id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000000000) PRIMARY KEY,
  job_id bigint NOT NULL, job_version integer NOT NULL, trigger text NOT NULL, params jsonb NOT NULL DEFAULT '{}',
  step text NOT NULL, instance text NOT NULL, attempt integer NOT NULL DEFAULT 1, priority integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL, queued_at timestamptz NOT NULL, ready_at timestamptz NOT NULL,
  worker_id bigint, claim_hash bytea, started_at timestamptz, lease_expires_at timestamptz, finished_at timestamptz,
  FOREIGN KEY (job_id, job_version) REFERENCES clockwork.job_versions (job_id, version) ON DELETE CASCADE
) WITH (fillfactor = 70);
-- Ready: not claimed. Leases: claimed (the finish's end time is not indexed, so it is a HOT update).
CREATE INDEX ON model.active (priority DESC, ready_at, id) WHERE worker_id IS NULL;
CREATE INDEX ON model.active (lease_expires_at) WHERE worker_id IS NOT NULL;
CREATE FUNCTION model.finish(run bigint, claim text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = model, pg_catalog, pg_temp AS $$
BEGIN
  UPDATE model.active AS a SET started_at = statement_timestamp(), finished_at = clock_timestamp()
   WHERE a.id = finish.run AND a.claim_hash = sha256(convert_to(finish.claim, 'UTF8')) AND a.finished_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'run % is no longer held by this claim', run;
  END IF;
END $$;
`;

/**
 * History kept from before in the redesigns' tables (the other models' tables hold their
 * queue already): the foreign-key checks of history inserts are planned on a table of some
 * size, as in production (a plan made on an empty analysed table scans it; s7 notes).
 */
async function historyKeptFromBefore(c: pg.Client, template: string): Promise<void> {
  await c.query(`WITH r AS (
      INSERT INTO model.runs (job_id, job_version, trigger, params, state, created_at, queued_at, started_at, finished_at, priority)
      SELECT job_id, job_version, trigger, params, 'succeeded', created_at, queued_at, created_at, created_at, priority
        FROM clockwork.runs, generate_series(1, 20000) WHERE id = $1::bigint
      RETURNING id)
    INSERT INTO model.step_runs (run_id, step, instance, kind, attempt, state, started_at, finished_at, priority)
    SELECT id, 'a', 'a', 'sql', 1, 'succeeded', now(), now(), 0 FROM r`, [template]);
}

function insertOnlyModel(): Model {
  let template = "";
  const claim = `WITH got AS (
  SELECT a.id FROM model.active AS a WHERE a.worker_id IS NULL AND a.ready_at <= now()
   ORDER BY a.priority DESC, a.ready_at, a.id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED
), secrets AS (
  SELECT id, replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '') AS claim FROM got
), claimed AS (
  UPDATE model.active AS a SET worker_id = :w, claim_hash = sha256(convert_to(x.claim, 'UTF8')), started_at = now(),
         lease_expires_at = now() + clockwork.lease_duration()
    FROM secrets AS x WHERE a.id = x.id
  RETURNING a.id, a.job_id, x.claim
)
SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') AS ids, coalesce(array_agg(c.claim ORDER BY c.id), '{}') AS claims,
       coalesce(array_agg(c.id ORDER BY c.id), '{}') AS runs, coalesce(max(j.name), '') AS job
  FROM claimed AS c JOIN clockwork.jobs AS j ON j.id = c.job_id`;
  const report = `WITH done AS (
  DELETE FROM model.active AS a USING unnest(':ids'::bigint[], ':claims'::text[]) AS u(id, claim)
   WHERE a.id = u.id AND a.claim_hash = sha256(convert_to(u.claim, 'UTF8')) AND a.worker_id = :w AND a.finished_at IS NOT NULL
  RETURNING a.*
), runs AS (
  INSERT INTO model.runs (id, job_id, job_version, trigger, params, state, created_at, queued_at, started_at, finished_at, priority)
  OVERRIDING SYSTEM VALUE
  SELECT id, job_id, job_version, trigger, params, 'succeeded', created_at, queued_at, started_at, finished_at, priority FROM done
  RETURNING id, job_id, state, finished_at
), steps AS (
  INSERT INTO model.step_runs (run_id, step, instance, kind, attempt, state, worker_id, worker_name, started_at, finished_at, result, priority)
  SELECT id, step, instance, 'sql', attempt, 'succeeded', worker_id, 'floor', started_at, finished_at, ${RESULT}, priority FROM done
), latest AS (
  SELECT DISTINCT ON (job_id) id, job_id, state, finished_at FROM runs ORDER BY job_id, id DESC
)
UPDATE clockwork.jobs AS j SET last_run_id = l.id, last_run_state = l.state, last_run_finished_at = l.finished_at
  FROM latest AS l WHERE j.id = l.job_id AND (j.last_run_id IS NULL OR j.last_run_id < l.id)`;
  const script = [
    `\\set w :client_id + 1`, report, ";", claim, "\\gset",
    ...fencedOwnerMessages("model.finish"),
  ].join("\n") + "\n";
  return {
    name: "insert-only", database: "floor_insert_only", protocol: "simple", guess: 8000,
    async setup(c) {
      await clockworkDatabase(c);
      template = await templateRun(c);
      await c.query(REDESIGN_SCHEMA);
      await c.query(INSERT_ONLY_SCHEMA);
      await historyKeptFromBefore(c, template);
    },
    async fill(c, n) {
      await c.query(`INSERT INTO model.active (job_id, job_version, trigger, params, step, instance, attempt, priority, created_at, queued_at, ready_at)
        SELECT r.job_id, r.job_version, r.trigger, r.params, s.step, s.instance, s.attempt, s.priority, r.created_at, r.queued_at, s.ready_at
          FROM clockwork.runs AS r JOIN clockwork.step_runs AS s ON s.run_id = r.id, generate_series(1, $2)
         WHERE r.id = $1::bigint`, [template, n]);
    },
    queued: (c) => count(c, "select count(*) as n from model.active where worker_id is null"),
    ended: (c) => count(c, "select count(*) as n from model.runs where id >= 1000000000"),
    tables: ["model.active", "model.runs", "model.step_runs", "clockwork.jobs"],
    script, variables: { ids: "{}", claims: "{}" },
  };
}

/**
 * The owner's message alone: per job BEGIN, the settings, `select 1`, a call in place of
 * the finish that writes nothing, COMMIT, the reset; no queue, no claim, no history. The
 * floor of any design that runs each step in its own transaction on its owner's session
 * and leaves nothing behind. Jobs are counted by a sequence (one nextval a batch).
 */
function messageModel(): Model {
  const script = [
    `SELECT nextval('done')`,
    ";",
    ...Array.from({ length: BATCH }, (_, i) => ownerMessage(i + 1, "SELECT pg_catalog.txid_current_if_assigned()")),
  ].join("\n") + "\n";
  return {
    name: "message", database: "floor_message", protocol: "simple", guess: 20000,
    async setup(c) {
      await c.query(`create sequence done increment by ${BATCH}`);
    },
    fill: async () => {},
    queued: async () => Number.MAX_SAFE_INTEGER,
    ended: (c) => count(c, "select coalesce((select last_value from done where is_called), 0) as n"),
    tables: [],
    // The settings' values: ids of the size a step run's and a run's have.
    script, variables: { ids: `{${Array.from({ length: BATCH }, (_, i) => 1000000 + i).join(",")}}`, runs: `{${Array.from({ length: BATCH }, (_, i) => 2000000 + i).join(",")}}` },
  };
}

/** CPU time (user + system, ms) of the server: its live processes, plus what the postmaster collected from ended ones. */
function serverCpuMs(dataDir: string): number {
  const ticks = (pid: string, fields: number[]) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return fields.reduce((sum, i) => sum + Number(f[i]), 0);
    } catch {
      return 0;
    }
  };
  const postmaster = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]!.trim();
  // After ") ": state is field 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14.
  let total = ticks(postmaster, [11, 12, 13, 14]);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (f[1] === postmaster) total += ticks(pid, [11, 12]);
    } catch {
      // gone meanwhile: the postmaster has (or will have) collected it
    }
  }
  return total * 10;
}

interface Outcome {
  jobs: number; rate: number; cpuUsPerJob: number;
  /** Updates and HOT updates over the whole run, and the jobs the whole run ended. */
  updates: number; hot: number; jobsAll: number;
  latencies: string; statements: string;
}

async function runOnce(cluster: { dataDir: string; port: number; socketDir: string }, c: pg.Client, model: Model, dir: string, lastRate: number): Promise<Outcome> {
  // Enough queued work for the whole run at 1.5× the last rate (checked after).
  const want = Math.ceil(lastRate * (SECONDS + WARMUP + 2) * 1.5) + CLIENTS * BATCH * 2;
  const have = await model.queued(c);
  if (have < want) await model.fill(c, want - have);
  if (model.tables.length > 0) await c.query(`vacuum analyze ${model.tables.join(", ")}`);
  if ("tasks" in model.variables) {
    const ids = (await c.query("select coalesce(array_agg(id), '{}') as ids from graphile_worker._private_tasks")).rows[0].ids as number[];
    model.variables.tasks = `{${ids.join(",")}}`;
  }
  await c.query("select pg_stat_reset()");
  const endedStart = await model.ended(c);
  const scriptPath = join(dir, `${model.name}.sql`);
  writeFileSync(scriptPath, model.script);
  const args = ["-n", "-M", model.protocol, "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS + WARMUP + 2), "-r", "-f", scriptPath,
    "-h", cluster.socketDir, "-p", String(cluster.port), "-U", "postgres",
    ...Object.entries(model.variables).flatMap(([k, v]) => ["-D", `${k}=${v}`]), model.database];
  const finished = new Promise<string>((resolve, reject) => {
    const p = spawn(`${pgConfig("--bindir")}/pgbench`, args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.stderr.on("data", (d) => (text += d));
    p.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`pgbench ${model.name} exited ${code}:\n${text}`))));
  });
  // The window measured starts after the warm-up (the sessions' first calls load and
  // compile the PL/v8 bundle) and ends before pgbench stops: jobs ended and server CPU in it.
  let failed: unknown = null;
  finished.catch((e) => (failed = e));
  await sleep(WARMUP * 1000);
  const t0 = performance.now();
  await c.query("select pg_stat_statements_reset()");
  const [cpu0, ended0] = [serverCpuMs(cluster.dataDir), await model.ended(c)];
  await sleep(SECONDS * 1000);
  const [cpu1, ended1] = [serverCpuMs(cluster.dataDir), await model.ended(c)];
  // Where the server's time went in the window: statements (nested ones too) by execution time per job.
  const statements = (await c.query(`
    select calls, total_exec_time as ms, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as q
      from pg_stat_statements
     where dbid = (select oid from pg_database where datname = current_database())
       and query not like '%pg_stat_statements%' and query not like '%as n%'
     order by total_exec_time desc limit 12`)).rows as { calls: string; ms: number; toplevel: boolean; q: string }[];
  const seconds = (performance.now() - t0) / 1000;
  if (failed !== null) throw failed;
  const out = await finished;
  const cpu = cpu1 - cpu0;
  const jobs = ended1 - ended0;
  // Wait for pgbench's backends to end, so their statistics are flushed.
  while (await count(c, `select count(*) as n from pg_stat_activity where datname = '${model.database}' and pid <> pg_backend_pid() and backend_type = 'client backend'`) > 0) await sleep(20);
  const endedAll = await model.ended(c);
  const left = await model.queued(c);
  if (left < CLIENTS * BATCH) throw new Error(`${model.name}: the queue ran dry (${left} left): its rate is a floor, not a measure`);
  await c.query("select pg_stat_clear_snapshot()");
  await sleep(600); // stats of ended backends are flushed at their exit; let them land
  const upd = await c.query(`select coalesce(sum(n_tup_upd), 0) as upd, coalesce(sum(n_tup_hot_upd), 0) as hot from pg_stat_user_tables
    where schemaname || '.' || relname = any($1)`, [model.tables]);
  const latencies = out.split("\n").filter((l) => /^\s+\d+\.\d+\s+\d+\s/.test(l) || /^\s+\d+\.\d+\s+/.test(l)).join("\n");
  const statementLines = statements.map((x) => `${(x.ms * 1000 / Math.max(jobs, 1)).toFixed(1).padStart(8)} µs/job ${String(x.calls).padStart(8)} calls ${x.toplevel ? "top   " : "nested"} ${x.q}`).join("\n");
  return { jobs, rate: jobs / seconds, cpuUsPerJob: (cpu * 1000) / Math.max(jobs, 1), updates: Number(upd.rows[0].upd), hot: Number(upd.rows[0].hot),
    jobsAll: endedAll - endedStart, latencies, statements: statementLines };
}

async function main(): Promise<void> {
  const factories: Record<string, () => Model> = {
    clockwork: clockworkModel, statements: statementsModel, graphile: () => graphileModel(false), "graphile-sql": () => graphileModel(true),
    queue: () => redesignModel("queue"), folded: () => redesignModel("folded"), "folded-bare": () => redesignModel("folded-bare"), "insert-only": insertOnlyModel, message: messageModel,
    bound: () => boundModel(false), "bound-history": () => boundModel(true), "bound-bare": () => boundModel(false, true),
  };
  for (const m of MODELS) if (!(m in factories)) throw new Error(`unknown model ${m} (one of ${Object.keys(factories).join(", ")})`);
  const models = MODELS.map((m) => factories[m]!());
  const dir = SCRIPTS ?? mkdtempSync(join(tmpdir(), "clockwork-floor-"));
  mkdirSync(dir, { recursive: true });
  const cluster = await startCluster({ settings: { shared_preload_libraries: "'pg_stat_statements'", "pg_stat_statements.track": "all" } });
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loads = [load()];
  try {
    const clients = new Map<string, pg.Client>();
    for (const m of models) {
      const admin = new pg.Client({ connectionString: cluster.url("postgres") });
      await admin.connect();
      await admin.query(`create database ${m.database}`);
      await admin.end();
      const c = new pg.Client({ connectionString: cluster.url(m.database) });
      await c.connect();
      await c.query("create extension pg_stat_statements");
      await m.setup(c, cluster.url(m.database));
      clients.set(m.name, c);
    }
    const outcomes = new Map<string, Outcome[]>(models.map((m) => [m.name, []]));
    for (let r = 1; r <= REPEAT; r++) {
      for (let k = 0; k < models.length; k++) {
        const m = models[(k + r - 1) % models.length]!;
        const last = outcomes.get(m.name)!.at(-1)?.rate ?? m.guess;
        const o = await runOnce(cluster, clients.get(m.name)!, m, dir, Math.max(last, m.guess / 2));
        outcomes.get(m.name)!.push(o);
        console.log(`run ${r} ${m.name}: ${o.rate.toFixed(0)} jobs/s, server CPU ${o.cpuUsPerJob.toFixed(0)} µs/job, updates ${o.updates} (HOT ${o.hot}) — load ${load()}`);
      }
      loads.push(load());
    }
    console.log(`\n${CLIENTS} clients, batches of ${BATCH} jobs, ${SECONDS} s a run, median of ${REPEAT} runs; load averages ${loads.join(" | ")}\n`);
    console.log("| model | jobs/s | server CPU µs/job | updates/job | HOT |\n| --- | --: | --: | --: | --: |");
    for (const m of models) {
      const os = outcomes.get(m.name)!;
      const mid = [...os].sort((a, b) => a.rate - b.rate)[Math.floor(os.length / 2)]!;
      console.log(`| ${m.name} | ${median(os.map((o) => o.rate)).toFixed(0)} | ${median(os.map((o) => o.cpuUsPerJob)).toFixed(0)} | ${(mid.updates / Math.max(mid.jobsAll, 1)).toFixed(2)} | ${mid.updates === 0 ? "-" : `${((mid.hot / mid.updates) * 100).toFixed(0)} %`} |`);
    }
    for (const m of models) {
      const last = outcomes.get(m.name)!.at(-1)!;
      console.log(`\n${m.name}, last run: server time by statement (pg_stat_statements, execution only)\n${last.statements}`);
      console.log(`${m.name}, last run: pgbench latency per command (ms)\n${last.latencies}`);
    }
    for (const c of clients.values()) await c.end();
  } finally {
    cluster.stop();
    if (SCRIPTS === null) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
