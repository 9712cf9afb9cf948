// Reading SQL text as PostgreSQL and psql do: statements, what cannot run in a transaction
// block, and the scripts a supervisor sends for an SQL step.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  analyzeSqlBody, bindLiterals, dollarQuote, parseConninfo, renderClaimedSqlStep, renderSqlStep, scanSql, SESSION_RESET, splitStatements,
  validateJobDefinition, conninfoProblems,
} from "../../extension/src/core/index.ts";

const statementsOf = (sql: string) => splitStatements(sql, scanSql(sql).tokens).map((s) => s.text);

describe("splitting a script into statements", () => {
  const cases: Array<[string, string, string[]]> = [
    ["semicolons end statements", "select 1; select 2;", ["select 1", "select 2"]],
    ["no semicolon after the last", "select 1;\nselect 2", ["select 1", "select 2"]],
    ["empty statements are dropped", ";;select 1;;", ["select 1"]],
    ["semicolons in strings and comments", "select ';' -- ;\n, /* ; /* ; */ */ 'a''b;'; select 2", ["select ';' -- ;\n, /* ; /* ; */ */ 'a''b;'", "select 2"]],
    ["an E-string with an escaped quote", "select E'it\\'s; fine'; select 2", ["select E'it\\'s; fine'", "select 2"]],
    ["a standard string keeps its backslash", "select 'C:\\'; select 2", ["select 'C:\\'", "select 2"]],
    ["dollar quotes with and without tags", "do $$ begin perform 1; end $$; do $f$ $$;$$ $f$", ["do $$ begin perform 1; end $$", "do $f$ $$;$$ $f$"]],
    ["a $ inside an identifier is not a quote", "select a$b$c; select 2", ["select a$b$c", "select 2"]],
    ["quoted identifiers", 'select 1 as "a;b"; select 2', ['select 1 as "a;b"', "select 2"]],
    ["semicolons inside parentheses (psql keeps them)", "select (1; 2); select 3", ["select (1; 2)", "select 3"]],
    ["a BEGIN ATOMIC function body", "create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end; select f()",
      ["create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end", "select f()"]],
    ["BEGIN outside a routine is a statement", "begin; select 1; commit", ["begin", "select 1", "commit"]],
  ];
  for (const [name, sql, expected] of cases) test(name, () => assert.deepEqual(statementsOf(sql), expected));

  test("reports what is left open, with its offset", () => {
    assert.deepEqual(scanSql("select 'abc").unterminated, { what: "quoted string", position: 7 });
    assert.deepEqual(scanSql('select "abc').unterminated, { what: "quoted identifier", position: 7 });
    assert.deepEqual(scanSql("select $q$ x $$").unterminated, { what: "dollar-quoted string", position: 7 });
    assert.deepEqual(scanSql("select /* /* */").unterminated, { what: "block comment", position: 7 });
    assert.deepEqual(scanSql("select E'\\'").unterminated, { what: "quoted string", position: 7 });
    assert.equal(scanSql("select 1 -- open to the end").unterminated, null);
  });
});

describe("statements that cannot run in a transaction block", () => {
  const cases: Array<[string, { statement: number; command: string } | null, number | null]> = [
    ["VACUUM ANALYZE", { statement: 1, command: "VACUUM" }, null],
    ["vacuum (verbose, analyze) t", { statement: 1, command: "VACUUM" }, null],
    ["ANALYZE t", null, null],
    ["REINDEX DATABASE app", { statement: 1, command: "REINDEX DATABASE" }, null],
    ["reindex (verbose) system app", { statement: 1, command: "REINDEX SYSTEM" }, null],
    ["REINDEX SCHEMA s", { statement: 1, command: "REINDEX SCHEMA" }, null],
    ["REINDEX TABLE t", null, null],
    ["REINDEX TABLE CONCURRENTLY t", { statement: 1, command: "REINDEX CONCURRENTLY" }, null],
    ["CREATE INDEX CONCURRENTLY i ON t (x)", { statement: 1, command: "CREATE INDEX CONCURRENTLY" }, null],
    ["create unique index concurrently if not exists i on t (x)", { statement: 1, command: "CREATE INDEX CONCURRENTLY" }, null],
    ["CREATE INDEX i ON t (x)", null, null],
    ["DROP INDEX CONCURRENTLY i", { statement: 1, command: "DROP INDEX CONCURRENTLY" }, null],
    ["CREATE DATABASE reports", { statement: 1, command: "CREATE DATABASE" }, null],
    ["select 1; DROP DATABASE old", { statement: 2, command: "DROP DATABASE" }, null],
    ["ALTER DATABASE app SET TABLESPACE fast", { statement: 1, command: "ALTER DATABASE SET TABLESPACE" }, null],
    ["ALTER DATABASE app SET work_mem = '64MB'", null, null],
    ["ALTER SYSTEM SET work_mem = '64MB'", { statement: 1, command: "ALTER SYSTEM" }, null],
    ["CLUSTER", { statement: 1, command: "CLUSTER without a table" }, null],
    ["CLUSTER t USING i", null, null],
    ["ALTER TABLE p DETACH PARTITION c CONCURRENTLY", { statement: 1, command: "DETACH PARTITION CONCURRENTLY" }, null],
    ["DISCARD ALL", { statement: 1, command: "DISCARD ALL" }, null],
    ["insert into t values (1); commit; insert into t values (2)", { statement: 2, command: "COMMIT" }, null],
    ["BEGIN; select 1; END", { statement: 1, command: "BEGIN" }, null],
    ["start transaction isolation level serializable", { statement: 1, command: "START TRANSACTION" }, null],
    ["savepoint a; select 1; rollback to savepoint a", null, null],
    ["savepoint a; rollback to a", null, null],
    ["CALL refresh_everything()", null, 1],
    ["select 1; call p()", null, 2],
    ["select 'VACUUM'; /* VACUUM */ select $$ COMMIT $$", null, null],
    ["do $$ begin commit; end $$", null, null],
    ["create function f() returns void language sql begin atomic select 1; end", null, null],
  ];
  for (const [sql, needs, call] of cases) {
    test(sql, () => {
      const a = analyzeSqlBody(sql);
      assert.equal(a.problem, null);
      assert.deepEqual(a.needsAutonomy, needs);
      assert.equal(a.firstCall, call);
    });
  }

  test("a step is autonomous when it says so, or when one of its statements needs it or is a CALL", () => {
    const autonomous = (step: Record<string, unknown>) => {
      const r = validateJobDefinition({ name: "j", steps: [{ name: "a", ...step }] });
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      return r.job.steps[0]!.autonomous;
    };
    assert.equal(autonomous({ sql: "select 1" }), false);
    assert.equal(autonomous({ sql: "VACUUM ANALYZE" }), true);
    assert.equal(autonomous({ sql: "CALL p()" }), true);
    assert.equal(autonomous({ sql: "CALL p()", autonomous: false }), false, "a procedure that does not commit can be exactly once");
    assert.equal(autonomous({ sql: "select 1", autonomous: true }), true);
  });
});

describe("parameters as literals", () => {
  test("strings, numbers, booleans and null, each a token of its own", () => {
    assert.equal(
      bindLiterals("select :s::date, :n, -:neg, :b, :z, x:n, ':s'", { s: "2026-01-01", n: 42, neg: -5, b: true, z: null }),
      "select $cw$2026-01-01$cw$::date, 42, -(-5), true, NULL, x 42, ':s'",
    );
  });
  test("a string holding the quote's tag gets another tag", () => {
    assert.equal(dollarQuote("a $cw$ b"), "$cw1$a $cw$ b$cw1$");
    assert.equal(dollarQuote("ends with $cw"), "$cw1$ends with $cw$cw1$");
    // Whatever the value, the result scans as one string token.
    for (const v of ["$", "$$", "'", "\\", "$cw$", "x$cw", "$cw1$$cw$", "';DROP TABLE t;--"]) {
      const tokens = scanSql(dollarQuote(v)).tokens;
      assert.deepEqual(tokens.map((t) => t.kind), ["string"], v);
    }
  });
  test("a missing value is an error naming it", () => {
    assert.throws(() => bindLiterals("select :a", {}), /no value for parameter :a/);
  });
});

describe("the script of an SQL step", () => {
  const id = { job: "nightly", runId: "12", step: "load", instance: "load[region=eu]", stepRunId: "34", attempt: 2, slotAtMs: Date.parse("2026-01-01T03:30:00Z") };

  test("a transactional step in the scheduler's database: one message that commits its finish with its work, then resets", () => {
    const s = renderSqlStep("insert into t values (:region) -- trailing comment", { region: "eu" }, id, { autonomous: false, finish: { stepRunId: "34", claim: "ab12" } });
    assert.equal(s.mode, "transaction");
    assert.equal(s.messages.length, 1);
    const text = s.messages[0]!;
    assert.ok(text.startsWith("BEGIN;\nSELECT pg_catalog.set_config('clockwork.job', $cw$nightly$cw$, true)"), text);
    assert.match(text, /pg_catalog\.set_config\('clockwork\.attempt', \$cw\$2\$cw\$, true\)/);
    assert.match(text, /insert into t values \(\$cw\$eu\$cw\$\) -- trailing comment\n;\nSELECT clockwork\._finish_sql_step\(34, 'ab12'\);\nCOMMIT;\nRESET ALL;/);
    // As the server will read it: BEGIN, settings, the step, finish, COMMIT, the reset.
    const statements = statementsOf(text);
    assert.equal(statements.length, 2 + 1 + s.trailing);
    assert.deepEqual(statements.slice(-SESSION_RESET.length), [...SESSION_RESET]);
    assert.equal(s.trailing, 2 + SESSION_RESET.length);
  });

  test("a step's text cannot swallow what follows it", () => {
    // Even text that ends inside a comment or a string is complete by the time it is sent:
    // definitions refuse unterminated text, and the finish follows a newline.
    const s = renderSqlStep("select 1 --", {}, id, { autonomous: false, finish: { stepRunId: "34", claim: "ab" } });
    assert.ok(statementsOf(s.messages[0]!).some((t) => t === "SELECT clockwork._finish_sql_step(34, 'ab')"));
  });

  test("elsewhere there is no finish: the supervisor reports it", () => {
    const s = renderSqlStep("select 1", {}, id, { autonomous: false, finish: null });
    assert.doesNotMatch(s.messages[0]!, /_finish_sql_step/);
    assert.equal(s.trailing, 1 + SESSION_RESET.length);
  });

  test("an autonomous step: its settings for the session, then one message per statement", () => {
    const s = renderSqlStep("VACUUM ANALYZE;\nREINDEX DATABASE :db", { db: "app" }, id, { autonomous: true, finish: null });
    assert.equal(s.mode, "autonomous");
    assert.deepEqual(s.messages.slice(1), ["VACUUM ANALYZE", "REINDEX DATABASE $cw$app$cw$"]);
    assert.match(s.messages[0]!, /set_config\('clockwork\.run_id', \$cw\$12\$cw\$, false\)/);
  });

  test("a claim renders as the database decided: its identity, parameters, and the finish only when exactly once", () => {
    const claim = {
      job: "nightly", run_id: "12", step: "load", instance: "load[region=eu]", step_run_id: "34", attempt: 2,
      slot_at: "2026-01-01T03:30:00.000Z", params: { region: "eu" },
      sql: { text: "insert into t values (:region) -- trailing comment", autonomous: false, exactly_once: true, claim: "ab12", run_transaction: null },
    };
    const direct = renderSqlStep(claim.sql.text, { region: "eu" }, id, { autonomous: false, finish: { stepRunId: "34", claim: "ab12" } });
    assert.deepEqual(renderClaimedSqlStep(claim), direct);
    assert.match(direct.messages[0]!, /set_config\('clockwork\.slot_at', \$cw\$2026-01-01T03:30:00\.000Z\$cw\$, true\)/);
    const elsewhere = renderClaimedSqlStep({ ...claim, sql: { ...claim.sql, exactly_once: false } });
    assert.doesNotMatch(elsewhere.messages[0]!, /_finish_sql_step/);
    const inRun = renderClaimedSqlStep({ ...claim, slot_at: null, sql: { ...claim.sql, exactly_once: false, run_transaction: { begins: true } } });
    assert.equal(inRun.mode, "run");
    assert.doesNotMatch(inRun.messages[0]!, /slot_at|COMMIT|_finish_sql_step/);
    assert.equal(renderClaimedSqlStep({ ...claim, sql: { ...claim.sql, autonomous: true, exactly_once: false } }).mode, "autonomous");
    assert.throws(() => renderClaimedSqlStep({ ...claim, sql: null }), /not an SQL step/);
  });

  test("the same text rendered again (a text's reading is kept) still carries each step's own identity, finish and parameters", () => {
    const text = "select 1 as one;\nselect :n as n";
    const first = renderSqlStep("select 1 as one", {}, id, { autonomous: false, finish: { stepRunId: "34", claim: "ab" } });
    const again = renderSqlStep("select 1 as one", {}, { ...id, runId: "13", stepRunId: "35", attempt: 1 }, { autonomous: false, finish: { stepRunId: "35", claim: "cd" } });
    assert.match(first.messages[0]!, /'clockwork\.run_id', \$cw\$12\$cw\$.*_finish_sql_step\(34, 'ab'\)/s);
    assert.match(again.messages[0]!, /'clockwork\.run_id', \$cw\$13\$cw\$.*_finish_sql_step\(35, 'cd'\)/s);
    assert.doesNotMatch(again.messages[0]!, /\b34\b|'ab'/);
    // Parameters are bound for each step, never taken from an earlier one.
    const a = renderSqlStep(text, { n: 1 }, id, { autonomous: true, finish: null });
    const b = renderSqlStep(text, { n: 2 }, id, { autonomous: true, finish: null });
    assert.deepEqual([a.messages.slice(1), b.messages.slice(1)], [["select 1 as one", "select 1 as n"], ["select 1 as one", "select 2 as n"]]);
    // A text without parameters read again: the same statements, autonomous or not.
    const plain = "select 1;\nselect 2";
    assert.equal(renderSqlStep(plain, {}, id, { autonomous: false, finish: null }).statements, 2);
    assert.deepEqual(renderSqlStep(plain, {}, id, { autonomous: true, finish: null }).messages.slice(1), ["select 1", "select 2"]);
    assert.throws(() => renderSqlStep("select :missing", {}, id, { autonomous: false, finish: null }), /no value for parameter :missing/);
    assert.throws(() => renderSqlStep("select :missing", {}, id, { autonomous: false, finish: null }), /no value for parameter :missing/, "a refused text is refused again");
  });
});

describe("connection strings", () => {
  test("both forms read into libpq's parameters", () => {
    assert.deepEqual(parseConninfo("host=db port = 5433 dbname='my app' options='-c x=\\'y\\''"), { ok: true, params: { host: "db", port: "5433", dbname: "my app", options: "-c x='y'" } });
    assert.deepEqual(parseConninfo("postgresql://alice@db.example:5433/app?sslmode=require&application_name=x%20y"), {
      ok: true, params: { user: "alice", host: "db.example", port: "5433", dbname: "app", sslmode: "require", application_name: "x y" },
    });
    assert.deepEqual(parseConninfo("postgres://%2Fvar%2Frun%2Fpostgresql/app"), { ok: true, params: { host: "/var/run/postgresql", dbname: "app" } });
    assert.deepEqual(parseConninfo("postgres:///app?host=/tmp"), { ok: true, params: { dbname: "app", host: "/tmp" } });
    assert.equal(parseConninfo("host").ok, false);
  });
  test("the login role is the owner's unless a superuser says otherwise", () => {
    assert.deepEqual(conninfoProblems("host=db user=alice", { owner: "alice", superuser: false }), []);
    assert.equal(conninfoProblems("host=db user=postgres", { owner: "alice", superuser: false }).length, 1);
    assert.deepEqual(conninfoProblems("host=db user=reporting sslkey=/k", { owner: "postgres", superuser: true }), []);
    assert.deepEqual(conninfoProblems("postgres://db/x?passfile=/p", { owner: "alice", superuser: true }), ["passfile is the supervisor's setting (PGPASSFILE), not a connection's"]);
    assert.deepEqual(conninfoProblems("host=db hots=x", { owner: "alice", superuser: false }), ['unknown parameter "hots"']);
  });
});
