import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { adminQuery } from "../support/db.ts";
import type { TestDatabase } from "../support/db.ts";
import { defineJob, sqlErrorOf, withClockworkDatabase } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

describe("defining jobs", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test("schedule() is a one-liner that stores a job with its next fire time", async () => {
    await db.query("select clockwork.schedule('vacuum-nightly', '30 3 * * *', 'vacuum analyze')");
    const { rows } = await db.query(
      "select job, enabled, schedules, next_fire_at > now() as in_future, version from clockwork.job_status where job = 'vacuum-nightly'",
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].enabled, true);
    assert.equal(rows[0].in_future, true);
    assert.equal(rows[0].version, 1);
    assert.match(rows[0].schedules[0], /03:30/);
  });

  test("next_runs lists the next fire times in the schedule's own zone", async () => {
    await defineJob(db, {
      name: "berlin-morning",
      time_zone: "Europe/Berlin",
      schedules: ["0 9 * * *"],
      steps: [{ name: "a", sql: "select 1" }],
    });
    const { rows } = await db.query(
      "select fire_at, description from clockwork.next_runs('berlin-morning', 3, '2026-03-28 12:00Z')",
    );
    // Europe/Berlin moves to CEST on 2026-03-29: 09:00 local is 08:00Z before, 07:00Z after.
    assert.deepEqual(
      rows.map((r) => r.fire_at.toISOString()),
      ["2026-03-29T07:00:00.000Z", "2026-03-30T07:00:00.000Z", "2026-03-31T07:00:00.000Z"],
    );
    assert.match(rows[0].description, /Europe\/Berlin/);
  });

  test("numbers in a definition and in run_now's parameters are stored as given, on every runtime", async () => {
    // PL/v8 3.2.2 would round a JavaScript number in jsonb to 15 significant digits; the
    // adapter passes user JSON to SQL as text, which is exact on both runtimes.
    const exact = 0.30000000000000004;
    await defineJob(db, { name: "exact", parameters: { ratio: exact, big: 9007199254740991 }, steps: [{ name: "a", sql: "select :ratio::float8" }] });
    const stored = await db.query("select definition->'parameters' as p from clockwork.jobs where name = 'exact'");
    assert.deepEqual(stored.rows[0].p, { ratio: exact, big: 9007199254740991 });
    const run = await db.query(`select clockwork.run_now('exact', '{"ratio": 0.1234567890123456789}') as id`);
    const params = await db.query("select params->>'ratio' as ratio from clockwork.runs where id = $1", [run.rows[0].id]);
    assert.equal(params.rows[0].ratio, String(0.1234567890123456789), "the nearest double, in its shortest form");
  });

  test("accepts a YAML definition", async () => {
    const yaml = [
      "name: from-yaml",
      "schedules:",
      "  - '@every 10m'",
      "steps:",
      "  extract: { sql: 'select 1' }",
      "  load:",
      "    sql: select 2",
      "    depends: [extract]",
    ].join("\n");
    const { rows } = await db.query("select clockwork.define_job($1::text) as id", [yaml]);
    assert.ok(Number(rows[0].id) > 0);
    const v = await db.query("select definition->'steps'->'load'->'depends' as d from clockwork.jobs where name = 'from-yaml'");
    assert.deepEqual(v.rows[0].d, ["extract"]);
  });

  test("reports YAML syntax errors with their position", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::text)", ["name: x\nsteps: [unclosed"]);
    assert.equal(error.code, SQLSTATE.invalid_definition);
    assert.match(error.message, /not valid YAML at line \d+, column \d+/);
  });

  const bad: Array<[string, object, string, RegExp]> = [
    ["a bad cron field", { name: "b1", schedules: ["61 * * * *"], steps: [{ name: "a", sql: "select 1" }] }, SQLSTATE.invalid_schedule, /schedules\[0\].*minute/i],
    ["an unknown time zone", { name: "b2", time_zone: "Mars/Olympus", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] }, SQLSTATE.unknown_time_zone, /Mars\/Olympus/],
    ["an unknown step in depends", { name: "b3", steps: [{ name: "extract", sql: "select 1" }, { name: "load", sql: "select 1", depends: ["extrct"] }] }, SQLSTATE.unknown_step, /steps\.load\.depends\[0\]: unknown step "extrct" \(did you mean "extract"\?\)/],
    ["a cycle", { name: "b4", steps: [{ name: "a", sql: "select 1", depends: ["c"] }, { name: "b", sql: "select 1", depends: ["a"] }, { name: "c", sql: "select 1", depends: ["b"] }] }, SQLSTATE.dependency_cycle, /cycle a → c → b → a/],
    ["an unknown connection", { name: "b5", steps: [{ name: "a", sql: "select 1", connection: "warehouse" }] }, SQLSTATE.unknown_connection, /warehouse/],
    ["a password in a conninfo", { name: "b6", steps: [{ name: "a", sql: "select 1", conninfo: "host=db password=hunter2" }] }, SQLSTATE.password_in_conninfo, /password/],
    ["a bad condition", { name: "b7", steps: [{ name: "a", sql: "select 1" }, { name: "b", sql: "select 1", depends: ["a"], when: "a.status == " }] }, SQLSTATE.invalid_expression, /steps\.b\.when/],
  ];
  for (const [what, definition, code, message] of bad) {
    test(`rejects ${what} with ${code} and stores nothing`, async () => {
      const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert.ok(error.hint, "every API error carries a hint");
      const { rows } = await db.query("select count(*)::int as n from clockwork.jobs where name = $1", [(definition as { name: string }).name]);
      assert.equal(rows[0].n, 0);
    });
  }

  test("reports every error of a definition at once", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "many", schedules: ["bogus"], steps: [{ name: "a", sql: "select 1", depends: ["nope"] }] }),
    ]);
    assert.match(error.message, /and \d+ more/);
    assert.ok((error.detail ?? "").split("\n").length >= 2, error.detail);
  });

  test("a bad redefinition leaves the stored job untouched", async () => {
    await defineJob(db, { name: "stable", schedules: ["*/5 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    const before = await db.query("select version, definition from clockwork.jobs where name = 'stable'");
    await sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "stable", schedules: ["*/5 * * *"], steps: [{ name: "a", sql: "select 1" }] }),
    ]);
    const afterRows = await db.query("select version, definition from clockwork.jobs where name = 'stable'");
    assert.deepEqual(afterRows.rows, before.rows);
  });

  test("redefining keeps the job id and history and bumps the version only on change", async () => {
    const id1 = await defineJob(db, { name: "evolving", schedules: ["0 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    const same = await defineJob(db, { name: "evolving", schedules: ["0 * * * *"], steps: [{ name: "a", sql: "select 1" }] });
    const id2 = await defineJob(db, { name: "evolving", schedules: ["15 * * * *"], steps: [{ name: "a", sql: "select 2" }] });
    assert.equal(same, id1);
    assert.equal(id2, id1);
    const { rows } = await db.query("select version from clockwork.job_versions where job_id = $1 order by version", [id1]);
    assert.deepEqual(rows.map((r) => r.version), [1, 2]);
  });

  test("shell steps need clockwork_shell; a role with the grant may define them", async () => {
    await adminQuery("do $$ begin create role cw_plain login; exception when duplicate_object then null; end $$");
    await adminQuery("do $$ begin create role cw_ops login; exception when duplicate_object then null; end $$");
    await adminQuery("grant clockwork_shell to cw_ops");
    const plain = await db.connect({ user: "cw_plain" });
    const error = await sqlErrorOf(plain, "select clockwork.schedule_shell('plain-shell', '* * * * *', 'echo hi')");
    assert.equal(error.code, SQLSTATE.shell_not_allowed);
    const ops = await db.connect({ user: "cw_ops" });
    await ops.query("select clockwork.schedule_shell('ops-shell', '* * * * *', 'echo hi')");
    const { rows } = await db.query("select owner from clockwork.jobs where name = 'ops-shell'");
    assert.equal(rows[0].owner, "cw_ops");
  });

  test("a role granted clockwork_shell cannot hand its shell steps a password through parameters, a matrix or run_now", async () => {
    // Parameters and matrix values become the process's environment variables under their
    // names: PGPASSWORD as a parameter is PGPASSWORD in psql's environment, as env would be.
    await adminQuery("do $$ begin create role cw_shell_params login; exception when duplicate_object then null; end $$");
    await adminQuery("grant clockwork_shell to cw_shell_params");
    const ops = await db.connect({ user: "cw_shell_params" });
    const attacks: Array<[string, object, RegExp]> = [
      ["a job parameter", { name: "pw-param", parameters: { PGPASSWORD: "hunter2" }, steps: [{ name: "a", shell: "psql -h db -c 'select 1'" }] }, /^parameters\.PGPASSWORD: PGPASSWORD would put a credential in the definition/],
      ["a step parameter", { name: "pw-step-param", steps: [{ name: "a", program: ["pg_dump", "app"], parameters: { PGPASSWORD: "hunter2" } }] }, /^steps\.a\.parameters\.PGPASSWORD:/],
      ["a matrix", { name: "pw-matrix", steps: [{ name: "a", shell: "psql \"$dsn\"", matrix: { dsn: ["host=db1", "postgresql://etl:hunter2@db2/app"] } }] }, /^steps\.a\.matrix\.dsn\[1\]: the value is a connection string with a password/],
    ];
    for (const [what, definition, message] of attacks) {
      const error = await sqlErrorOf(ops, "select clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
      assert.equal(error.code, SQLSTATE.password_in_environment, `${what}: ${error.message}`);
      assert.match(error.message, message, what);
      const { rows } = await db.query("select count(*)::int as n from clockwork.jobs where name = $1", [(definition as { name: string }).name]);
      assert.equal(rows[0].n, 0, `${what}: nothing stored`);
    }
    await ops.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "dsn-param", parameters: { dsn: "host=db" }, steps: [{ name: "a", shell: "psql \"$dsn\"" }] })]);
    const error = await sqlErrorOf(ops, "select clockwork.run_now('dsn-param', $1::jsonb)", [JSON.stringify({ dsn: "host=db password=hunter2" })]);
    assert.equal(error.code, SQLSTATE.password_in_environment, error.message);
    assert.match(error.message, /^params\.dsn: the value is a connection string with a password/);
    const runs = await db.query("select count(*)::int as n from clockwork.runs r join clockwork.jobs j on j.id = r.job_id where j.name = 'dsn-param'");
    assert.equal(runs.rows[0].n, 0, "no run, so no password in clockwork.runs.params");
  });

  test("definitions are bounded when defined: 1 MiB of text, 1024 instances a run, 64 KiB of parameters; a refusal loses nothing stored", async () => {
    const refused = async (what: string, sql: string, params: unknown[], code: string, message: RegExp) => {
      const error = await sqlErrorOf(db.pool, sql, params);
      assert.equal(error.code, code, `${what}: ${error.message}`);
      assert.match(error.message, message, what);
      assert.ok(error.hint, what);
    };
    const huge = "x".repeat(2_000_000);
    const mib = /at most 1048576 bytes \(1 MiB\) are allowed/;
    await refused("a 2 MB definition", "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "huge", steps: [{ name: "a", sql: `select '${huge}'` }] })], SQLSTATE.invalid_definition, mib);
    await refused("a 2 MB one-liner", "select clockwork.schedule('huge', '0 * * * *', $1)", [`select '${huge}'`], SQLSTATE.invalid_definition, mib);
    await refused("a 2 MB YAML text", "select clockwork.define_job($1::text)", [`name: huge\n# ${huge}\nsteps: {a: {sql: select 1}}\n`], SQLSTATE.invalid_definition, /^the definition's text is 2000\d+ bytes; at most 1048576 bytes/);
    // 2 kB of YAML whose aliases expand to 2^15 copies of 100 bytes: 3.4 MB as JSON.
    const yaml = [
      "name: huge",
      "steps:",
      "  q:",
      "    builtin: queue",
      "    args:",
      "      queue: q",
      "      data:",
      `        l0: &l0 "${"x".repeat(100)}"`,
      ...Array.from({ length: 15 }, (_, k) => `        l${k + 1}: &l${k + 1} [*l${k}, *l${k}]`),
    ].join("\n");
    assert.ok(yaml.length < 3000);
    await refused("a YAML alias bomb", "select clockwork.define_job($1::text)", [yaml], SQLSTATE.invalid_definition, /^the definition takes more than 1048576 bytes as JSON/);
    const values = Array.from({ length: 256 }, (_, i) => i);
    const wide = { name: "huge", steps: Array.from({ length: 5 }, (_, i) => ({ name: `s${i}`, sql: "select :x", matrix: { x: values } })) };
    await refused("five steps of 256 instances", "select clockwork.define_job($1::jsonb)", [JSON.stringify(wide)], SQLSTATE.matrix_too_large, /^steps: a run of the job has 1280 step and check instances \(matrices expanded\); at most 1024 are allowed/);
    await refused("70 kB of parameters", "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "huge", parameters: { big: "p".repeat(70_000) }, steps: [{ name: "a", sql: "select :big" }] })], SQLSTATE.invalid_parameter, /at most 65536 bytes \(64 KiB\) are allowed/);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name = 'huge'")).rows[0].n, 0, "nothing stored");

    // A stored job redefined too large keeps its definition, version and file text.
    await db.query("select clockwork.apply_job($1::jsonb, $2, 'bounds')", [JSON.stringify({ name: "kept", parameters: { note: "n" }, steps: [{ name: "a", sql: "select :note" }] }), "name: kept\n"]);
    const before = await db.query("select j.version, j.definition, v.source from clockwork.jobs j join clockwork.job_versions v on v.job_id = j.id and v.version = j.version where j.name = 'kept'");
    await refused("a redefinition with 70 kB of parameters", "select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "kept", parameters: { note: "n".repeat(70_000) }, steps: [{ name: "a", sql: "select :note" }] })], SQLSTATE.invalid_parameter, /64 KiB/);
    await refused("a file text over 1 MiB", "select clockwork.apply_job($1::jsonb, $2, 'bounds')", [JSON.stringify({ name: "kept", steps: [{ name: "a", sql: "select 2" }] }), `name: kept\n# ${huge}\n`], SQLSTATE.invalid_definition, /^source: the definition's text is/);
    await refused("a run's 70 kB parameter", "select clockwork.run_now('kept', $1::jsonb)", [JSON.stringify({ note: "n".repeat(70_000) })], SQLSTATE.invalid_parameter, /^params: the run's parameters take 700\d\d bytes as JSON; at most 65536 bytes \(64 KiB\)/);
    const afterRows = await db.query("select j.version, j.definition, v.source from clockwork.jobs j join clockwork.job_versions v on v.job_id = j.id and v.version = j.version where j.name = 'kept'");
    assert.deepEqual(afterRows.rows, before.rows);
    assert.equal((await db.query("select count(*)::int as n from clockwork.runs r join clockwork.jobs j on j.id = r.job_id where j.name = 'kept'")).rows[0].n, 0);

    // A definition stored before the bounds (here: written over by the extension's owner)
    // still runs: the bounds are checked when a job is defined, not when it is read back.
    await defineJob(db, { name: "stored-before", parameters: { note: "n" }, steps: [{ name: "a", sql: "select length(:note)" }] });
    await db.query(`update clockwork.job_versions v set definition = jsonb_set(v.definition, '{parameters,note}', to_jsonb(repeat('n', 70000)))
                      from clockwork.jobs j where j.id = v.job_id and j.name = 'stored-before'`);
    const run = await db.query("select clockwork.run_now('stored-before') as id");
    assert.ok(Number(run.rows[0].id) > 0, "its run starts");
  });

  test("a step may name a connection its owner may use; another role's is unknown to it", async () => {
    await db.query("insert into clockwork.connections (name, conninfo) values ('warehouse', 'host=wh dbname=dw')");
    await db.query("select clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "remote", steps: [{ name: "a", sql: "select 1", connection: "warehouse" }] }),
    ]);
    await adminQuery("do $$ begin create role cw_stranger login; exception when duplicate_object then null; end $$");
    const stranger = await db.connect({ user: "cw_stranger" });
    const error = await sqlErrorOf(stranger, "select clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "not-mine", steps: [{ name: "a", sql: "select 1", connection: "warehouse" }] }),
    ]);
    assert.equal(error.code, SQLSTATE.unknown_connection);
    assert.match(error.message, /steps\.a\.connection: unknown connection "warehouse"/);
  });

  test("transaction: job is refused at definition time: the word is run", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "one-tx", transaction: "job", steps: [{ name: "a", sql: "select 1" }] }),
    ]);
    assert.equal(error.code, SQLSTATE.invalid_definition);
    assert.match(error.message, /^transaction: must be "step" or "run"/);
  });

  test("named connections with a password are refused by the table itself", async () => {
    const error = await sqlErrorOf(db.pool, "insert into clockwork.connections (name, conninfo) values ('w', 'postgresql://u:secret@host/db')");
    assert.equal(error.code, "23514");
  });
});
