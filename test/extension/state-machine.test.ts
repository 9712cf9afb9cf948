// docs/state-machine.md is checked against the code: every transition of a run or a step
// run is driven here against a real database, each state change is recorded by a trigger,
// and the recorded set must equal the documented one (no undocumented transition, no
// documented one that never happens). The documented states must be the ones the tables
// allow.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, tick, type StepClaim } from "./helpers.ts";

const doc = readFileSync(new URL("../../docs/state-machine.md", import.meta.url), "utf8");

/** Rows of the first table under a heading, as arrays of cells without backticks. */
function tableUnder(heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/state-machine.md has a "## ${heading}" section`);
  const rest = doc.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  const lines = (end < 0 ? rest : rest.slice(0, end)).split("\n").filter((l) => l.startsWith("|"));
  return lines.slice(2).map((l) => l.split("|").slice(1, -1).map((c) => c.trim().replace(/`/g, "")));
}

const documented = (heading: string) => new Set(tableUnder(heading).map(([from, to]) => `${from} → ${to}`));
const documentedStates = (heading: string) => tableUnder(heading).map(([state]) => state!).sort();

describe("the state machine document matches the code", () => {
  let db: TestDatabase;
  const t0 = Date.parse("2045-01-01T00:00:00Z");
  const iso = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();

  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    await registerWorker(db.pool, "w2");
    await db.query("create table transitions (tbl text, from_state text, to_state text)");
    await db.query(`
      create function log_transition() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into public.transitions values (tg_table_name, '—', new.state);
        elsif new.state is distinct from old.state then
          insert into public.transitions values (tg_table_name, old.state, new.state);
        end if;
        return null;
      end $$`);
    await db.query("create trigger log after insert or update on clockwork.runs for each row execute function log_transition()");
    await db.query("create trigger log after insert or update on clockwork.step_runs for each row execute function log_transition()");
  });
  after(async () => {
    await db.drop();
  });

  const runNow = async (job: string, offsetMs: number) =>
    String((await db.query("select clockwork.run_now($1, '{}', $2) as id", [job, iso(offsetMs)])).rows[0].id);
  const claimOf = async (job: string, offsetMs: number, worker = "w1"): Promise<StepClaim> => {
    const claim = (await tick(db.pool, worker, iso(offsetMs))).claimed.find((c) => c.job === job);
    assert.ok(claim, `a step of ${job} is claimed`);
    return claim;
  };
  const report = (claim: StepClaim, offsetMs: number, exitCode: number | null, error: string | null = null, stdout = "") =>
    db.query("select clockwork.complete_step($1, $2, $3, $4, '', $5, $6)", [claim.step_run_id, "w1", exitCode, stdout, error, iso(offsetMs)]);

  test("every documented state is a state the tables allow, and the other way round", async () => {
    // A table's invariants are named one by one in its CHECK function (_<table>_invariants in
    // extension/sql/10_tables.sql): the states are the arm that names the state invariant.
    const allowed = async (invariant: string) => {
      const { rows } = await db.query(
        "select prosrc from pg_proc where pronamespace = 'clockwork'::regnamespace and proname like '\\_%\\_invariants' and prosrc like '%' || $1 || '%'",
        [`'${invariant}'`]);
      assert.equal(rows.length, 1, `one CHECK function names ${invariant}`);
      const arm = new RegExp(`WHEN NOT \\(state IN \\(([^)]*)\\)\\)\\s+THEN '${invariant}'`).exec(rows[0].prosrc as string);
      assert.ok(arm, `${invariant} is a list of states`);
      return [...arm[1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!).sort();
    };
    assert.deepEqual(documentedStates("Run states"), await allowed("runs_state_check"));
    assert.deepEqual(documentedStates("Step run states"), await allowed("step_runs_state_check"));
  });

  test("every transition the code makes is documented, and every documented one happens", async () => {
    // A run that succeeds, a step skipped by its condition.
    await defineJob(db, { name: "ok", steps: [{ name: "a", shell: "true" }, { name: "never", shell: "true", depends: ["a"], when: "a.status == \"failed\"" }] });
    await runNow("ok", 0);
    await report(await claimOf("ok", 0), 1000, 0);
    // A step that fails, and a run that fails.
    await defineJob(db, { name: "bad", steps: [{ name: "a", shell: "false" }] });
    await runNow("bad", 0);
    await report(await claimOf("bad", 0), 1000, 1);
    // Built-ins only: decided at once, without a supervisor.
    await defineJob(db, { name: "builtin", steps: [{ name: "a", builtin: "noop" }] });
    await runNow("builtin", 0);
    // Cancelled before and after a claim.
    await defineJob(db, { name: "cancel", steps: [{ name: "a", shell: "sleep 60" }] });
    const unclaimed = await runNow("cancel", 0);
    await db.query("select clockwork.cancel_run($1, $2)", [unclaimed, iso(1000)]);
    const claimed = await runNow("cancel", 2000);
    await claimOf("cancel", 2000);
    await db.query("select clockwork.cancel_run($1, $2)", [claimed, iso(3000)]);
    // The job's time-out, before and after a claim.
    await defineJob(db, { name: "deadline", policies: { timeout: "1m" }, steps: [{ name: "a", shell: "sleep 600" }] });
    await runNow("deadline", 0);
    await tick(db.pool, "w1", iso(61_000), 0);
    await runNow("deadline", 100_000);
    await claimOf("deadline", 100_000);
    await tick(db.pool, "w1", iso(161_000), 0);
    // A step's own time-out, reported by its supervisor.
    await defineJob(db, { name: "step-timeout", steps: [{ name: "a", shell: "sleep 600", timeout: "1s" }] });
    await runNow("step-timeout", 200_000);
    await report(await claimOf("step-timeout", 200_000), 201_000, null, "timed out after 1000 ms");
    // A lost lease: the step is taken over as attempt 2.
    await defineJob(db, { name: "lost", steps: [{ name: "a", shell: "true" }] });
    await runNow("lost", 300_000);
    await claimOf("lost", 300_000);
    await report(await claimOf("lost", 331_000, "w2"), 332_000, 0).catch(() => undefined);
    // Verdicts: checks and on_error: succeed.
    await defineJob(db, {
      name: "verdicts",
      steps: [{ name: "a", shell: "sleep 600", timeout: "1s", on_error: "succeed" }],
      checks: [{ name: "code", shell: "exit 4", expected_exit_code: 4 }, { name: "out", shell: "echo no", expected: ["OK"] }],
    });
    await runNow("verdicts", 400_000);
    await report(await claimOf("verdicts", 400_000), 401_000, null, "timed out after 1000 ms");
    await report(await claimOf("verdicts", 401_000), 402_000, 4);
    await report(await claimOf("verdicts", 402_000), 403_000, 0, null, "no\n");
    // Overlap: a run held back, released by the end of the one ahead, or cancelled.
    await defineJob(db, { name: "queue", schedules: ["*/10 * * * * *"], policies: { overlap: "queue" }, steps: [{ name: "a", shell: "true" }] }, iso(500_000));
    const q1 = await claimOf("queue", 510_000);
    await tick(db.pool, "w1", iso(520_000), 0);
    await report(q1, 521_000, 0);
    const q2 = await claimOf("queue", 521_000);
    await tick(db.pool, "w1", iso(530_000), 0);
    const waiting = (await db.query("select id from clockwork.runs r where state = 'waiting'")).rows[0].id;
    await db.query("select clockwork.cancel_run($1, $2)", [waiting, iso(531_000)]);
    await report(q2, 532_000, 0);
    await db.query("select clockwork.disable_job('queue')");
    // SQL steps: handed back by a supervisor that cannot log in for them, to another, and
    // failed when none is left; skipped when their server is not in the expected role.
    const sqlReport = (worker: string, claim: StepClaim, offsetMs: number, outcome: string, error: string) =>
      db.query("select clockwork.tick($1, 0, $2, 0, $3::jsonb)", [worker, iso(offsetMs), JSON.stringify([{ step_run: claim.step_run_id, claim: claim.sql!.claim, outcome, error }])]);
    await defineJob(db, { name: "sql-back", steps: [{ name: "a", sql: "select 1" }] });
    await runNow("sql-back", 600_000);
    await tick(db.pool, "w2", iso(600_000), 0); // w2 is alive
    await sqlReport("w1", await claimOf("sql-back", 600_000), 600_100, "handed_back", "cannot log in");
    await sqlReport("w2", await claimOf("sql-back", 600_200, "w2"), 600_300, "handed_back", "cannot log in either");
    await defineJob(db, { name: "sql-skip", steps: [{ name: "a", sql: "select 1" }] });
    await runNow("sql-skip", 700_000);
    await sqlReport("w1", await claimOf("sql-skip", 700_000), 700_100, "skipped", "skipped: the server is a primary");

    const observed = async (table: string) => new Set(
      (await db.query("select distinct from_state, to_state from transitions where tbl = $1", [table])).rows
        .map((r) => `${r.from_state} → ${r.to_state}`));
    const compare = (what: string, seen: Set<string>, listed: Set<string>) => {
      const undocumented = [...seen].filter((t) => !listed.has(t));
      const neverSeen = [...listed].filter((t) => !seen.has(t));
      assert.deepEqual(undocumented, [], `${what}: transitions the code makes that docs/state-machine.md does not list`);
      assert.deepEqual(neverSeen, [], `${what}: transitions docs/state-machine.md lists that never happened here`);
    };
    compare("runs", await observed("runs"), documented("Run transitions"));
    compare("step runs", await observed("step_runs"), documented("Step run transitions"));
  });
});
