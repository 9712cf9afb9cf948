// An SQL step's message as the supervisor sends it (core/sql-step.ts) must not flood a DBA's
// pg_stat_statements: every statement of ours in it is the same entry from one step to the
// next. pg_stat_statements on PostgreSQL 15 keys a utility statement by its text, constants
// included, so a per-step value in one (SET LOCAL clockwork.run_id = '…') would be a new
// entry for every step. On a cluster of its own, with the module preloaded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { renderClaimedSqlStep, type ClaimedSqlStep } from "../../extension/src/core/sql-step.ts";
import { adminQuery } from "../support/db.ts";
import { connect, extensionMissing } from "./support.ts";

const missing = (await extensionMissing())
  ?? ((await adminQuery("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'pg_stat_statements'")).rows[0].n === 1
    ? null : "pg_stat_statements is not installed");

describe("an SQL step's message and pg_stat_statements", { skip: missing ?? false }, () => {
  let cluster: Cluster;
  let client: pg.Client;

  before(async () => {
    cluster = await startCluster({ settings: { shared_preload_libraries: "'pg_stat_statements'" } });
    client = await connect(cluster.url("postgres"));
    await client.query(`CREATE EXTENSION pg_stat_statements; ${installClockworkSql}`);
    const job = { name: "noop", policies: { max_instances: 1000 }, steps: [{ name: "a", sql: "select 1" }] };
    await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(job)]);
    await client.query("SELECT clockwork.register_worker('w')");
  });

  after(async () => {
    await client?.end();
    cluster?.stop();
  });

  test("the statements of ours in 30 steps' messages are as many entries as in one step's", async () => {
    await client.query("SELECT clockwork.run_now('noop') FROM generate_series(1, 30)");
    const claimed = (await client.query("SELECT clockwork.tick('w', 30) AS t")).rows[0].t.claimed as ClaimedSqlStep[];
    assert.equal(claimed.length, 30);
    const owner = await connect(cluster.url("postgres"));
    const entries = async (): Promise<Map<string, number>> => {
      const rows = (await client.query(
        "SELECT query, calls::int AS calls FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%'")).rows;
      return new Map(rows.map((r) => [r.query as string, r.calls as number]));
    };
    try {
      await client.query("SELECT pg_stat_statements_reset()");
      await owner.query(renderClaimedSqlStep(claimed[0]!).messages[0]!);
      const afterOne = await entries();
      for (const claim of claimed.slice(1)) await owner.query(renderClaimedSqlStep(claim).messages[0]!);
      const afterAll = await entries();
      assert.deepEqual([...afterAll.keys()].sort(), [...afterOne.keys()].sort(), "no step adds entries of its own");
      // Each entry of the message counted every step: the settings, the finish, the reset.
      for (const [query, calls] of afterAll) assert.equal(calls, 30, query);
      assert.ok([...afterAll.keys()].some((q) => q.includes("set_config")), "the settings are one entry");
      assert.ok([...afterAll.keys()].some((q) => q.includes("_finish_sql_step")), "the finish is one entry");
    } finally {
      await owner.end();
    }
    // Every step recorded its completion.
    const finished = (await client.query("SELECT count(*)::int AS n FROM clockwork.step_runs WHERE state = 'succeeded'")).rows[0].n;
    assert.equal(finished, 30);
  });
});
