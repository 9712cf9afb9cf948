// One table of error kinds (extension/src/core/errors.ts) serves the install script, the
// supervisor and the docs: these tests check that all of them agree with it, and that an
// error reaches SQL with its SQLSTATE, hint and a CONTEXT line without JavaScript.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import ts from "typescript";
import { withSqlStates } from "../../build/bundle.ts";
import { ClockworkError, ERROR_KINDS, issue, SQLSTATE, SQLSTATE_CLASS, type ErrorKind } from "../../extension/src/core/errors.ts";
import { execute, sql } from "../../extension/src/db/query.ts";
import { packSqlState, toSqlError, unpackSqlState, type SqlError } from "../../extension/src/db/raise.ts";
import { frontOf } from "../../extension/src/db/sql-function.ts";
import { sqlFunctions } from "../../extension/src/functions/index.ts";
import { pgConfig } from "../support/cluster.ts";
import { adminQuery, clusterEnv, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, runsOf, sqlErrorOf, tick, withClockworkDatabase } from "./helpers.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const kinds = Object.entries(ERROR_KINDS) as [ErrorKind, { code: string; hint: string }][];

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(join(root, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("the table of error kinds", () => {
  test("every code is in class KW, which the SQL standard leaves to implementations", () => {
    // Classes whose first character is 0-4 or A-H are the standard's own.
    assert.match(SQLSTATE_CLASS, /^[5-9I-Z][0-9A-Z]$/);
    for (const [kind, { code }] of kinds) assert.match(code, new RegExp(`^${SQLSTATE_CLASS}[0-9A-Z]{3}$`), kind);
    assert.equal(new Set(kinds.map(([, k]) => k.code)).size, kinds.length, "codes are unique");
  });

  test("docs/sql-api.md lists exactly the table, in code order", () => {
    const doc = readFileSync(join(root, "docs/sql-api.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Error codes"));
    const rows = [...section.matchAll(/^\| ([0-9A-Z]{5}) \| (\w+) \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    const expected = kinds.map(([kind, { code }]) => [code, kind]).sort(([a], [b]) => a!.localeCompare(b!));
    assert.deepEqual(rows, expected);
  });

  test("no SQLSTATE of the class (nor of the old class CW) is written anywhere but the table", () => {
    const literal = /\b[CK]W[0-9]{3}\b/;
    const offenders: string[] = [];
    for (const dir of ["extension/sql", "extension/src", "supervisor/src", "build"]) {
      for (const file of filesUnder(dir)) {
        if (file === join("extension", "src", "core", "errors.ts")) continue;
        readFileSync(join(root, file), "utf8").split("\n").forEach((line, i) => {
          if (literal.test(line)) offenders.push(`${relative(root, join(root, file))}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    assert.deepEqual(offenders, [], "use SQLSTATE.<kind> in TypeScript and @sqlstate:<kind>@ in extension/sql");
  });

  test("the hand-written SQL names kinds that exist, and the build refuses one that does not", () => {
    for (const file of filesUnder("extension/sql")) {
      const sql = withSqlStates(readFileSync(join(root, file), "utf8"), file);
      assert.doesNotMatch(sql, /@(sqlstate|hint):/, file);
    }
    assert.equal(withSqlStates("USING ERRCODE = @sqlstate:not_found@, HINT = @hint:not_found@", "x"), `USING ERRCODE = '${SQLSTATE.not_found}', HINT = 'Check the name or id.'`);
    assert.throws(() => withSqlStates("ERRCODE = @sqlstate:no_such_kind@", "99_x.sql"), /99_x\.sql: @sqlstate:no_such_kind@ names no error kind/);
  });
});

describe("errors as both runtimes read them", () => {
  test("SQLSTATEs are packed as PostgreSQL's MAKE_SQLSTATE packs them", () => {
    // 6 bits a character, the first lowest: 2 + 2·64 + 0·64² + 1·64³ + 2·64⁴
    assert.equal(packSqlState("22012"), 33816706);
    assert.equal(packSqlState("57014"), 67371461);
    for (const [, { code }] of kinds) assert.equal(unpackSqlState(packSqlState(code)), code);
    assert.throws(() => packSqlState("kw001"), /not an SQLSTATE/);
  });

  test("a core ClockworkError that escapes becomes its SQL error, with every issue in DETAIL", () => {
    const thrown = new ClockworkError([issue("invalid_parameter", "sql", "no value for parameter :a"), issue("invalid_parameter", "sql", "no value for parameter :b")]);
    const e = toSqlError(thrown) as SqlError;
    assert.equal(unpackSqlState(e.code), SQLSTATE.invalid_parameter);
    assert.equal(e.sqlerrcode, SQLSTATE.invalid_parameter);
    assert.equal(e.message, "sql: no value for parameter :a (and 1 more; see DETAIL)");
    assert.equal(e.detail, "sql: no value for parameter :a\nsql: no value for parameter :b");
    assert.equal(e.hint, ERROR_KINDS.invalid_parameter.hint);
  });

  test("SQL errors pass unchanged; a textual SQLSTATE is packed; a bug keeps its message and gets its stack as DETAIL", () => {
    const fromSql = Object.assign(new Error("division by zero"), { code: packSqlState("22012"), sqlerrcode: "22012" });
    assert.equal(toSqlError(fromSql), fromSql);
    const textual = toSqlError(Object.assign(new Error("x"), { code: "P0001" })) as SqlError;
    assert.equal(textual.code, packSqlState("P0001"));
    const bug = toSqlError(new TypeError("Cannot read properties of undefined")) as SqlError;
    assert.equal(bug.message, "Cannot read properties of undefined");
    assert.match(bug.detail ?? "", /^at /);
    assert.equal(toSqlError("thrown text"), "thrown text");
  });
});

describe("what the bundle may rely on from LANGUAGE plv8", () => {
  // Released PL/v8 lets a script catch a statement time-out or cancel raised inside
  // plv8.execute (clockwork_v8 does not: test/runtime/interrupts.test.ts shows both). A
  // catch in the adapter that swallowed one would let a call outlive its time-out on PL/v8.
  test("every catch in the adapter rethrows what it caught, or rethrows interrupts first", () => {
    const offenders: string[] = [];
    for (const file of filesUnder("extension/src").filter((f) => f.endsWith(".ts") && !f.includes(join("src", "core")))) {
      const source = ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (ts.isCatchClause(node)) {
          const body = node.block.statements;
          const name = node.variableDeclaration?.name.getText(source);
          const last = body[body.length - 1];
          const alwaysRethrows = last !== undefined && ts.isThrowStatement(last);
          const first = body[0]?.getText(source) ?? "";
          const interruptsFirst = name !== undefined && first === `if (isInterrupt(${name})) throw ${name};`;
          if (!alwaysRethrows && !interruptsFirst) {
            offenders.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepEqual(offenders, [], "start the catch with `if (isInterrupt(e)) throw e;` (extension/src/db/raise.ts)");
  });
});

describe("parameters the adapter passes to SQL", () => {
  test("an object, array or Date for a text parameter is refused before it reaches SQL as \"[object Object]\"", () => {
    // Both runtimes fill a text parameter with String(value); user JSON must cross as
    // JSON.stringify(value) (a jsonb parameter would round its numbers on PL/v8). The check
    // throws before the statement is prepared, so no plv8 is needed here.
    const insert = sql(["text", "integer", "text"], "\n    INSERT INTO clockwork.runs (job_id, job_version, params)\n    VALUES ($1::bigint, $2, $3::jsonb)");
    assert.throws(() => execute(insert, ["1", 1, { alert_job: "x" }]),
      { message: "parameter $3 (text) got an object; pass JSON as JSON.stringify(value): INSERT INTO clockwork.runs (job_id, job_version, params)" });
    assert.throws(() => execute(insert, [["1"], 1, null]), /parameter \$1 \(text\) got an array/);
    assert.throws(() => execute(insert, [new Date(0), 1, null]), /parameter \$1 \(text\) got a Date/);
  });
});

describe("errors raised by the installed extension", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test("clockwork.error_kinds shows the table", async () => {
    const { rows } = await db.query("select sqlstate, kind, hint from clockwork.error_kinds order by sqlstate");
    const expected = kinds.map(([kind, { code, hint }]) => ({ sqlstate: code, kind, hint })).sort((a, b) => a.sqlstate.localeCompare(b.sqlstate));
    assert.deepEqual(rows, expected);
  });

  test("every SQLSTATE the installed SQL raises is in the table", async () => {
    const { rows } = await db.query(`
      select p.proname, m[1] as code
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace and n.nspname = 'clockwork',
             regexp_matches(p.prosrc, 'ERRCODE\\s*=\\s*''([0-9A-Z]{5})''', 'g') as m`);
    assert.ok(rows.length >= 4, `found ${rows.length} RAISE … ERRCODE`);
    const known = new Set(kinds.map(([, k]) => k.code));
    for (const row of rows) assert.ok(known.has(row.code), `${row.proname} raises ${row.code}`);
  });

  test("an error of the PL/pgSQL API has its SQLSTATE from the table", async () => {
    const error = await sqlErrorOf(db.pool, "select clockwork.heartbeat('never-registered')");
    assert.equal(error.code, SQLSTATE.unknown_worker);
    assert.equal(error.hint, ERROR_KINDS.unknown_worker.hint);
  });
});

describe("API errors read as PostgreSQL's own, without JavaScript", () => {
  // Both runtimes give an error thrown from JavaScript a CONTEXT line of JavaScript source.
  // Each function of the API for people is a PL/pgSQL front (build/bundle.ts) that raises
  // what escapes its PL/v8 function `_<name>` again: the same SQLSTATE, message, detail and
  // hint, with PostgreSQL's own CONTEXT line.
  let db: TestDatabase;
  const INTRUDER = "errors_intruder";
  let intruder: pg.Client;
  before(async () => {
    db = await clockworkDatabase();
    await adminQuery(`do $$ begin create role ${INTRUDER} login; exception when duplicate_object then null; end $$`);
    intruder = await db.connect({ user: INTRUDER });
    await defineJob(db, { name: "victim", schedules: ["0 3 * * *"], steps: [{ name: "a", sql: "select 1" }] });
  });
  after(async () => {
    await db.drop();
  });

  type Fields = { code: string; message: string; detail?: string; hint?: string; where?: string };
  async function errorOf(client: { query(sql: string, params?: unknown[]): Promise<unknown> }, sql: string, params: unknown[] = []): Promise<Fields> {
    return client.query(sql, params).then(
      () => assert.fail(`expected an error from: ${sql}`),
      (e: Fields) => ({ code: e.code, message: e.message, detail: e.detail, hint: e.hint, where: e.where }),
    );
  }

  const twoUnknownSteps = { name: "x", steps: { a: { sql: "select 1", depends: ["b"] }, b: { sql: "select 1", depends: ["zz"] }, c: { sql: "select 2", depends: ["q"] } } };
  // [the call through its front, the same call of the internal function with every argument, the SQLSTATE, whether a DETAIL comes]
  const cases: Array<{ front: string; internal: string; params: unknown[]; code: string; detail: boolean }> = [
    { front: "select clockwork.define_job($1::jsonb)", internal: "select clockwork._define_job($1::jsonb, now())",
      params: [JSON.stringify({ name: "x", steps: { extract: { sql: "select 1" }, load: { sql: "select 1", depends: ["extrct"] } } })], code: SQLSTATE.unknown_step, detail: false },
    { front: "select clockwork.define_job($1::jsonb)", internal: "select clockwork._define_job($1::jsonb, now())",
      params: [JSON.stringify(twoUnknownSteps)], code: SQLSTATE.unknown_step, detail: true },
    { front: "select clockwork.define_job($1::text)", internal: "select clockwork._define_job($1::text, now())",
      params: ["name: y\nschedules: ['61 * * * *']\nsteps: {a: {sql: select 1}}\n"], code: SQLSTATE.invalid_schedule, detail: false },
    { front: "select * from clockwork.next_runs('nosuch')", internal: "select * from clockwork._next_runs('nosuch', 5, now())", params: [], code: SQLSTATE.not_found, detail: false },
    { front: "select * from clockwork.next_runs('victim', -1)", internal: "select * from clockwork._next_runs('victim', -1, now())", params: [], code: SQLSTATE.invalid_argument, detail: false },
    { front: "select clockwork.run_now('nosuch')", internal: "select clockwork._run_now('nosuch', '{}', now())", params: [], code: SQLSTATE.not_found, detail: false },
    { front: "select clockwork.cancel_run(999999)", internal: "select clockwork._cancel_run(999999, now())", params: [], code: SQLSTATE.not_found, detail: false },
    { front: "select clockwork.explain('nosuch', now())", internal: "select clockwork._explain('nosuch', now(), now())", params: [], code: SQLSTATE.not_found, detail: false },
    { front: "select clockwork.grant_connection('nosuch', 'public')", internal: "select clockwork._grant_connection('nosuch', 'public')", params: [], code: SQLSTATE.unknown_connection, detail: false },
    { front: "select clockwork.set_alert_defaults('{\"bogus\": 1}')", internal: "select clockwork._set_alert_defaults('{\"bogus\": 1}', now())", params: [], code: SQLSTATE.invalid_alert, detail: false },
  ];

  for (const c of cases) {
    test(`${c.front}: SQLSTATE, message, detail and hint as the PL/v8 function raised them; CONTEXT one PL/pgSQL line`, async () => {
      const fromFront = await errorOf(db, c.front, c.params);
      const fromInternal = await errorOf(db, c.internal, c.params);
      assert.equal(fromFront.code, c.code);
      assert.ok(fromFront.hint, "a hint");
      assert.equal(fromFront.detail !== undefined, c.detail, `detail: ${fromFront.detail}`);
      const { where: frontWhere, ...front } = fromFront;
      const { where: internalWhere, ...internal } = fromInternal;
      assert.deepEqual(front, internal);
      // Without the front, the error carries the stub's line of JavaScript, on both runtimes.
      assert.match(internalWhere ?? "", /__clockwork_error/);
      const name = /clockwork\.(\w+)\(/.exec(c.front)![1];
      assert.match(frontWhere ?? "", new RegExp(`^PL/pgSQL function ${name}\\([a-z ,]*\\) line \\d+ at RAISE$`));
    });
  }

  test("an error inside the PL/v8 function a hand-written API function calls has no JavaScript either", async () => {
    // alter_calendar (PL/pgSQL) re-plans the schedules excluding the calendar through
    // _replan_calendar, which waits for each job's lock: a lock time-out is raised in there.
    await db.query("select clockwork.define_calendar('holidays', array['2031-12-25']::date[])");
    await defineJob(db, { name: "calendar-user", schedules: [{ cron: "0 9 * * *", exclude: { calendars: ["holidays"] } }], steps: [{ name: "a", sql: "select 1" }] });
    const locker = await db.connect();
    const c = await db.connect();
    await locker.query("begin");
    try {
      await locker.query("select id from clockwork.jobs where name = 'calendar-user' for update");
      await c.query("set lock_timeout = '100ms'");
      const e = await errorOf(c, "select clockwork.alter_calendar('holidays', array['2031-12-26']::date[])");
      assert.deepEqual([e.code, e.message], ["55P03", "canceling statement due to lock timeout"]);
      assert.doesNotMatch(e.where ?? "", /LINE \d+:|globalThis|catch \(e\)/);
      assert.match(e.where ?? "", /PL\/pgSQL function _replan_calendar\(text,timestamp with time zone\) line \d+ at RAISE/);
    } finally {
      await locker.query("rollback");
    }
    // Nothing of the failed call stays: the calendar keeps its dates.
    assert.deepEqual((await db.query("select dates::text[] as d from clockwork.calendars where name = 'holidays'")).rows[0].d, ["2031-12-25"]);
  });

  test("docs/sql-api.md shows what psql prints for an API error", () => {
    // The block under "In `psql` an error reads as": its first line is the statement.
    const doc = readFileSync(join(root, "docs/sql-api.md"), "utf8");
    const block = /In `psql` an error reads[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(block, "the psql example in docs/sql-api.md");
    const [statement, ...shown] = block.trimEnd().split("\n");
    assert.match(statement!, /^=> select clockwork\./);
    const { host, port, user } = clusterEnv();
    const psql = spawnSync(join(pgConfig("--bindir"), "psql"), ["-X", "-q", "-h", host, "-p", String(port), "-U", user, "-d", db.name],
      { input: `${statement!.slice(3)}\n`, encoding: "utf8" });
    assert.equal(psql.stderr.trimEnd(), shown.join("\n"));
    assert.doesNotMatch(psql.stderr, /LINE \d+:|globalThis|=>/);
  });

  test("a role without EXECUTE on the internal functions reaches them only through their fronts", async () => {
    const { rows } = await db.query(`
      select p.oid::regprocedure::text as fn, p.prosecdef, l.lanname, has_function_privilege($1, p.oid, 'EXECUTE') as may
        from pg_proc p join pg_language l on l.oid = p.prolang
       where p.pronamespace = 'clockwork'::regnamespace`, [INTRUDER]);
    let fronts = 0;
    for (const fn of sqlFunctions) {
      const behind = frontOf(fn);
      if (!behind) continue;
      const mine = rows.filter((r) => r.fn.startsWith(`clockwork.${fn.name}(`));
      const internals = rows.filter((r) => r.fn.startsWith(`clockwork.${behind.internal}(`));
      assert.ok(mine.length > 0 && internals.length > 0, fn.name);
      for (const r of mine) {
        fronts++;
        // The documented function: PL/pgSQL, SECURITY as declared, executable by everyone.
        assert.deepEqual([r.lanname, r.prosecdef, r.may], ["plpgsql", fn.security === "definer", fn.grant === "public"], r.fn);
      }
      // Behind a SECURITY DEFINER front only the owner may execute it; behind an invoker
      // one it runs with the caller's rights either way.
      for (const r of internals) assert.deepEqual([r.lanname, r.may], ["plv8", fn.security === "invoker" && fn.grant === "public"], r.fn);
    }
    assert.ok(fronts >= 20, `${fronts} fronts`);
    // No PL/v8 function a plain role may execute runs with more rights than its own.
    assert.deepEqual(rows.filter((r) => r.lanname === "plv8" && r.may && r.prosecdef).map((r) => r.fn), []);

    // Called directly, the internal functions refuse: their jobs stay untouched.
    for (const call of [
      "select clockwork._run_now('victim', '{}', now())",
      "select clockwork._drop_job('victim', false)",
      `select clockwork._define_job('{"name": "squat", "steps": {"a": {"sql": "select 1"}}}'::jsonb, now())`,
      "select * from clockwork._next_runs('victim', 1, now())",
    ]) {
      const e = await errorOf(intruder, call);
      assert.equal(e.code, "42501", call);
    }
    assert.deepEqual((await runsOf(db, "victim")).length, 0);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name in ('victim', 'squat')")).rows[0].n, 1);
    // Through the front, the intruder acts as itself: another role's job does not exist for it.
    const e = await errorOf(intruder, "select clockwork.run_now('victim')");
    assert.deepEqual([e.code, e.message], [SQLSTATE.not_found, 'job "victim" does not exist']);
    assert.equal((await runsOf(db, "victim")).length, 0);
  });
});

describe("a time-out or cancel inside a Clockwork call", () => {
  // Released PL/v8 raises a statement time-out or cancel inside plv8.execute as an exception
  // the script could catch; clockwork_v8 never lets the script see it. Either way the call
  // must end with PostgreSQL's 57014 and keep nothing: the same on both runtimes.
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created), { worker: "interrupted" });

  /** Runs `sql` while another session holds clockwork.jobs locked, and returns its SQL error. */
  async function blocked(sql: string, timeout: string, interrupt: (c: pg.Client) => Promise<void>): Promise<{ code: string; message: string }> {
    const locker = await db.connect();
    const c = await db.connect();
    await c.query(`set statement_timeout = '${timeout}'`);
    await locker.query("begin; lock table clockwork.jobs in access exclusive mode");
    try {
      const pending = c.query(sql).then(
        () => assert.fail(`expected ${sql} to be interrupted`),
        (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      await interrupt(c);
      return await pending;
    } finally {
      await locker.query("rollback");
    }
  }

  const byTimeout = async (): Promise<void> => {};
  const byCancel = async (c: pg.Client): Promise<void> => {
    const pid = (c as unknown as { processID: number }).processID;
    for (let i = 0; i < 400; i++) {
      const { rows } = await db.query("select wait_event_type from pg_stat_activity where pid = $1", [pid]);
      if (rows[0]?.wait_event_type === "Lock") break;
      await new Promise((res) => setTimeout(res, 25));
    }
    assert.equal((await db.query("select pg_cancel_backend($1) as ok", [pid])).rows[0].ok, true);
  };

  for (const [name, call] of [
    ["define_job (jsonb)", `select clockwork.define_job('{"name": "interrupted", "steps": {"a": {"sql": "select 1"}}}'::jsonb)`],
    ["define_job (YAML)", `select clockwork.define_job('name: interrupted\nsteps:\n  a:\n    sql: select 1\n'::text)`],
    ["tick", "select clockwork.tick('interrupted', 10, now())"],
  ] as const) {
    test(`${name}: statement_timeout ends it with 57014 and keeps nothing`, async () => {
      const error = await blocked(call, "300ms", byTimeout);
      assert.deepEqual(error, { code: "57014", message: "canceling statement due to statement timeout" });
      assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name = 'interrupted'")).rows[0].n, 0);
    });

    test(`${name}: pg_cancel_backend ends it with 57014 and keeps nothing`, async () => {
      const error = await blocked(call, "0", byCancel);
      assert.deepEqual(error, { code: "57014", message: "canceling statement due to user request" });
      assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name = 'interrupted'")).rows[0].n, 0);
    });
  }

  test("tick: a time-out while it reads a job's definition ends the tick, not the job's schedule", async () => {
    // tick reads each due job's definition inside a catch (an unreadable stored definition
    // stops only its own job): on PL/v8 that catch must not take the time-out for one.
    await defineJob(db, { name: "due-while-locked", schedules: ["* * * * *"], steps: [{ name: "a", sql: "select 1" }] }, "2031-01-01T00:00:30Z");
    const locker = await db.connect();
    const c = await db.connect();
    await c.query("set statement_timeout = '300ms'");
    await locker.query("begin; lock table clockwork.job_versions in access exclusive mode");
    try {
      const error = await sqlErrorOf(c, "select clockwork.tick('interrupted', 0, '2031-01-01T00:01:00.5Z')");
      assert.deepEqual({ code: error.code, message: error.message }, { code: "57014", message: "canceling statement due to statement timeout" });
    } finally {
      await locker.query("rollback");
    }
    const { rows } = await db.query(`
      select s.next_fire_at, (select count(*)::int from clockwork.skipped_slots k where k.schedule_id = s.id) as skipped
        from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id where j.name = 'due-while-locked'`);
    assert.deepEqual(rows, [{ next_fire_at: new Date("2031-01-01T00:01:00Z"), skipped: 0 }]);
    // and the next tick fires the slot
    await tick(db, "interrupted", "2031-01-01T00:01:01Z", 0);
    assert.deepEqual((await runsOf(db, "due-while-locked")).map((r) => r.slot_at?.toISOString()), ["2031-01-01T00:01:00.000Z"]);
  });
});
