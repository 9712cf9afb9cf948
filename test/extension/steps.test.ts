// Running steps through the SQL API, as a supervisor would, with pinned time.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { runScript } from "../../supervisor/src/steps/script-query.ts";
import { clockworkDatabase, defineJob, registerWorker, report, runSqlClaim, sqlErrorOf, tick } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { renderClaimedSqlStep } from "../../extension/src/core/sql-step.ts";

async function stepRows(db: TestDatabase, job: string) {
  const { rows } = await db.query(
    `select step, instance, attempt, state, exit_code, sql_state, error, stdout, result
       from clockwork.step_history where job = $1 order by step_run_id`, [job]);
  return rows;
}

async function runState(db: TestDatabase, job: string) {
  const { rows } = await db.query("select state, reason from clockwork.run_history where job = $1 order by run_id desc limit 1", [job]);
  return rows[0];
}

describe("running steps", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    await registerWorker(db.pool, "w2");
    await db.query("create table audit (id serial, note text, who text default current_user)");
  });
  after(async () => {
    await db.drop();
  });

  test("an SQL step runs, its rows are recorded and the run succeeds", async () => {
    await defineJob(db, { name: "sql-ok", steps: [{ name: "a", sql: "insert into audit (note) values ('ran') returning note" }] });
    await db.query("select clockwork.run_now('sql-ok')");
    const { claimed } = await tick(db.pool, "w1", new Date());
    const claim = claimed.find((c) => c.job === "sql-ok")!;
    assert.equal(claim.kind, "sql");
    const result = await runSqlClaim(db, claim);
    assert.equal(result.accepted, true);
    assert.equal(result.end, "succeeded");
    const [step] = await stepRows(db, "sql-ok");
    assert.equal(step.state, "succeeded");
    assert.deepEqual(step.result, [{ note: "ran" }]);
    assert.equal((await runState(db, "sql-ok")).state, "succeeded");
  });

  test("an SQL error is captured with its SQLSTATE, its work is undone, and on_error decides", async () => {
    await defineJob(db, {
      name: "sql-error",
      steps: [
        { name: "bad", sql: "insert into audit (note) values ('half'); select 1/0", on_error: "continue" },
        { name: "after", sql: "select 'next' as x", depends: ["bad"] },
      ],
    });
    await db.query("select clockwork.run_now('sql-error')");
    let claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "sql-error")!;
    const result = await runSqlClaim(db, claim);
    assert.equal(result.sqlState, "22012");
    const half = await db.query("select count(*)::int as n from audit where note = 'half'");
    assert.equal(half.rows[0].n, 0, "the failed step's statements were rolled back");
    claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "sql-error")!;
    assert.equal(claim.step, "after", "on_error: continue lets the dependent step run");
    await runSqlClaim(db, claim);
    const rows = await stepRows(db, "sql-error");
    assert.deepEqual(rows.map((r) => [r.step, r.state, r.sql_state]), [["bad", "failed", "22012"], ["after", "succeeded", null]]);
    assert.match(rows[0].error, /division by zero/);
    assert.equal((await runState(db, "sql-error")).state, "succeeded");
  });

  test("a failing step with on_error: fail fails the run and skips its dependents", async () => {
    await defineJob(db, {
      name: "sql-fail",
      steps: [{ name: "bad", sql: "select 1/0" }, { name: "never", sql: "select 1", depends: ["bad"] }],
    });
    await db.query("select clockwork.run_now('sql-fail')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "sql-fail")!;
    await runSqlClaim(db, claim);
    const rows = await stepRows(db, "sql-fail");
    assert.deepEqual(rows.map((r) => [r.step, r.state]), [["bad", "failed"], ["never", "skipped"]]);
    const run = await runState(db, "sql-fail");
    assert.equal(run.state, "failed");
    assert.match(run.reason, /step "bad" failed/);
  });

  test("an SQL step over its time-out is cancelled and recorded as timed out", async () => {
    await defineJob(db, { name: "sql-slow", steps: [{ name: "slow", sql: "select pg_sleep(5)", timeout: "200ms" }] });
    await db.query("select clockwork.run_now('sql-slow')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "sql-slow")!;
    assert.equal(claim.timeout_ms, 200);
    const started = Date.now();
    const result = await runSqlClaim(db, claim);
    assert.ok(Date.now() - started < 3000, "cancelled well before pg_sleep(5) ended");
    assert.equal(result.accepted, true);
    assert.equal(result.report?.stopped_by, "timeout", "the supervisor says how it stopped the step");
    const [step] = await stepRows(db, "sql-slow");
    assert.equal(step.state, "timed_out");
    assert.match(step.error, /timed out/);
  });

  test("an SQL step whose own error says \"timed out\" failed: it was not stopped at its time-out", async () => {
    await defineJob(db, {
      name: "sql-says-timed-out",
      steps: [{ name: "vendor", sql: "do $$ begin raise exception 'timed out waiting for the vendor'; end $$", timeout: "1h" }],
    });
    await db.query("select clockwork.run_now('sql-says-timed-out')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "sql-says-timed-out")!;
    const result = await runSqlClaim(db, claim);
    assert.equal(result.report?.stopped_by, "none");
    const [step] = await stepRows(db, "sql-says-timed-out");
    assert.deepEqual([step.state, step.sql_state], ["failed", "P0001"]);
    assert.match(step.error, /^timed out waiting for the vendor/, "the error stays the statement's own text");
  });

  // How an attempt that did not succeed counts is said by stopped_by, not read from the
  // error text (db/lifecycle.ts, failedAttemptState); a supervisor older than the field
  // sends none, and its time-outs are still known by their "timed out" prefix.
  describe("stopped_by decides timed_out; without it (an older supervisor) the error's prefix does", () => {
    let n = 0;
    async function claimOne(kind: "shell" | "sql"): Promise<{ step_run_id: string; claim: string; job: string }> {
      const job = `stop-cause-${kind}-${++n}`;
      await defineJob(db, { name: job, steps: [{ name: "s", ...(kind === "shell" ? { shell: "true" } : { sql: "select 1" }), timeout: "1h" }] });
      await db.query("select clockwork.run_now($1)", [job]);
      const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === job)!;
      return { step_run_id: claim.step_run_id, claim: claim.kind === "sql" ? claim.sql!.claim : "", job };
    }
    async function stateOf(job: string): Promise<[string, string]> {
      const [step] = await stepRows(db, job);
      return [step.state, step.error];
    }

    for (const [label, stoppedBy, error, expected] of [
      ["its own error text says \"timed out\", not stopped", "none", "timed out waiting for the vendor", "failed"],
      ["stopped at its time-out, whatever the text", "timeout", "killed by SIGTERM", "timed_out"],
      ["a stop cause this version does not know", "shutdown", "timed out after 100 ms", "failed"],
    ] as const) {
      test(`complete_step: ${label} → ${expected}`, async () => {
        const c = await claimOne("shell");
        const { rows } = await db.query("select clockwork.complete_step($1, 'w1', 1, '', '', $2, stopped_by => $3) as r",
          [c.step_run_id, error, stoppedBy]);
        assert.deepEqual([rows[0].r.accepted, rows[0].r.state], [true, expected]);
        assert.deepEqual(await stateOf(c.job), [expected, error], "the error is kept as written");
      });

      test(`a report of an SQL step: ${label} → ${expected}`, async () => {
        const c = await claimOne("sql");
        const answer = await report(db, "w1", [{ step_run: c.step_run_id, claim: c.claim, outcome: "failed", error, stopped_by: stoppedBy as "none" }]);
        assert.deepEqual(answer.refused_reports, []);
        assert.deepEqual(await stateOf(c.job), [expected, error]);
      });
    }

    test("complete_step as an older supervisor calls it (no stopped_by): \"timed out …\" is a time-out, other text a failure", async () => {
      const timedOut = await claimOne("shell");
      const a = await db.query("select clockwork.complete_step($1::bigint, 'w1', 143, '', '', 'timed out after 5000 ms') as r", [timedOut.step_run_id]);
      assert.equal(a.rows[0].r.state, "timed_out");
      const failed = await claimOne("shell");
      const b = await db.query("select clockwork.complete_step($1::bigint, 'w1', 1, '', '', 'exited: upstream timed out') as r", [failed.step_run_id]);
      assert.equal(b.rows[0].r.state, "failed");
    });

    test("a report without stopped_by (an older supervisor): \"timed out …\" is a time-out, other text a failure", async () => {
      const timedOut = await claimOne("sql");
      const failed = await claimOne("sql");
      const answer = await report(db, "w1", [
        { step_run: timedOut.step_run_id, claim: timedOut.claim, outcome: "failed", error: "timed out after 300 ms", sql_state: "57014" },
        { step_run: failed.step_run_id, claim: failed.claim, outcome: "failed", error: "division by zero", sql_state: "22012" },
      ]);
      assert.deepEqual(answer.refused_reports, []);
      assert.deepEqual(await stateOf(timedOut.job), ["timed_out", "timed out after 300 ms"]);
      assert.deepEqual(await stateOf(failed.job), ["failed", "division by zero"]);
    });
  });

  test("SQL steps run with the job owner's privileges, not the supervisor's", async () => {
    await adminQuery("do $$ begin create role cw_owner login; exception when duplicate_object then null; end $$");
    await db.query("create table secret (x int); revoke all on secret from public");
    await db.query("grant insert, select on audit to cw_owner; grant usage on sequence audit_id_seq to cw_owner");
    const owner = await db.connect({ user: "cw_owner" });
    await owner.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "as-owner",
      steps: [
        { name: "who", sql: "insert into audit (note) values ('owner-step') returning who, session_user::text as login" },
        { name: "peek", sql: "select count(*) from secret", depends: ["who"] },
      ],
    })]);
    await owner.query("select clockwork.run_now('as-owner')");
    let claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "as-owner")!;
    await runSqlClaim(db, claim);
    claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "as-owner")!;
    await runSqlClaim(db, claim);
    const rows = await stepRows(db, "as-owner");
    assert.deepEqual(rows[0].result, [{ who: "cw_owner", login: "cw_owner" }], "logged in as the owner, not switched to it");
    assert.equal(rows[1].state, "failed");
    assert.equal(rows[1].sql_state, "42501", "the owner may not read the secret table");
  });

  test("an SQL step's completion commits with its work, fenced by the claim's secret", async () => {
    await defineJob(db, { name: "fenced", steps: [{ name: "a", sql: "insert into audit (note) values ('fenced')" }] });
    await db.query("select clockwork.run_now('fenced')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "fenced")!;
    const owner = await db.connect({ user: claim.sql!.login });
    // The same message with another secret: the finish raises and the insert goes with it.
    const forged = renderClaimedSqlStep(claim).messages[0]!.replace(claim.sql!.claim, "0".repeat(64));
    const out = await runScript(owner, forged);
    assert.equal(out.error?.code, SQLSTATE.claim_not_held);
    assert.match(out.error!.message, /step run \d+ is no longer held by this claim/);
    await runScript(owner, "ROLLBACK");
    assert.equal((await db.query("select count(*)::int as n from audit where note = 'fenced'")).rows[0].n, 0);
    // A report with another secret, or from another worker, is refused.
    const refused = await report(db, "w1", [{ step_run: claim.step_run_id, claim: "f".repeat(64), outcome: "failed", error: "forged" }]);
    assert.deepEqual(refused.refused_reports, [claim.step_run_id]);
    const otherWorker = await report(db, "w2", [{ step_run: claim.step_run_id, claim: claim.sql!.claim, outcome: "failed", error: "forged" }]);
    assert.deepEqual(otherWorker.refused_reports, [claim.step_run_id]);
    // The real one commits once.
    assert.equal((await runSqlClaim(db, claim)).accepted, true);
    assert.equal((await db.query("select count(*)::int as n from audit where note = 'fenced'")).rows[0].n, 1);
    assert.equal((await runState(db, "fenced")).state, "succeeded");
  });

  test("an SQL step that committed but was never reported is decided once a lease has passed, without its rows", async () => {
    await defineJob(db, { name: "unreported", steps: [{ name: "a", sql: "insert into audit (note) values ('unreported') returning note" }, { name: "b", sql: "select 1", depends: "a" }] });
    await db.query("select clockwork.run_now('unreported')");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "unreported")!;
    const owner = await db.connect({ user: claim.sql!.login });
    const out = await runScript(owner, renderClaimedSqlStep(claim).messages[0]!);
    assert.equal(out.error, null);
    // The supervisor died before its next tick: the step is done, the run waits.
    let [a] = await stepRows(db, "unreported");
    assert.equal(a.state, "succeeded");
    const waiting = await db.query("select awaiting_report from clockwork.step_runs where id = $1", [claim.step_run_id]);
    assert.equal(waiting.rows[0].awaiting_report, true);
    assert.equal((await tick(db.pool, "w2", new Date(Date.now() + 5_000))).claimed.filter((c) => c.job === "unreported").length, 0, "not before a lease has passed");
    const later = await tick(db.pool, "w2", new Date(Date.now() + 31_000));
    const b = later.claimed.find((c) => c.job === "unreported")!;
    assert.equal(b.step, "b", "the run moved on");
    [a] = await stepRows(db, "unreported");
    assert.deepEqual([a.state, a.result], ["succeeded", null]);
    assert.equal((await db.query("select count(*)::int as n from audit where note = 'unreported'")).rows[0].n, 1);
    // The dead supervisor's report, were it to come now, changes nothing.
    const late = await report(db, "w1", [{ step_run: claim.step_run_id, claim: claim.sql!.claim, outcome: "succeeded", rows: [{ note: "late" }] }]);
    assert.deepEqual(late.refused_reports, [claim.step_run_id]);
  });

  test("a shell step's exit code and output land in the history via complete_step", async () => {
    await defineJob(db, { name: "shell-ok", parameters: { target: "eu" }, steps: [{ name: "echo", shell: "echo $target" }] });
    await db.query(`select clockwork.run_now('shell-ok', '{"target": "us"}')`);
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "shell-ok")!;
    assert.equal(claim.kind, "shell");
    assert.equal(claim.script, "echo $target");
    assert.equal(claim.env.target, "us", "run parameters override job defaults");
    assert.equal(claim.env.CLOCKWORK_ATTEMPT, "1");
    assert.equal(claim.env.CLOCKWORK_RUN_ID, claim.run_id);
    await db.query("select clockwork.append_output($1, 'w1', 'stdout', 'u')", [claim.step_run_id]);
    const { rows } = await db.query("select clockwork.complete_step($1, 'w1', 0, 's' || chr(10), '') as r", [claim.step_run_id]);
    assert.equal(rows[0].r.accepted, true);
    const [step] = await stepRows(db, "shell-ok");
    assert.equal(step.exit_code, 0);
    assert.equal(step.stdout, "us\n");
    assert.equal((await runState(db, "shell-ok")).state, "succeeded");
  });

  test("run_now rejects a parameter the job does not have", async () => {
    const error = await sqlErrorOf(db.pool, `select clockwork.run_now('shell-ok', '{"targt": "x"}')`);
    assert.equal(error.code, SQLSTATE.invalid_parameter);
    assert.match(error.message, /did you mean "target"/);
  });

  test("a failed step is retried with back-off, with the attempt number exposed", async () => {
    await defineJob(db, {
      name: "retrying",
      policies: { retry: { attempts: 3, backoff: "exponential", delay: "10s" } },
      steps: [{ name: "flaky", shell: "exit 1" }],
    });
    const t0 = Date.parse("2031-01-01T00:00:00Z");
    await db.query("select clockwork.run_now('retrying', '{}', $1)", [new Date(t0)]);
    let claim = (await tick(db.pool, "w1", new Date(t0))).claimed.find((c) => c.job === "retrying")!;
    await db.query("select clockwork.complete_step($1, 'w1', 1, '', '', null, $2)", [claim.step_run_id, new Date(t0 + 1000)]);
    // Back-off: 10 s after the failure at t0+1s, not before.
    assert.equal((await tick(db.pool, "w1", new Date(t0 + 5000))).claimed.filter((c) => c.job === "retrying").length, 0);
    claim = (await tick(db.pool, "w1", new Date(t0 + 11_000))).claimed.find((c) => c.job === "retrying")!;
    assert.equal(claim.attempt, 2);
    assert.equal(claim.env.CLOCKWORK_ATTEMPT, "2");
    await db.query("select clockwork.complete_step($1, 'w1', 1, '', '', null, $2)", [claim.step_run_id, new Date(t0 + 12_000)]);
    // Second back-off doubles: 20 s.
    assert.equal((await tick(db.pool, "w1", new Date(t0 + 25_000))).claimed.filter((c) => c.job === "retrying").length, 0);
    claim = (await tick(db.pool, "w1", new Date(t0 + 33_000))).claimed.find((c) => c.job === "retrying")!;
    assert.equal(claim.attempt, 3);
    await db.query("select clockwork.complete_step($1, 'w1', 1, '', '', null, $2)", [claim.step_run_id, new Date(t0 + 34_000)]);
    const rows = await stepRows(db, "retrying");
    assert.deepEqual(rows.map((r) => [r.attempt, r.state]), [[1, "failed"], [2, "failed"], [3, "failed"]]);
    assert.equal((await runState(db, "retrying")).state, "failed");
  });

  test("an expired lease goes back to the queue with attempt + 1, and the old holder is fenced", async () => {
    await defineJob(db, { name: "leased", steps: [{ name: "work", shell: "sleep 1" }] });
    const t0 = Date.parse("2032-01-01T00:00:00Z");
    await db.query("select clockwork.run_now('leased', '{}', $1)", [new Date(t0)]);
    const first = (await tick(db.pool, "w1", new Date(t0))).claimed.find((c) => c.job === "leased")!;
    assert.equal(first.attempt, 1);
    // w1 goes silent; 31 s later another worker's tick takes the step over.
    const second = (await tick(db.pool, "w2", new Date(t0 + 31_000))).claimed.find((c) => c.job === "leased")!;
    assert.equal(second.attempt, 2);
    assert.notEqual(second.step_run_id, first.step_run_id);
    const late = await db.query("select clockwork.complete_step($1, 'w1', 0, 'late', '') as r", [first.step_run_id]);
    assert.equal(late.rows[0].r.accepted, false, "the orphan's late report is refused");
    const live = await db.query("select clockwork.append_output($1, 'w1', 'stdout', 'x') as ok", [first.step_run_id]);
    assert.equal(live.rows[0].ok, false);
    const ok = await db.query("select clockwork.complete_step($1, 'w2', 0, 'done', '', null, $2) as r", [second.step_run_id, new Date(t0 + 32_000)]);
    assert.equal(ok.rows[0].r.accepted, true);
    const rows = await stepRows(db, "leased");
    assert.deepEqual(rows.map((r) => [r.attempt, r.state, r.stdout]), [[1, "lost", ""], [2, "succeeded", "done"]]);
  });

  test("a claim given back unstarted (released) is ready again, same attempt, for any worker; only its holder can give it back", async () => {
    await defineJob(db, { name: "released", steps: [{ name: "work", shell: "true" }] });
    const t0 = Date.parse("2033-01-01T00:00:00Z");
    await db.query("select clockwork.run_now('released', '{}', $1)", [new Date(t0)]);
    const first = (await tick(db.pool, "w1", new Date(t0))).claimed.find((c) => c.job === "released")!;
    assert.equal(typeof first.claim, "string", "every claim carries its secret, not only SQL ones");
    const release = (worker: string, secret: string, at: number) => db.query("select clockwork.tick($1, 0, $2, 0, $3::jsonb) as t",
      [worker, new Date(at), JSON.stringify([{ step_run: first.step_run_id, claim: secret, outcome: "released" }])]);
    // Another worker, or the holder with a wrong secret, cannot give it back.
    assert.deepEqual((await release("w2", first.claim, t0 + 100)).rows[0].t.refused_reports, [first.step_run_id]);
    assert.deepEqual((await release("w1", "0".repeat(64), t0 + 100)).rows[0].t.refused_reports, [first.step_run_id]);
    const held = await db.query("select state, worker_name from clockwork.step_runs where id = $1", [first.step_run_id]);
    assert.deepEqual(held.rows[0], { state: "running", worker_name: "w1" });
    assert.deepEqual((await release("w1", first.claim, t0 + 200)).rows[0].t.refused_reports, []);
    const back = await db.query("select state, worker_name, started_at, ready_at from clockwork.step_runs where id = $1", [first.step_run_id]);
    assert.equal(back.rows[0].state, "ready");
    assert.equal(back.rows[0].worker_name, null);
    assert.equal(back.rows[0].started_at, null);
    assert.equal(back.rows[0].ready_at.getTime(), t0, "it keeps its place: ready since it was claimed");
    // The same step row, attempt 1, goes to the next claimer; the old secret is void.
    const second = (await tick(db.pool, "w2", new Date(t0 + 300))).claimed.find((c) => c.job === "released")!;
    assert.equal(second.step_run_id, first.step_run_id);
    assert.equal(second.attempt, 1);
    assert.deepEqual((await release("w1", first.claim, t0 + 400)).rows[0].t.refused_reports, [first.step_run_id]);
    const done = await db.query("select clockwork.complete_step($1, 'w2', 0, 'done', '', null, $2) as r", [second.step_run_id, new Date(t0 + 500)]);
    assert.equal(done.rows[0].r.accepted, true);
    const rows = await stepRows(db, "released");
    assert.deepEqual(rows.map((r) => [r.attempt, r.state, r.stdout]), [[1, "succeeded", "done"]], "no trace of the release in the history");
    assert.equal((await runState(db, "released")).state, "succeeded");
  });

  test("heartbeats keep a lease alive", async () => {
    await defineJob(db, { name: "heartbeating", steps: [{ name: "work", shell: "sleep 60" }] });
    const t0 = Date.parse("2033-01-01T00:00:00Z");
    await db.query("select clockwork.run_now('heartbeating', '{}', $1)", [new Date(t0)]);
    const claim = (await tick(db.pool, "w1", new Date(t0))).claimed.find((c) => c.job === "heartbeating")!;
    await db.query("select clockwork.heartbeat('w1', $1)", [new Date(t0 + 20_000)]);
    const other = await tick(db.pool, "w2", new Date(t0 + 40_000));
    assert.equal(other.claimed.filter((c) => c.job === "heartbeating").length, 0, "lease extended to t0+50s");
    const r = await db.query("select clockwork.complete_step($1, 'w1', 0, '', '', null, $2) as r", [claim.step_run_id, new Date(t0 + 45_000)]);
    assert.equal(r.rows[0].r.accepted, true);
  });

  test("matrix steps run one instance per combination, with values as parameters", async () => {
    await defineJob(db, {
      name: "matrixed",
      steps: [{ name: "per-region", sql: "select :region::text as r, :size::int as s", matrix: { region: ["eu", "us"], size: [1, 2] } }],
    });
    await db.query("select clockwork.run_now('matrixed')");
    const claims = (await tick(db.pool, "w1", new Date())).claimed.filter((c) => c.job === "matrixed");
    assert.equal(claims.length, 4);
    for (const c of claims) await runSqlClaim(db, c);
    const rows = await stepRows(db, "matrixed");
    assert.deepEqual(rows.map((r) => r.result[0]).sort((a, b) => (a.r + a.s < b.r + b.s ? -1 : 1)), [
      { r: "eu", s: 1 }, { r: "eu", s: 2 }, { r: "us", s: 1 }, { r: "us", s: 2 },
    ]);
    assert.equal((await runState(db, "matrixed")).state, "succeeded");
  });

  test("checks after the steps decide the final status from expected output", async () => {
    await defineJob(db, {
      name: "checked",
      steps: [{ name: "work", sql: "select 1" }],
      checks: [{ name: "verify", shell: "echo 'ERROR: disk full'", unexpected: ["ERROR"] }],
    });
    await db.query("select clockwork.run_now('checked')");
    const work = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "checked")!;
    await runSqlClaim(db, work);
    const check = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "checked")!;
    assert.equal(check.step, "verify");
    await db.query("select clockwork.complete_step($1, 'w1', 0, 'ERROR: disk full', '')", [check.step_run_id]);
    const run = await runState(db, "checked");
    assert.equal(run.state, "failed");
    assert.match(run.reason, /ERROR/);
  });

  test("a job's time-out ends a run whose step never reports: tick wakes it at the deadline", async () => {
    const listener = await db.pool.connect();
    const cancels: string[] = [];
    listener.on("notification", (n) => { if (n.channel === "clockwork_cancel") cancels.push(n.payload ?? ""); });
    await listener.query("listen clockwork_cancel");
    try {
      await defineJob(db, { name: "deadline", policies: { timeout: "10s" }, steps: [{ name: "hang", shell: "sleep 600" }, { name: "after", shell: "true", depends: "hang" }] });
      const t0 = Date.parse("2031-01-01T00:00:00Z");
      const { rows } = await db.query("select clockwork.run_now('deadline', '{}', $1) as id", [new Date(t0)]);
      const first = await tick(db.pool, "w1", new Date(t0));
      const claim = first.claimed.find((c) => c.job === "deadline")!;
      // Asleep until the deadline at the latest, not until the 30 s lease end.
      assert.ok(Date.parse(first.next_due_at!) <= t0 + 10_000, `next_due_at ${first.next_due_at}`);
      const wake = await db.query("select wake_at from clockwork.runs where id = $1", [rows[0].id]);
      assert.equal(wake.rows[0].wake_at.toISOString(), "2031-01-01T00:00:10.000Z");
      // Before the deadline nothing happens; at it, the run ends timed out.
      await tick(db.pool, "w1", new Date(t0 + 9_000), 0);
      assert.equal((await runState(db, "deadline")).state, "running");
      await tick(db.pool, "w1", new Date(t0 + 10_000), 0);
      const run = await runState(db, "deadline");
      assert.deepEqual([run.state, run.reason], ["timed_out", "run exceeded its time-out of 10 seconds"]);
      const steps = await stepRows(db, "deadline");
      assert.deepEqual(steps.map((r: { step: string; state: string; error: string | null }) => [r.step, r.state, r.error]), [
        ["hang", "cancelled", "run timed out"],
        ["after", "skipped", "run_timed_out"],
      ]);
      const after = await db.query("select wake_at from clockwork.runs where id = $1", [rows[0].id]);
      assert.equal(after.rows[0].wake_at, null);
      // The supervisor holding the step is told to stop it, and its late report is refused.
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(cancels.some((p) => p.includes(claim.step_run_id)), `cancel notified: ${JSON.stringify(cancels)}`);
      const late = await db.query("select clockwork.complete_step($1, 'w1', 143, '', '') as r", [claim.step_run_id]);
      assert.equal(late.rows[0].r.accepted, false);
    } finally {
      await listener.query("unlisten *");
      listener.release();
    }
  });

  test("cancel_run stops a run and tells the supervisor through heartbeat", async () => {
    await defineJob(db, { name: "cancelled", steps: [{ name: "work", shell: "sleep 60" }] });
    const { rows } = await db.query("select clockwork.run_now('cancelled') as id");
    const claim = (await tick(db.pool, "w1", new Date())).claimed.find((c) => c.job === "cancelled")!;
    await db.query("select clockwork.cancel_run($1)", [rows[0].id]);
    const hb = await db.query("select clockwork.heartbeat('w1') as h");
    assert.ok(hb.rows[0].h.cancel.includes(claim.step_run_id));
    const late = await db.query("select clockwork.complete_step($1, 'w1', 143, '', '') as r", [claim.step_run_id]);
    assert.equal(late.rows[0].r.accepted, false);
    assert.equal((await runState(db, "cancelled")).state, "cancelled");
  });
});
