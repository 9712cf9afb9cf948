// Plans after a burst: autovacuum has not yet analyzed the thousands of runs and steps a
// burst of run_now just made active, so the partial indexes over active states still
// look empty to the planner. The per-step statements must still find their row by
// primary key; a scan of a whole partial index per call made processing 2.5× slower
// from the second burst on (docs/benchmarks.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import type { TestDatabase } from "../support/db.ts";
import { SQL } from "../../extension/src/db/statements.ts";
import { SQLSTATE } from "../../extension/src/core/index.ts";
import { clockworkDatabase, defineJob, ownerConnections, registerWorker, runSqlClaim, tick } from "./helpers.ts";
import { REPLAN_CHECK_MS } from "../../extension/src/db/query.ts";

/** A literal of each parameter type, enough for EXPLAIN EXECUTE. */
const SAMPLE: Record<string, string> = {
  text: "'1'",
  "text[]": "'{}'",
  integer: "1",
  timestamptz: "now()",
};

describe("plans after a burst", () => {
  let db: TestDatabase;
  let stepRunId: string;
  let runId: string;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    await defineJob(db, { name: "burst", policies: { max_instances: 100000 }, steps: [{ name: "a", sql: "select 1" }] });
    // Statistics taken with a history and nothing active, then a burst that makes 3 000
    // runs active. (On never-analyzed tables the planner guesses, and guesses well.)
    await db.query("select clockwork.run_now('burst') from generate_series(1, 500)");
    const connections = ownerConnections(db.name);
    for (const claim of (await tick(db.pool, "w1", new Date(Date.now() + 1000), 500)).claimed) {
      await runSqlClaim(db, claim, { connections });
    }
    await connections.end();
    await db.query("select clockwork.define_group('g', 2)"); // a group: groupsWithRoom probes its runs
    await db.query("vacuum analyze clockwork.runs, clockwork.step_runs, clockwork.concurrency_groups");
    await db.query("select clockwork.run_now('burst') from generate_series(1, 3000)");
    const claimed = await tick(db.pool, "w1", new Date(Date.now() + 1000), 3000);
    stepRunId = claimed.claimed[0]!.step_run_id;
    runId = claimed.claimed[0]!.run_id;
  });
  after(async () => {
    await db.drop();
  });

  for (const name of ["finishRuns", "completeStep", "reportSucceeded", "reportFailed"] as const) {
    test(`${name} finds its row by primary key, not by scanning a partial index`, async () => {
      const statement = SQL[name];
      const client = await db.pool.connect();
      try {
        await client.query("set plan_cache_mode = force_generic_plan");
        await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
        // The report statements and finishRuns take their rows as a JSON array.
        const first = name.startsWith("report") ? `'[{"id": ${stepRunId}, "claim": "x"}]'`
          : name === "finishRuns" ? `'[{"id": ${stepRunId}, "state": "succeeded"}]'` : `'${stepRunId}'`;
        const args = statement.types.map((t, i) => (i === 0 ? first : SAMPLE[t] ?? "NULL"));
        await client.query("begin");
        const plan = (await client.query(`explain (costs off) execute probe(${args.join(", ")})`)).rows
          .map((r) => r["QUERY PLAN"] as string).join("\n");
        await client.query("rollback");
        const target = name === "finishRuns" ? "runs_pkey" : "step_runs_pkey";
        assert.match(plan, new RegExp(`(Index Scan using|Bitmap Index Scan on) ${target}`), plan);
        assert.doesNotMatch(plan, /runs_active_idx|step_runs_lease_idx|step_runs_worker_idx|step_runs_ready_idx/, plan);
      } finally {
        await client.query("deallocate all").catch(() => {});
        client.release();
      }
    });
  }

  // The statements that settle one run's step runs (a cancel, a time-out, an expired lease,
  // an unreported step) find them through the run. The statistics say no step is running,
  // awaiting a report or ready, so the partial indexes over those states look empty; after
  // the burst they hold thousands of entries, and reading one meant reading all of them.
  const BY_RUN: Record<string, (run: string) => string[]> = {
    runningStepRuns: (run) => [`'${run}'`, "'{a}'"],
    cancelRunningInstances: (run) => [`'${run}'`, "'{a}'", "now()", "'x'", "'cancelled'", "false"],
    expireLeasesOfRun: (run) => [`'${run}'`, "now()", "3", "false", "'{}'", `'${SQLSTATE.handed_back_at_shutdown}'`],
    settleUnreported: (run) => [`'{${run}}'`, "now()"],
  };
  for (const [name, args] of Object.entries(BY_RUN)) {
    for (const mode of ["force_generic_plan", "force_custom_plan"]) {
      test(`${name} finds the run's step runs through the run, not a partial index (${mode})`, async () => {
        const statement = SQL[name as keyof typeof SQL];
        const client = await db.pool.connect();
        try {
          await client.query(`set plan_cache_mode = ${mode}`);
          await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
          await client.query("begin");
          const plan = (await client.query(`explain (costs off) execute probe(${args(runId).join(", ")})`)).rows
            .map((r) => r["QUERY PLAN"] as string).join("\n");
          await client.query("rollback");
          // The step runs of the run: by run_id, the first column of the attempt key.
          assert.match(plan, /(Index Scan using|Bitmap Index Scan on) step_runs_attempt_key/, plan);
          assert.doesNotMatch(plan, /step_runs_(lease|worker|claim|ready|awaiting_report)_idx|Seq Scan on step_runs/, plan);
        } finally {
          await client.query("rollback").catch(() => {});
          await client.query("deallocate all").catch(() => {});
          client.release();
        }
      });
    }
  }

  // Run ends and every tick ask whether anything waits; after the burst runs_active_idx
  // still looks empty, and reading it meant reading every active run, on each call.
  for (const [name, index] of [["hasWaitingRuns", "runs_waiting_idx"], ["groupsWithRoom", "runs_(group_)?waiting_idx"]] as const) {
    for (const mode of ["force_generic_plan", "force_custom_plan"]) {
      test(`${name} probes only waiting runs, not every active run (${mode})`, async () => {
        const statement = SQL[name];
        const client = await db.pool.connect();
        try {
          await client.query(`set plan_cache_mode = ${mode}`);
          await client.query(`prepare probe ${statement.types.length > 0 ? `(${statement.types.join(", ")})` : ""} as ${statement.text}`);
          const jobId = (await client.query("select id from clockwork.jobs where name = 'burst'")).rows[0].id as string;
          const plan = (await client.query(`explain (costs off) execute probe${statement.types.length > 0 ? `('${jobId}')` : ""}`)).rows
            .map((r) => r["QUERY PLAN"] as string).join("\n");
          // groupsWithRoom: the probe (before its SubPlan, the slot count of a group that has
          // a waiting run) reads waiting runs only.
          const probe = plan.split(/\n\s*SubPlan/)[0]!;
          assert.match(probe, new RegExp(`Index (Only )?Scan using ${index}`), plan);
          assert.doesNotMatch(probe, /runs_active_idx|Seq Scan on runs/, plan);
        } finally {
          await client.query("deallocate all").catch(() => {});
          client.release();
        }
      });
    }
  }

  // The statements a firing tick keeps one generic plan of (below) read by index on a
  // table of thousands of runs, whatever number of ids the generic plan assumes.
  for (const name of ["lockRuns", "lockRunsSkipLocked", "stepRunsOfRuns", "activeRuns"] as const) {
    test(`${name}'s generic plan reads by index, not a scan of the table`, async () => {
      const statement = SQL[name];
      const client = await db.pool.connect();
      try {
        await client.query("set plan_cache_mode = force_generic_plan");
        await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
        // A generic plan is the same whatever the ids.
        await client.query("begin");
        const plan = (await client.query("explain (costs off) execute probe('{1}')")).rows
          .map((r) => r["QUERY PLAN"] as string).join("\n");
        await client.query("rollback");
        assert.match(plan, /Index Scan|Index Only Scan/, plan);
        assert.doesNotMatch(plan, /Seq Scan/, plan);
      } finally {
        await client.query("rollback").catch(() => {});
        await client.query("deallocate all").catch(() => {});
        client.release();
      }
    });
  }
});

// Every statement that reads one run's step runs, or several runs', finds them through
// step_runs_attempt_key, whose first column is run_id (there is no index of run_id alone:
// it cost one more index entry on each insert and non-HOT update of a step run), and never
// through a partial index over active states or a scan of the table: in generic and custom
// plans, with the statistics of a new install (tables analyzed empty, then a history made
// without a new ANALYZE: the plans db/query.ts makes again once a table has doubled, and
// autovacuum's first plans) and with the statistics of the large tables.
const OF_RUNS: Record<string, { text: string; types: string[]; args: (run: string) => string[] }> = {
  ...Object.fromEntries(Object.entries({
    stepRunsOfRun: (run: string) => [`'${run}'`],
    stepRunsOfRuns: (run: string) => [`'{${run}}'`],
    settleAttempts: (run: string) => [`'${run}'`, `'[{"phase": "step", "id": "a", "attempt": 1, "state": "failed", "note": "x"}]'`],
    runningStepRuns: (run: string) => [`'${run}'`, "'{a}'"],
    cancelRunningInstances: (run: string) => [`'${run}'`, "'{a}'", "now()", "'x'", "'cancelled'", "false"],
    expireLeasesOfRun: (run: string) => [`'${run}'`, "now()", "3", "false", "'{}'", `'${SQLSTATE.handed_back_at_shutdown}'`],
    settleUnreported: (run: string) => [`'{${run}}'`, "now()"],
  }).map(([name, args]) => [name, { ...SQL[name as keyof typeof SQL], args }])),
  // PostgreSQL's own statement for ON DELETE CASCADE from runs (the history pruner deletes
  // runs), as ri_triggers.c writes it, and the step counts of the run_history view.
  cascadeFromRuns: { text: "DELETE FROM ONLY clockwork.step_runs WHERE $1 OPERATOR(pg_catalog.=) run_id", types: ["bigint"], args: (run) => [`'${run}'`] },
  runHistory: { text: "SELECT * FROM clockwork.run_history WHERE run_id = $1", types: ["bigint"], args: (run) => [`'${run}'`] },
};

for (const statistics of ["analyzed empty, then grown", "analyzed large"] as const) {
  describe(`a run's step runs are read through step_runs_attempt_key (${statistics})`, () => {
    let db: TestDatabase;
    let runId: string;
    before(async () => {
      db = await clockworkDatabase();
      // Autovacuum's ANALYZE of the grown tables would change the statistics under test.
      await db.query("alter table clockwork.runs set (autovacuum_enabled = off)");
      await db.query("alter table clockwork.step_runs set (autovacuum_enabled = off)");
      await defineJob(db, { name: "history", steps: [{ name: "a", sql: "select 1" }, { name: "b", depends: ["a"], sql: "select 2" }] });
      if (statistics === "analyzed empty, then grown") await db.query("vacuum analyze");
      // 25 000 runs of history with two step runs each.
      await db.query(`
        insert into clockwork.runs (job_id, job_version, trigger, state, created_at, queued_at, started_at, finished_at)
        select j.id, j.version, 'manual', 'succeeded', t, t, t, t
          from clockwork.jobs as j, generate_series(1, 25000), lateral (select now() - interval '1 day' as t) as at`);
      await db.query(`
        insert into clockwork.step_runs (run_id, step, instance, phase, kind, attempt, state, started_at, finished_at)
        select r.id, x.step, x.step, 'step', 'sql', 1, 'succeeded', r.started_at, r.finished_at
          from clockwork.runs as r, (values ('a'), ('b')) as x(step)`);
      if (statistics === "analyzed large") await db.query("vacuum analyze clockwork.runs, clockwork.step_runs");
      // A run of the history.
      runId = (await db.query("select id::text as id from clockwork.runs order by id desc limit 1 offset 100")).rows[0].id;
    });
    after(async () => {
      await db.drop();
    });

    for (const [name, statement] of Object.entries(OF_RUNS)) {
      for (const mode of ["force_generic_plan", "force_custom_plan"]) {
        test(`${name} (${mode})`, async () => {
          const client = await db.pool.connect();
          try {
            await client.query(`set plan_cache_mode = ${mode}`);
            await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
            await client.query("begin");
            const plan = (await client.query(`explain (costs off) execute probe(${statement.args(runId).join(", ")})`)).rows
              .map((r) => r["QUERY PLAN"] as string).join("\n");
            await client.query("rollback");
            assert.match(plan, /(Index Scan using|Index Only Scan using|Bitmap Index Scan on) step_runs_attempt_key/, plan);
            assert.doesNotMatch(plan, /step_runs_(run|lease|worker|claim|ready|awaiting_report)_idx|Seq Scan on step_runs/, plan);
          } finally {
            await client.query("rollback").catch(() => {});
            await client.query("deallocate all").catch(() => {});
            client.release();
          }
        });
      }
    }
  });
}

// A firing tick writes back the schedules it fired. Taken as a record set (which the
// planner counts as 100 rows), they were joined to a seq scan of every schedule below some
// 40 000 of them: 4-8 ms a firing tick at 10 000 (docs/benchmarks.md, "The supervisor").
describe("plans with many schedules", () => {
  let db: TestDatabase;
  let scheduleId: string;
  before(async () => {
    db = await clockworkDatabase();
    await defineJob(db, { name: "many", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    // 20 000 more schedules of that job, none due (as a long-lived scheduler's dropped or
    // disabled jobs leave them), analyzed.
    await db.query(`
      insert into clockwork.schedules (job_id, position, kind, spec, description)
      select s.job_id, s.position + i, s.kind, s.spec, s.description
        from clockwork.schedules as s cross join generate_series(1, 20000) as i`);
    await db.query("analyze clockwork.schedules");
    scheduleId = (await db.query("select id::text as id from clockwork.schedules where next_fire_at is not null")).rows[0].id;
  });
  after(async () => {
    await db.drop();
  });

  for (const mode of ["force_generic_plan", "force_custom_plan"]) {
    test(`advanceSchedules reads the fired schedules by primary key (${mode})`, async () => {
      const statement = SQL.advanceSchedules;
      const client = await db.pool.connect();
      try {
        await client.query(`set plan_cache_mode = ${mode}`);
        await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
        const advanced = JSON.stringify([{ id: scheduleId, next_fire_at: null, last_slot_at: null }]);
        await client.query("begin");
        const args = `${client.escapeLiteral(advanced)}, ${client.escapeLiteral(`{${scheduleId}}`)}`;
        const plan = (await client.query(`explain (costs off) execute probe(${args})`)).rows
          .map((r) => r["QUERY PLAN"] as string).join("\n");
        await client.query("rollback");
        assert.match(plan, /Index Scan using schedules_pkey/, plan);
        assert.doesNotMatch(plan, /Seq Scan on schedules/, plan);
      } finally {
        await client.query("rollback").catch(() => {});
        await client.query("deallocate all").catch(() => {});
        client.release();
      }
    });
  }

  test("no Clockwork function compiles its statements with JIT", async () => {
    // A LIMIT or OFFSET from a parameter inflates estimates past jit_above_cost: the history
    // pruner's statements cost 0.5-1.5 s of compiling inside a tick with 10 000 jobs.
    const { rows } = await db.query(`
      select p.oid::regprocedure::text as fn
        from pg_proc as p join pg_language as l on l.oid = p.prolang
       where p.pronamespace = 'clockwork'::regnamespace and l.lanname = 'plv8'
         and p.proname <> '_load_bundle' -- it loads the code and runs no statement of ours
         and not ('jit=off' = any (coalesce(p.proconfig, '{}')))`);
    assert.deepEqual(rows.map((r) => r.fn), []);
    const count = (await db.query(`
      select count(*)::int as n from pg_proc as p join pg_language as l on l.oid = p.prolang
       where p.pronamespace = 'clockwork'::regnamespace and l.lanname = 'plv8'`)).rows[0].n;
    assert.ok(count > 30, `only ${count} plv8 functions found`);
  });
});

// A statement whose generic plan looks dearer than its custom plans is planned again on
// every call: `id = ANY ($1::bigint[])` counts ten elements in the generic plan and the
// real one or two in a custom plan, so PostgreSQL never kept the generic plan of the
// statements a firing tick runs (0.1-0.3 ms of planning each, every firing tick). Read
// through an InitPlan (IDS_1 in statements.ts), both count alike and the generic plan is
// kept after the five custom plans the plan cache always tries first. A prepared statement
// goes through the same plan cache as the functions' plans (plv8.prepare keeps an SPI plan).
const FIRING_STATEMENTS = ["tryLockJobs", "lockJobs", "activeRuns", "advanceSchedules", "stepRunsOfRuns", "alertRulesOfJobs", "lockRuns", "lockRunsSkipLocked"] as const;

/** Runs the statement twelve times as a prepared statement with one id; the plans it got. */
async function plansOf(db: TestDatabase, name: (typeof FIRING_STATEMENTS)[number]): Promise<{ generic: number; custom: number; plan: string }> {
  const statement = SQL[name];
  const { rows: [ids] } = await db.query(`
    select (select id from clockwork.jobs limit 1)::text as job, (select id from clockwork.schedules limit 1)::text as schedule`);
  const id = name === "advanceSchedules" ? ids.schedule : ids.job;
  const args = name === "advanceSchedules" ? [JSON.stringify([{ id, next_fire_at: null, last_slot_at: null }]), `{${id}}`] : [`{${id}}`];
  const client = await db.pool.connect();
  try {
    await client.query("set plan_cache_mode = auto");
    await client.query(`prepare probe (${statement.types.join(", ")}) as ${statement.text}`);
    await client.query("begin");
    for (let i = 0; i < 12; i++) await client.query(`execute probe(${args.map((a) => client.escapeLiteral(a)).join(", ")})`);
    await client.query("rollback");
    const counts = (await client.query("select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where name = 'probe'")).rows[0];
    const plan = (await client.query(`explain (costs off) execute probe(${args.map((a) => client.escapeLiteral(a)).join(", ")})`)).rows.map((r) => r["QUERY PLAN"] as string).join("\n");
    return { ...counts, plan };
  } finally {
    await client.query("rollback").catch(() => {});
    await client.query("deallocate all").catch(() => {});
    client.release();
  }
}

for (const history of [false, true]) {
  describe(`statements of a firing tick are planned once per session (${history ? "with 200 runs, analyzed" : "a new database"})`, () => {
    let db: TestDatabase;
    before(async () => {
      db = await clockworkDatabase();
      await defineJob(db, { name: "often", schedules: ["* * * * * *"], steps: [{ name: "a", sql: "select 1" }] });
      if (history) {
        // Runs, steps and statistics, as a scheduler that has run for a while has them.
        await db.query("select clockwork.run_now('often') from generate_series(1, 200)");
        await db.query("analyze clockwork.jobs, clockwork.runs, clockwork.step_runs, clockwork.schedules");
      }
    });
    after(async () => {
      await db.drop();
    });

    for (const name of FIRING_STATEMENTS) {
      test(`${name} keeps its generic plan`, async () => {
        // Five custom plans first (the plan cache's rule), then the generic plan every time.
        const { generic, custom } = await plansOf(db, name);
        assert.deepEqual({ generic, custom }, { generic: 7, custom: 5 }, name);
      });
    }
  });
}

// A new install: the tables are empty and analyzed (a nightly VACUUM ANALYZE), and the
// supervisor's session plans its statements then; the plan cache keeps a generic plan, and
// on a table of no pages every plan scans. Then the history grows (a burst, a restore)
// long before autovacuum analyzes again. The plans the session keeps must not scan the
// grown tables: db/query.ts makes them again once a table has doubled.
describe("plans made on empty tables, used once they have grown", () => {
  let db: TestDatabase;
  let session: pg.Client;
  let connections: ReturnType<typeof ownerConnections>;
  let start: Date;
  before(async () => {
    db = await clockworkDatabase();
    // Autovacuum's ANALYZE of the grown tables would make the plans again and hide the hazard.
    await db.query("alter table clockwork.runs set (autovacuum_enabled = off)");
    await db.query("alter table clockwork.step_runs set (autovacuum_enabled = off)");
    await registerWorker(db.pool, "w1");
    await defineJob(db, { name: "every-second", schedules: ["* * * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000); // its first slot is due by then
    await db.query("vacuum analyze");
    session = await db.connect();
    connections = ownerConnections(db.name);
  });
  after(async () => {
    await connections.end();
    await db.drop();
  });

  /** Plans of the statements `session` ran (auto_explain) that read runs or step_runs whole. */
  let scans: string[] = [];
  /** One second of a supervisor's work in `session`: the firing tick that claims the due step, the step, the tick that reports it. */
  async function oneSecond(second: number): Promise<number> {
    const now = new Date(start.getTime() + second * 1000);
    const { claimed } = await tick(session, "w1", now);
    const through = { name: db.name, query: (text: string, params?: unknown[]) => session.query(text, params as any[]) };
    for (const claim of claimed) assert.equal((await runSqlClaim(through, claim, { connections, now })).accepted, true);
    return claimed.length;
  }

  test("the firing tick, the claim, the report and the run's end read by index once the history has grown", async () => {
    // Eight seconds on the empty tables: every statement has made its five custom plans and
    // its generic plan, which the plan cache keeps.
    for (let second = 0; second < 8; second++) assert.ok((await oneSecond(second)) >= 1);
    // 50 000 runs of history, each with its step run, not analyzed.
    await db.query(`
      insert into clockwork.runs (job_id, job_version, trigger, state, created_at, queued_at, started_at, finished_at)
      select j.id, j.version, 'manual', 'succeeded', t, t, t, t
        from clockwork.jobs as j, generate_series(1, 50000), lateral (select $1::timestamptz - interval '1 day' as t) as at`, [start]);
    await db.query(`
      insert into clockwork.step_runs (run_id, step, instance, phase, kind, attempt, state, started_at, finished_at)
      select r.id, 'a', 'a', 'step', 'sql', 1, 'succeeded', r.started_at, r.finished_at
        from clockwork.runs as r where r.finished_at < $1::timestamptz - interval '1 hour'`, [start]);
    // The session reads the tables' sizes at most once a REPLAN_CHECK_MS: let that time pass
    // (the condition under test, not a wait for something to happen elsewhere).
    await new Promise((resolve) => setTimeout(resolve, REPLAN_CHECK_MS + 100));
    // Every plan the session's statements run with, nested ones included.
    session.on("notice", (notice) => {
      const text = notice.message ?? "";
      // Not the foreign-key checks PostgreSQL plans for itself (SELECT 1 FROM ONLY ... FOR KEY
      // SHARE): their plans are PostgreSQL's to make again, at the next ANALYZE (docs/benchmarks.md).
      if (/Query Text: (SELECT 1 FROM ONLY|UPDATE ONLY|DELETE FROM ONLY) /.test(text)) return;
      if (/Seq Scan on (runs|step_runs)\b/.test(text)) scans.push(text);
    });
    await session.query(`
      load 'auto_explain';
      set auto_explain.log_min_duration = 0;
      set auto_explain.log_nested_statements = on;
      set auto_explain.log_level = notice;
      set client_min_messages = notice`);
    for (let second = 8; second < 16; second++) assert.ok((await oneSecond(second)) >= 1);
    await session.query("reset client_min_messages; reset auto_explain.log_min_duration");
    assert.deepEqual(scans, []);
  });
});
