import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { validateJobDefinition, formatIssue, conninfoHasPassword, checkRunParameters, definitionTextTooLarge, MAX_DEFINITION_BYTES, type ValidationEnvironment, SQLSTATE } from "../../extension/src/core/index.ts";
import { isValidTimeZone } from "./tz.ts";

const env: ValidationEnvironment = { isValidTimeZone, connections: ["warehouse", "reporting"], calendars: ["holidays"], allowShellSteps: true };
const base = { name: "nightly", steps: { extract: { sql: "select 1" } } };

function errors(def: unknown, e: ValidationEnvironment = env): Array<[string, string]> {
  const r = validateJobDefinition(def, e);
  if (r.ok) throw new Error("expected the definition to be rejected");
  return r.errors.map((x) => [x.code, formatIssue(x)]);
}

describe("a valid definition is normalized", () => {
  test("with defaults", () => {
    const r = validateJobDefinition({
      name: "etl", schedules: ["0 2 * * *", { every: "5m", time_zone: "Europe/Berlin" }], time_zone: "America/New_York",
      parameters: { region: "eu" },
      policies: { misfire: "once", overlap: "queue", retry: { attempts: 3, backoff: "fixed", delay: "30s" }, timeout: "1h" },
      steps: [
        { name: "extract", sql: "select :region" },
        { name: "load", shell: "./load.sh", depends: "extract", when: 'extract.status == "succeeded"', on_error: "i", matrix: { part: [1, 2] }, retries: 2, timeout: "10m", env: { MODE: "full" } },
      ],
      checks: [{ name: "count", sql: "select count(*) from t", expected: "1" }],
    }, env);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    const j = r.job;
    assert.equal(j.schedules[0]!.timeZone, "America/New_York"); // job zone is the schedules' default
    assert.equal(j.schedules[1]!.timeZone, "Europe/Berlin");
    assert.equal(j.policies.misfire.policy, "once");
    assert.deepEqual(j.policies.overlap, { mode: "buffer_all", maxInstances: 1, maxQueued: 1000 }, "queue is buffer_all");
    assert.deepEqual(j.policies.retry, { attempts: 3, backoff: "fixed", delayMs: 30_000, maxDelayMs: 3_600_000, jitter: 0 });
    assert.equal(j.policies.timeoutMs, 3_600_000);
    const load = j.steps[1]!;
    assert.deepEqual([load.kind, load.depends, load.onError, load.retries, load.timeoutMs, load.env], ["shell", ["extract"], "continue", 2, 600_000, { MODE: "full" }]);
    assert.deepEqual(j.order, ["extract", "load"]);
    assert.deepEqual(j.checks[0]!.expected, ["1"]);
  });
  test("order puts dependencies first whatever the definition order", () => {
    const r = validateJobDefinition({ name: "j", steps: { c: { sql: "x", depends: ["b"] }, b: { sql: "x", depends: ["a"] }, a: { sql: "x" } } }, env);
    assert.deepEqual(r.ok && r.job.order, ["a", "b", "c"]);
  });
  test("overlap in Temporal's vocabulary, with today's names as aliases and documented defaults", () => {
    const overlap = (policies: object) => {
      const r = validateJobDefinition({ ...base, policies }, env);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      return r.job.policies.overlap;
    };
    assert.deepEqual(overlap({}), { mode: "skip", maxInstances: 1, maxQueued: 0 });
    assert.deepEqual(overlap({ overlap: "buffer_one" }), { mode: "buffer_one", maxInstances: 1, maxQueued: 1 });
    assert.deepEqual(overlap({ overlap: "buffer_all" }), { mode: "buffer_all", maxInstances: 1, maxQueued: 1000 });
    assert.deepEqual(overlap({ overlap: { mode: "buffer_all", max_queue: 5, max_instances: 2 } }), { mode: "buffer_all", maxInstances: 2, maxQueued: 5 });
    assert.deepEqual(overlap({ overlap: "cancel_other" }), { mode: "cancel_other", maxInstances: 1, maxQueued: 0 });
    assert.deepEqual(overlap({ overlap: "terminate_other" }), { mode: "terminate_other", maxInstances: 1, maxQueued: 0 });
    assert.deepEqual(overlap({ overlap: "allow_all" }), { mode: "allow_all", maxInstances: null, maxQueued: 0 });
    assert.deepEqual(overlap({ overlap: "allow" }), { mode: "allow_all", maxInstances: null, maxQueued: 0 }, "allow alone is unlimited, not one at a time");
    assert.deepEqual(overlap({ overlap: "replace" }), { mode: "terminate_other", maxInstances: 1, maxQueued: 0 });
    assert.deepEqual(overlap({ overlap: "queue" }), { mode: "buffer_all", maxInstances: 1, maxQueued: 1000 });
  });

  test("a catch-up window runs the missed slots within it", () => {
    const r = validateJobDefinition({ ...base, policies: { catchup_window: "2h" } }, env);
    assert.ok(r.ok);
    assert.deepEqual([r.job.policies.misfire.policy, r.job.policies.misfire.maxAgeMs], ["all", 7_200_000]);
    const bad = validateJobDefinition({ ...base, policies: { catchup_window: "2h", misfire: "skip" } }, env);
    assert.ok(!bad.ok);
    assert.match(bad.errors[0]!.message, /cannot be combined with misfire "skip"/);
  });

  test("overlap settings that would do nothing are refused, with the field named", () => {
    const errors = (policies: object) => {
      const r = validateJobDefinition({ ...base, policies }, env);
      return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    };
    assert.match(errors({ overlap: "sometimes" })[0]!, /^policies.overlap: must be one of "skip", "buffer_one"/);
    assert.match(errors({ overlap: "bufer_all" })[0]!, /did you mean "buffer_all"/);
    assert.match(errors({ overlap: { mode: "skip", max_instances: 3 } })[0]!, /max_instances applies to allow_all, buffer_one and buffer_all/);
    assert.match(errors({ overlap: { mode: "skip", max_queue: 3 } })[0]!, /max_queue applies to buffer_all/);
  });

  test("max_instances alone allows that many runs at once", () => {
    const r = validateJobDefinition({ ...base, policies: { max_instances: 3 } }, env);
    assert.deepEqual(r.ok && r.job.policies.overlap, { mode: "allow_all", maxInstances: 3, maxQueued: 0 });
  });

  test("transaction: run with shell steps that may fail or retry, and SQL steps that may not", () => {
    const r = validateJobDefinition({
      name: "j", transaction: "run", policies: { retry: 3 },
      steps: { a: { sql: "insert into t values (1)", retries: 0 }, b: { shell: "curl x", on_error: "continue", depends: "a" }, c: { sql: "select 1", retries: 0, depends: "b" } },
      checks: [{ name: "k", sql: "select count(*) from t" }],
    }, env);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.job.transaction, "run");
  });
});

describe("validation returns every error with its path", () => {
  const cases: Array<[string, unknown, Array<[string, string]>, ValidationEnvironment?]> = [
    ["not an object", "job", [[SQLSTATE.invalid_definition, "a job definition must be an object"]]],
    ["missing name and steps", {}, [[SQLSTATE.invalid_definition, "name: a job needs a name"], [SQLSTATE.invalid_definition, "steps: a job needs at least one step"]]],
    ["bad job name", { ...base, name: "-x" }, [[SQLSTATE.invalid_definition, 'name: job name "-x" must be 1–63 letters, digits, _, . or - (not starting with . or -)']]],
    ["unknown top-level field", { ...base, schedule: "* * * * *" }, [[SQLSTATE.invalid_definition, 'schedule: unknown field "schedule" (did you mean "schedules"?)']]],
    ["unknown step field", { name: "j", steps: { a: { sql: "x", dependz: ["b"] } } }, [[SQLSTATE.invalid_definition, 'steps.a.dependz: unknown field "dependz" (did you mean "depends"?)']]],
    ["unknown dependency with a suggestion", { name: "j", steps: { extract: { sql: "x" }, load: { sql: "x", depends: ["extrct"] } } }, [[SQLSTATE.unknown_step, 'steps.load.depends[0]: unknown step "extrct" (did you mean "extract"?)']]],
    ["a cycle, named step by step", { name: "j", steps: { a: { sql: "x", depends: ["b"] }, b: { sql: "x", depends: ["c"] }, c: { sql: "x", depends: ["a"] } } }, [[SQLSTATE.dependency_cycle, "steps: cycle a → b → c → a"]]],
    ["a step depending on itself", { name: "j", steps: { a: { sql: "x", depends: "a" } } }, [[SQLSTATE.dependency_cycle, "steps: cycle a → a"]]],
    ["bad cron names the field", { ...base, schedules: ["0 0 32 * *"] }, [[SQLSTATE.invalid_schedule, 'schedules[0]: field 3 (day of month) "32": value 32 out of range 1–31']]],
    ["bad cron in an object", { ...base, schedules: [{ cron: "* * * * MOON" }] }, [[SQLSTATE.invalid_schedule, 'schedules[0].cron: field 5 (day of week) "MOON": unknown name "MOON" (expected SUN, MON, TUE, WED, THU, FRI, SAT or a number)']]],
    ["unknown time zone of the job", { ...base, time_zone: "Mars/Olympus" }, [[SQLSTATE.unknown_time_zone, 'time_zone: unknown time zone "Mars/Olympus"']]],
    ["unknown time zone of a schedule", { ...base, schedules: [{ cron: "* * * * *", time_zone: "Europe/Berln" }] }, [[SQLSTATE.unknown_time_zone, 'schedules[0].time_zone: unknown time zone "Europe/Berln"']]],
    ["unknown calendar", { ...base, schedules: [{ cron: "* * * * *", exclude: { calendars: ["holiday"] } }] }, [[SQLSTATE.unknown_calendar, 'schedules[0].exclude.calendars[0]: unknown calendar "holiday" (did you mean "holidays"?)']]],
    ["unknown connection", { name: "j", steps: { a: { sql: "x", connection: "warehose" } } }, [[SQLSTATE.unknown_connection, 'steps.a.connection: unknown connection "warehose" (did you mean "warehouse"?)']]],
    ["password in conninfo", { name: "j", steps: { a: { sql: "x", conninfo: "host=db user=etl password=hunter2" } } }, [[SQLSTATE.password_in_conninfo, "steps.a.conninfo: connection string contains a password"]]],
    ["password in a URI", { name: "j", steps: { a: { sql: "x", conninfo: "postgresql://etl:hunter2@db/prod" } } }, [[SQLSTATE.password_in_conninfo, "steps.a.conninfo: connection string contains a password"]]],
    ["shell step by a role not allowed", { name: "j", steps: { a: { shell: "rm -rf /tmp/x" }, b: { program: ["/bin/true"] } } }, [[SQLSTATE.shell_not_allowed, "steps.a.shell: shell steps may only be defined by roles granted clockwork_shell"], [SQLSTATE.shell_not_allowed, "steps.b.program: program steps may only be defined by roles granted clockwork_shell"]], { ...env, allowShellSteps: false }],
    ["matrix too large", { name: "j", steps: { a: { sql: "select :x, :y", matrix: { x: Array.from({ length: 16 }, (_, i) => i), y: Array.from({ length: 17 }, (_, i) => i) } } } }, [[SQLSTATE.matrix_too_large, "steps.a.matrix: matrix expands to 272 instances; at most 256 are allowed"]]],
    ["bad expression with position", { name: "j", steps: { extract: { sql: "x" }, load: { sql: "x", depends: ["extract"], when: 'extract.status = "succeeded"' } } }, [[SQLSTATE.invalid_expression, 'steps.load.when: "=" at column 16: write "==" to compare']]],
    ["condition reading a step that is not a dependency", { name: "j", steps: { extract: { sql: "x" }, other: { sql: "x" }, load: { sql: "x", depends: ["extract"], when: 'other.status == "succeeded"' } } }, [[SQLSTATE.invalid_expression, 'steps.load.when: "other" is not a step that "load" depends on, so its result is not known yet; add it to depends (column 1)']]],
    ["condition reading an unknown step", { name: "j", steps: { extract: { sql: "x" }, load: { sql: "x", depends: ["extract"], when: 'extrac.status == "succeeded"' } } }, [[SQLSTATE.invalid_expression, 'steps.load.when: unknown step "extrac" (did you mean "extract"?) (column 1)']]],
    ["condition reading an unknown field", { name: "j", steps: { extract: { sql: "x" }, load: { sql: "x", depends: ["extract"], when: "extract.exitcode == 0" } } }, [[SQLSTATE.invalid_expression, 'steps.load.when: unknown field "exitcode" of step "extract" (did you mean "exit_code"?) (fields: status, exit_code, output, error, rows, row, attempts) (column 1)']]],
    ["condition reading an unknown parameter", { name: "j", parameters: { region: "eu" }, steps: { a: { sql: "x", when: 'params.regon == "eu"' } } }, [[SQLSTATE.invalid_expression, 'steps.a.when: unknown parameter "regon" (did you mean "region"?) (column 1)']]],
    ["unknown SQL parameter", { name: "j", parameters: { region: "eu" }, steps: { a: { sql: "select :regoin" } } }, [[SQLSTATE.invalid_parameter, "steps.a.sql: unknown parameter :regoin at offset 7 (did you mean :region?)"]]],
    ["no kind of work", { name: "j", steps: { a: { depends: [] } } }, [[SQLSTATE.invalid_definition, "steps.a: needs one of sql, shell, program or builtin"]]],
    ["two kinds of work", { name: "j", steps: { a: { sql: "x", shell: "y" } } }, [[SQLSTATE.invalid_definition, "steps.a: takes one of sql, shell, program or builtin, not sql and shell"]]],
    ["unknown built-in", { name: "j", steps: { a: { builtin: "slep" } } }, [[SQLSTATE.invalid_definition, 'steps.a.builtin: unknown built-in "slep" (did you mean "sleep"?) (known: noop, log, sleep, http, mail, download, copy_from, copy_to, queue)']]],
    ["bad on_error", { name: "j", steps: { a: { sql: "x", on_error: "ignore" } } }, [[SQLSTATE.invalid_definition, 'steps.a.on_error: must be "fail", "continue" or "succeed", got "ignore"']]],
    ["duplicate step names in a list", { name: "j", steps: [{ name: "a", sql: "x" }, { name: "a", sql: "y" }] }, [[SQLSTATE.invalid_definition, 'steps[1]: duplicate step name "a"']]],
    ["step name not usable in conditions", { name: "j", steps: { "1st": { sql: "x" } } }, [[SQLSTATE.invalid_definition, 'steps.1st: step name "1st" must start with a letter or _ and contain only letters, digits, _ and -']]],
    ["bad policies", { ...base, policies: { misfire: "sometimes", overlap: { mode: "queue", max_queue: -1 }, retry: { attempts: 0, jitter: 2 }, timeout: "soon" } }, [
      [SQLSTATE.invalid_policy, 'policies.misfire: must be "skip", "once" or "all", got "sometimes"'],
      [SQLSTATE.invalid_policy, "policies.overlap.max_queue: must be a whole number from 1 to 1000"],
      [SQLSTATE.invalid_policy, "policies.retry.attempts: must be a whole number from 1 to 100 (attempts include the first)"],
      [SQLSTATE.invalid_policy, "policies.retry.jitter: must be a number from 0 to 1"],
      [SQLSTATE.invalid_interval, 'policies.timeout: cannot read interval "soon" at "soon"; write e.g. "30s", "5m", "1h30m", "2 hours"'],
    ]],
    ["bad step timeout", { name: "j", steps: { a: { sql: "x", timeout: "-5m" } } }, [[SQLSTATE.invalid_interval, 'steps.a.timeout: cannot read interval "-5m" at "-5m"; write e.g. "30s", "5m", "1h30m", "2 hours"']]],
    ["transaction run with an autonomous step", { name: "j", transaction: "run", steps: { a: { sql: "VACUUM" }, b: { shell: "y" } } }, [[SQLSTATE.invalid_definition, "steps.a: an autonomous step cannot share the run's transaction (transaction: run): a statement that cannot run in a transaction block (VACUUM, CREATE INDEX CONCURRENTLY, a CALL) goes in a job of its own"]]],
    ["transaction run with a declared autonomous step", { name: "j", transaction: "run", steps: { a: { sql: "select 1", autonomous: true } } }, [[SQLSTATE.invalid_definition, "steps.a: an autonomous step cannot share the run's transaction (transaction: run): a statement that cannot run in a transaction block (VACUUM, CREATE INDEX CONCURRENTLY, a CALL) goes in a job of its own"]]],
    ["transaction run on two targets", { name: "j", transaction: "run", steps: { a: { sql: "x" }, b: { sql: "y", connection: "warehouse" } } }, [[SQLSTATE.invalid_definition, "steps.b: transaction: run needs every SQL step on one target; this one differs from steps.a"]]],
    ["transaction run with an SQL check on another target", { name: "j", transaction: "run", steps: { a: { sql: "x" } }, checks: [{ name: "k", sql: "y", database: "other" }] }, [[SQLSTATE.invalid_definition, "checks.k: transaction: run needs every SQL step on one target; this one differs from steps.a"]]],
    ["transaction run with an SQL step that may fail on", { name: "j", transaction: "run", steps: { a: { sql: "x", on_error: "continue" }, b: { sql: "y", on_error: "succeed" } } }, [
      [SQLSTATE.invalid_definition, "steps.a.on_error: an SQL step in a run's transaction (transaction: run) cannot be on_error: continue: its failed statement aborts the transaction, so the run fails and rolls back"],
      [SQLSTATE.invalid_definition, "steps.b.on_error: an SQL step in a run's transaction (transaction: run) cannot be on_error: succeed: its failed statement aborts the transaction, so the run fails and rolls back"],
    ]],
    ["transaction run with a retried SQL step", { name: "j", transaction: "run", steps: { a: { sql: "x", retries: 2 } } }, [[SQLSTATE.invalid_definition, "steps.a.retries: an SQL step in a run's transaction (transaction: run) cannot be retried (2 retries): its failed statement aborts the transaction; retry the whole run instead (a new run_now)"]]],
    ["transaction run with a job retry policy", { name: "j", transaction: "run", policies: { retry: 3 }, steps: { a: { sql: "x" }, b: { shell: "y" } } }, [[SQLSTATE.invalid_definition, "policies.retry: an SQL step in a run's transaction (transaction: run) cannot be retried (2 retries): its failed statement aborts the transaction; retry the whole run instead (a new run_now); give steps.a retries: 0"]]],
    ["autonomous: false with VACUUM", { name: "j", steps: { a: { sql: "VACUUM ANALYZE", autonomous: false } } }, [[SQLSTATE.invalid_definition, "steps.a.autonomous: statement 1 (VACUUM) cannot run inside a transaction block, so the step cannot be autonomous: false"]]],
    ["autonomous: false with COMMIT in the middle", { name: "j", steps: { a: { sql: "insert into t values (1); commit; select 1", autonomous: false } } }, [[SQLSTATE.invalid_definition, "steps.a.autonomous: statement 2 (COMMIT) cannot run inside a transaction block, so the step cannot be autonomous: false"]]],
    ["autonomous on a shell step", { name: "j", steps: { a: { shell: "x", autonomous: true } } }, [[SQLSTATE.invalid_definition, "steps.a.autonomous: only sql steps can be autonomous"]]],
    ["an unterminated dollar quote", { name: "j", steps: { a: { sql: "select 1; do $x$ begin null; end" } } }, [[SQLSTATE.invalid_definition, "steps.a.sql: unterminated dollar-quoted string starting at offset 13"]]],
    ["an unterminated comment", { name: "j", steps: { a: { sql: "select 1 /* and" } } }, [[SQLSTATE.invalid_definition, "steps.a.sql: unterminated block comment starting at offset 9"]]],
    ["SQL with no statement", { name: "j", steps: { a: { sql: "-- nothing; here\n;" } } }, [[SQLSTATE.invalid_definition, "steps.a.sql: contains no SQL statement"]]],
    ["two targets", { name: "j", steps: { a: { sql: "x", database: "app", connection: "warehouse" } } }, [[SQLSTATE.invalid_definition, "steps.a.connection: give one of database, connection or conninfo, not database and connection"]]],
    ["a database on a shell step", { name: "j", steps: { a: { shell: "x", database: "app" } } }, [[SQLSTATE.invalid_definition, "steps.a.database: only sql steps take a database"]]],
    ["an unknown database", { name: "j", steps: { a: { sql: "x", database: "ap" } } }, [[SQLSTATE.invalid_definition, 'steps.a.database: unknown database "ap" (did you mean "app"?)']], { ...env, databases: ["app", "postgres"] }],
    ["a password in env", { name: "j", steps: { a: { shell: "x", env: { PGPASSWORD: "hunter2" } } } }, [[SQLSTATE.password_in_environment, "steps.a.env.PGPASSWORD: PGPASSWORD would put a credential in the definition"]]],
    ["a connection string with a password in env", { name: "j", steps: { a: { shell: "x", env: { TARGET: "postgres://etl:hunter2@db/prod" } } } }, [[SQLSTATE.password_in_environment, "steps.a.env.TARGET: the value is a connection string with a password"]]],
    // Parameters and matrix values reach shell and program steps as environment variables
    // under their names (stepEnvironment): the env rule holds for them.
    ["a password as a job parameter of a job with a shell step", { name: "j", parameters: { PGPASSWORD: "hunter2" }, steps: { a: { shell: "psql -h db -c 'select 1'" } } }, [[SQLSTATE.password_in_environment, "parameters.PGPASSWORD: PGPASSWORD would put a credential in the definition: parameters and matrix values reach shell and program steps as environment variables"]]],
    ["a connection string with a password as a job parameter of a job with a program check", { name: "j", parameters: { target: "postgresql://etl:hunter2@db/prod" }, steps: { a: { sql: "select 1" } }, checks: [{ name: "k", program: ["psql", "$target"] }] }, [[SQLSTATE.password_in_environment, "parameters.target: the value is a connection string with a password: parameters and matrix values reach shell and program steps as environment variables"]]],
    ["a declared job parameter whose default holds a password", { name: "j", parameters: { dsn: { type: "string", default: "host=db password=hunter2" } }, steps: { a: { shell: "psql \"$dsn\"" } } }, [[SQLSTATE.password_in_environment, "parameters.dsn: the value is a connection string with a password: parameters and matrix values reach shell and program steps as environment variables"]]],
    ["a password as a step parameter of a program step", { name: "j", steps: { a: { program: ["pg_dump", "app"], parameters: { PGPASSWORD: "hunter2" } } } }, [[SQLSTATE.password_in_environment, "steps.a.parameters.PGPASSWORD: PGPASSWORD would put a credential in the definition: parameters and matrix values reach shell and program steps as environment variables"]]],
    ["passwords in a shell step's matrix", { name: "j", steps: { a: { shell: "psql", matrix: { PGPASSWORD: ["a", "b"], PGHOST: ["db1", "db2"] } }, b: { shell: "psql \"$dsn\"", matrix: { dsn: ["host=db1", "host=db2 password=hunter2"] } } } }, [
      [SQLSTATE.password_in_environment, "steps.a.matrix.PGPASSWORD: PGPASSWORD would put a credential in the definition: parameters and matrix values reach shell and program steps as environment variables"],
      [SQLSTATE.password_in_environment, "steps.b.matrix.dsn[1]: the value is a connection string with a password: parameters and matrix values reach shell and program steps as environment variables"],
    ]],
    ["a conninfo logging in as another role", { name: "j", steps: { a: { sql: "x", conninfo: "host=db user=postgres" } } }, [[SQLSTATE.invalid_definition, "steps.a.conninfo: user=postgres: steps log in as their owner (alice); only a superuser may define a connection that logs in as another role"]], { ...env, definer: { role: "alice", superuser: false } }],
    ["a conninfo naming a key file", { name: "j", steps: { a: { sql: "x", conninfo: "host=db sslkey=/etc/ssl/private/x.key" } } }, [[SQLSTATE.invalid_definition, "steps.a.conninfo: only a superuser may name files on the supervisor's machine (sslkey)"]], { ...env, definer: { role: "alice", superuser: false } }],
    ["a conninfo with a parameter the supervisor does not honour", { name: "j", steps: { a: { sql: "x", conninfo: "host=db target_session_attrs=read-write" } } }, [[SQLSTATE.invalid_definition, "steps.a.conninfo: parameter \"target_session_attrs\" is not supported (supported: host, hostaddr, port, dbname, user, service, sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name, options)"]], { ...env, definer: { role: "alice", superuser: false } }],
    ["a conninfo with several hosts", { name: "j", steps: { a: { sql: "x", conninfo: "postgresql://db1,db2/app" } } }, [[SQLSTATE.invalid_definition, "steps.a.conninfo: several hosts are not supported (host=db1,db2); name one server, and say which role it must have with server_role"]], { ...env, definer: { role: "alice", superuser: false } }],
    ["check with a bad exit code", { ...base, checks: [{ name: "c", shell: "x", expected_exit_code: 300 }] }, [[SQLSTATE.invalid_definition, "checks.c.expected_exit_code: must be a whole number from 0 to 255"]]],
    ["env on a SQL step", { name: "j", steps: { a: { sql: "x", env: { A: "1" } } } }, [[SQLSTATE.invalid_definition, "steps.a.env: only shell and program steps take env"]]],
    ["a server_role that is no role", { name: "j", steps: { a: { sql: "x", server_role: "replica" } } }, [[SQLSTATE.invalid_definition, 'steps.a.server_role: must be primary, standby or any, got "replica"']]],
    ["a server_role on a shell step", { name: "j", steps: { a: { shell: "x", server_role: "primary" } } }, [[SQLSTATE.invalid_definition, "steps.a.server_role: only sql steps take a server_role"]]],
    ["an on_role_mismatch that is no choice", { name: "j", steps: { a: { sql: "x", on_role_mismatch: "ignore" } } }, [[SQLSTATE.invalid_definition, 'steps.a.on_role_mismatch: must be fail, skip or skip_run, got "ignore"']]],
    ["a run's transaction with a step skipped for its server's role", { name: "j", transaction: "run", steps: { a: { sql: "x", server_role: "primary", on_role_mismatch: "skip_run", retries: 0 } } }, [[SQLSTATE.invalid_definition, "steps.a.on_role_mismatch: an SQL step in a run's transaction (transaction: run) cannot be skipped for its server's role (skip_run): the run's transaction is on that server; use on_role_mismatch: fail"]]],
    ["a check that would skip on a role mismatch", { ...base, checks: [{ name: "c", sql: "x", server_role: "standby", on_role_mismatch: "skip_run" }] }, [[SQLSTATE.invalid_definition, 'checks.c.on_role_mismatch: a check passes or fails: on_role_mismatch can only be fail here, got "skip_run"']]],
  ];
  for (const [name, def, expected, e] of cases) test(name, () => assert.deepEqual(errors(def, e ?? env), expected));

  test("collects errors from every part at once", () => {
    const all = errors({
      name: "nightly", schedules: ["0 25 * * *"],
      steps: { extract: { sql: "select :x" }, load: { sql: "x", depends: ["extrct"], when: "extract.status ==" }, a: { sql: "x", depends: "b" }, b: { sql: "x", depends: "a" } },
    });
    assert.deepEqual(all.map((x) => x[0]), [SQLSTATE.invalid_schedule, SQLSTATE.invalid_parameter, SQLSTATE.unknown_step, SQLSTATE.dependency_cycle, SQLSTATE.invalid_expression]);
  });
});

describe("bounds: a definition, its parameters and its runs are bounded when it is defined", () => {
  const sqlSteps = (n: number, step: (i: number) => object = () => ({ sql: "select 1" })) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, step(i)]));
  test("a definition over 1 MiB as JSON is refused for its size alone (KW002)", () => {
    assert.deepEqual(errors({ name: "j", steps: { a: { sql: `select '${"x".repeat(MAX_DEFINITION_BYTES)}'` } } }), [
      [SQLSTATE.invalid_definition, "the definition takes more than 1048576 bytes as JSON; at most 1048576 bytes (1 MiB) are allowed"],
    ]);
    // UTF-8 bytes, not characters: 400 000 three-byte characters are 1.2 MB.
    assert.equal(errors({ name: "j", steps: { a: { sql: `select '${"€".repeat(400_000)}'` } } })[0]![0], SQLSTATE.invalid_definition);
    assert.equal(validateJobDefinition({ name: "j", steps: { a: { sql: `select '${"x".repeat(1_000_000)}'` } } }, env).ok, true, "just under the bound");
  });
  test("shared parts count as often as they appear (what YAML aliases expand to), and measuring stops at the bound", () => {
    let data: unknown = "x".repeat(100);
    for (let i = 0; i < 30; i++) data = [data, data]; // 2^30 copies: 100 GB as JSON
    const started = Date.now();
    assert.deepEqual(errors({ name: "j", steps: { q: { builtin: "queue", args: { queue: "q", data: { bomb: data } } } } }), [
      [SQLSTATE.invalid_definition, "the definition takes more than 1048576 bytes as JSON; at most 1048576 bytes (1 MiB) are allowed"],
    ]);
    assert.ok(Date.now() - started < 2000, "refused without expanding it");
  });
  test("a run of more than 1024 step and check instances is refused (KW011); each step's matrix keeps its own bound of 256", () => {
    const values = Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(errors({ name: "j", steps: sqlSteps(4, () => ({ sql: "select :x", matrix: { x: values } })), checks: [{ name: "k", sql: "select 1" }] }), [
      [SQLSTATE.matrix_too_large, "steps: a run of the job has 1025 step and check instances (matrices expanded); at most 1024 are allowed"],
    ]);
    assert.deepEqual(errors({ name: "j", steps: sqlSteps(1025) }), [
      [SQLSTATE.matrix_too_large, "steps: a run of the job has 1025 step and check instances (matrices expanded); at most 1024 are allowed"],
    ]);
    assert.equal(validateJobDefinition({ name: "j", steps: sqlSteps(4, () => ({ sql: "select :x", matrix: { x: values } })) }, env).ok, true, "1024 is allowed");
  });
  test("parameters and matrix values over 64 KiB in all are refused (KW012)", () => {
    const half = "p".repeat(40_000);
    assert.deepEqual(errors({ name: "j", parameters: { big: "p".repeat(70_000) }, steps: { a: { sql: "select :big" } } }), [
      [SQLSTATE.invalid_parameter, "parameters: the job's parameters and its steps' and checks' parameters and matrix values take 70010 bytes as JSON in all; at most 65536 bytes (64 KiB) are allowed"],
    ]);
    assert.deepEqual(errors({ name: "j", parameters: { a: half }, steps: { s: { sql: "select :a, :b", parameters: { b: "x" }, matrix: { m: [half] } } } }).map((e) => e[0]), [SQLSTATE.invalid_parameter]);
    assert.equal(validateJobDefinition({ name: "j", parameters: { a: half }, steps: { s: { sql: "select :a" } } }, env).ok, true);
  });
  test("a run's parameters over 64 KiB are refused (KW012)", () => {
    const r = validateJobDefinition({ name: "j", parameters: { note: "" }, steps: { s: { sql: "select :note" } } }, env);
    assert.ok(r.ok);
    const given = checkRunParameters(r.job, { note: "n".repeat(70_000) });
    assert.deepEqual(given.ok ? given.params : given.errors.map((e) => [e.code, formatIssue(e)]), [
      [SQLSTATE.invalid_parameter, "params: the run's parameters take 70011 bytes as JSON; at most 65536 bytes (64 KiB) are allowed"],
    ]);
  });
  test("a stored definition is read back whatever the bounds (bounds: false): nothing stored is lost", () => {
    const stored = { name: "j", parameters: { big: "p".repeat(70_000) }, steps: sqlSteps(1100) };
    assert.equal(validateJobDefinition(stored, env).ok, false);
    assert.equal(validateJobDefinition(stored, { ...env, bounds: false }).ok, true);
  });
  test("the text a definition is written in is bounded before it is parsed", () => {
    assert.equal(definitionTextTooLarge("name: x\n"), null);
    assert.equal(definitionTextTooLarge(`# ${"é".repeat(600_000)}`), "the definition's text is 1200002 bytes; at most 1048576 bytes (1 MiB) are allowed");
  });
});

test("conninfoHasPassword", () => {
  assert.equal(conninfoHasPassword("host=db dbname=x"), false);
  assert.equal(conninfoHasPassword("host=db passfile=/x"), false);
  assert.equal(conninfoHasPassword("host=db password = 'x'"), true);
  assert.equal(conninfoHasPassword("postgres://etl@db/x"), false);
  assert.equal(conninfoHasPassword("postgres://db/x?sslmode=require&password=x"), true);
});

test("the YAML example in docs/core.md is a valid definition", async () => {
  const { readFileSync } = await import("node:fs");
  const { load } = await import("js-yaml");
  const doc = readFileSync(new URL("../../docs/core.md", import.meta.url), "utf8");
  const block = /## Job definitions[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "example block found");
  const r = validateJobDefinition(load(block[1]!), { ...env, connections: ["warehouse"] });
  assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
  assert.equal(r.ok && r.job.steps.length, 2);
});

describe("parameters: declared or default types, checked when a run is asked for", () => {
  const job = (parameters: object) => {
    const r = validateJobDefinition({ name: "p", parameters, steps: { a: { sql: "select 1" } } }, env);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.job;
  };
  const check = (parameters: object, given: unknown) => {
    const r = checkRunParameters(job(parameters), given);
    return r.ok ? r.params : r.errors.map(formatIssue);
  };
  test("a default's type is the parameter's type", () => {
    assert.deepEqual(job({ n: 5, day: "yesterday", on: true, x: null }).parameterTypes, { n: "number", day: "string", on: "boolean", x: "any" });
  });
  test("values of the right type pass; text that reads as the type is converted", () => {
    assert.deepEqual(check({ n: 5, on: false }, { n: 7, on: true }), { n: 7, on: true });
    assert.deepEqual(check({ n: 5, on: false }, { n: "12", on: "false" }), { n: 12, on: false });
    assert.deepEqual(check({ day: "x" }, { day: 5 }), { day: "5" }, "a number is fine text");
    assert.deepEqual(check({ n: 5 }, { n: null }), { n: null }, "null means no value, for every type");
  });
  test("a value of the wrong type is refused with the parameter named", () => {
    assert.deepEqual(check({ n: 5 }, { n: "abc" }), ['params.n: expected a number, got "abc" (parameter "n" is a number)']);
    assert.deepEqual(check({ on: true }, { on: "yes" }), ['params.on: expected true or false, got "yes" (parameter "on" is a boolean)']);
    assert.deepEqual(check({ n: 5 }, { n: [1] }), ["params.n: parameter values must be strings, numbers, booleans or null"]);
  });
  test("declared types: integer, date, timestamp, with defaults checked at definition time", () => {
    const p = { batch: { type: "integer", default: 100 }, day: { type: "date" }, since: { type: "timestamp", default: "2026-01-01T00:00Z" } };
    assert.deepEqual(job(p).parameters, { batch: 100, day: null, since: "2026-01-01T00:00Z" });
    assert.deepEqual(check(p, { batch: "250", day: "2026-11-21" }), { batch: 250, day: "2026-11-21" });
    assert.deepEqual(check(p, { batch: 2.5, day: "21.11.2026" }), [
      "params.batch: expected an integer, got 2.5 (parameter \"batch\" is an integer)",
      'params.day: expected a date YYYY-MM-DD, got "21.11.2026" (parameter "day" is a date)',
    ]);
    const bad = validateJobDefinition({ name: "p", parameters: { n: { type: "integer", default: "many" }, m: { type: "decimal" } }, steps: { a: { sql: "select 1" } } }, env);
    assert.deepEqual(!bad.ok && bad.errors.map(formatIssue), [
      'parameters.n.default: expected an integer, got "many"',
      'parameters.m.type: must be one of string, number, integer, boolean, date, timestamp, any, got "decimal"',
    ]);
  });
  test("parameters of a job with SQL steps only may hold anything: they are SQL literals, never a process's environment", () => {
    const r = validateJobDefinition({ name: "p", parameters: { PGPASSWORD: "x", dsn: "host=db password=y" }, steps: { a: { sql: "select :dsn", matrix: { token_TOKEN: ["z"] } } } }, env);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(check({ dsn: "host=db" }, { dsn: "host=db password=y" }), { dsn: "host=db password=y" });
  });
  test("a run parameter that would hand a shell step a password is refused", () => {
    const r = validateJobDefinition({ name: "p", parameters: { dsn: "host=db" }, steps: { a: { shell: "psql \"$dsn\"" } } }, env);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    const given = checkRunParameters(r.job, { dsn: "postgres://etl:hunter2@db/prod" });
    assert.deepEqual(given.ok ? given.params : given.errors.map((e) => [e.code, formatIssue(e)]), [
      [SQLSTATE.password_in_environment, "params.dsn: the value is a connection string with a password: parameters and matrix values reach shell and program steps as environment variables"],
    ]);
    assert.equal(checkRunParameters(r.job, { dsn: "host=db2" }).ok, true);
  });
  test("unknown parameters are refused with a suggestion", () => {
    assert.deepEqual(check({ target: "eu" }, { targt: "x" }), ['params.targt: job "p" has no parameter "targt" (did you mean "target"?)']);
  });
});
