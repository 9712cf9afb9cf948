// The plv8 object: SQL access, logging, subtransactions, helpers; DO blocks, procedures
// and the validator.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { byRuntime, onlyOn } from "../support/runtime.ts";
import { plv8, rejects, runtimeDatabase } from "./helpers.ts";

let db: TestDatabase;
before(async () => {
  db = await runtimeDatabase();
  await db.query("create table items (id int8 primary key, name text, data jsonb, at timestamptz)");
});
after(async () => { await db.drop(); });

describe("plv8.execute", () => {
  test("rows come back as objects with PL/v8's types; commands return the row count", async () => {
    const f = await plv8(db, "", "jsonb", `
      var n = plv8.execute('insert into items values ($1, $2, $3, $4), (2, $5, null, null)',
                           [1, 'one', {k: [1]}, new Date(0), 'two']);
      var rows = plv8.execute('select * from items order by id');
      var upd = plv8.execute('update items set name = upper(name)');
      var none = plv8.execute('select * from items where false');
      return {n: n, upd: upd, none: none, ids: rows.map(r => typeof r.id + r.id), data: rows[0].data,
              at: rows[0].at instanceof Date && rows[0].at.getTime(), name: rows[1].name, nul: rows[1].data};`);
    const r = (await db.query(`select ${f}() as r`)).rows[0].r;
    assert.deepEqual(r, { n: 2, upd: 2, none: [], ids: ["bigint1", "bigint2"], data: { k: [1] }, at: 0, name: "two", nul: null });
    await db.query("delete from items");
  });

  test("a column named __proto__ is an ordinary own property of the row (PL/v8 loses it)", async () => {
    const f = await plv8(db, "", "text", `var r = plv8.execute('select 1 as "__proto__", 2 as b')[0];
      return Object.keys(r).join(',') + '|' + (Object.getPrototypeOf(r) === Object.prototype) + '|' + r.b;`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, byRuntime({ clockwork_v8: "__proto__,b|true|2", plv8: "b|true|2" }));
  });

  test("parameters may be variadic, and their types are inferred", async () => {
    const f = await plv8(db, "", "text", `
      var a = plv8.execute('select $1::int + $2 as s, $3 as t', 1, 2, 'x')[0];
      var b = plv8.execute('select $1 + 1 as s', [41])[0];
      var c = plv8.execute('select $1::int8 * 2 as s', [2n ** 40n])[0];
      return [a.s, a.t, b.s, c.s].join(',');`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "3,x,42,2199023255552");
  });

  test("nested calls: plv8 -> SQL -> plv8", async () => {
    const inner = await plv8(db, "n int", "int", "return n * 2;");
    const outer = await plv8(db, "n int", "int", `return plv8.execute('select ${inner}($1) as r', [n])[0].r + 1;`);
    assert.equal((await db.query(`select ${outer}(20) as r`)).rows[0].r, 41);
    await db.query(`create function depth(n int) returns int language plv8 as $$
      return n <= 0 ? 0 : 1 + plv8.execute('select depth($1) as d', [n - 1])[0].d; $$`);
    assert.equal((await db.query("select depth(10) as d")).rows[0].d, 10);
  });

  test("a million-statement script does not grow: each statement's memory is freed",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 keeps every plv8.execute's memory until the call ends (about 300 MB over these 20 000 statements)"), async () => {
    const f = await plv8(db, "n int", "int8", `
      var size = function () { return plv8.execute('select sum(total_bytes)::int8 as b from pg_backend_memory_contexts')[0].b; };
      for (var i = 0; i < 200; i++) plv8.execute('select $1::int + 1 as v', [i]);
      var before = size();
      for (var i = 0; i < n; i++) plv8.execute('select $1::int + 1 as v, $2::text as t', [i, 'some text to copy ' + i]);
      return size() - before;`);
    const growth = Number((await db.query(`select ${f}(20000) as g`)).rows[0].g);
    assert.ok(growth < 1024 * 1024, `backend memory grew by ${growth} bytes over 20000 statements`);
  });

  test("an error inside a domain CHECK that calls plv8 leaves SPI balanced", async () => {
    const chk = await plv8(db, "v int", "bool", "plv8.execute('select 1'); if (v < 0) throw new Error('negative: ' + v); return true;");
    await db.query(`create domain checked_int as int check (${chk}(value))`);
    const f = await plv8(db, "v int", "checked_int", "plv8.execute('select 2'); return v;");
    const c = await db.connect();
    const notices: string[] = [];
    c.on("notice", (n) => notices.push(n.message ?? ""));
    await rejects(c.query(`select ${f}(-1)`), { message: "negative: -1" });
    assert.equal((await c.query(`select ${f}(5) as v`)).rows[0].v, 5);
    assert.deepEqual(notices, []);
  });

  test("the wrong number of parameters is an error", async () => {
    const f = await plv8(db, "", "int", "return plv8.execute('select $1::int + $2::int as s', [1])[0].s;");
    await rejects(db.query(`select ${f}()`), {});
  });
});

describe("plv8.prepare", () => {
  test("a plan runs many times with typed parameters", async () => {
    const f = await plv8(db, "", "text", `
      var plan = plv8.prepare('select $1 + $2 as s, $3 as j', ['int4', 'int8', 'jsonb']);
      var a = plan.execute([1, 2n, {x: 1}])[0];
      var b = plan.execute(10, 20, null)[0];
      plan.free();
      return [typeof a.s, a.s, JSON.stringify(a.j), b.s, b.j].join('|');`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "bigint|3|{\"x\":1}|30|");
  });

  test("a freed plan refuses to run", onlyOn("clockwork_v8", "PL/v8 3.2.2 goes on using the freed plan's memory"), async () => {
    const f = await plv8(db, "", "text", `
      var plan = plv8.prepare('select $1::int as v', ['int4']);
      plan.free();
      try { plan.execute([1]); } catch (e) { return e.message; }`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "plan has been freed");
  });

  test("a plan kept in a global survives across calls; commands return counts", async () => {
    const f = await plv8(db, "v int8", "int", `
      if (!globalThis.ins) globalThis.ins = plv8.prepare('insert into items(id, name) values ($1, $2)', ['int8', 'text']);
      return globalThis.ins.execute([v, 'p' + v]);`);
    assert.equal((await db.query(`select ${f}(100) + ${f}(101) as r`)).rows[0].r, 2);
    assert.equal((await db.query("select count(*)::int as n from items where id >= 100")).rows[0].n, 2);
    await db.query("delete from items");
  });

  test("plan.cursor: fetch one, fetch n, move, close", async () => {
    const f = await plv8(db, "", "text", `
      var plan = plv8.prepare('select i, i * 2 as d from generate_series(1, $1) i', ['int4']);
      var c = plan.cursor([10]);
      var out = [c.fetch().i, c.fetch(3).map(function (x) { return x.i; }).join('+')];
      c.move(2);
      out.push(c.fetch().d, c.fetch(100).length, String(c.fetch()));
      c.close();
      try { c.fetch(); } catch (e) { out.push(e.message); }
      plan.free();
      return out.join(',');`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, `1,2+3+4,14,3,undefined,${byRuntime({ clockwork_v8: "cursor is closed", plv8: "cannot find cursor" })}`);
  });

  test("an unknown type name in prepare throws a catchable SQL error",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 raises it past the script, which cannot catch it"), async () => {
    const f = await plv8(db, "", "text", "try { plv8.prepare('select $1', ['no_such_type']); } catch (e) { return e.sqlerrcode; }");
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "42704");
  });
});

describe("plv8.elog", () => {
  test("levels below ERROR reach the client; ERROR throws", async () => {
    const c = await db.connect();
    const notices: string[] = [];
    c.on("notice", (n) => notices.push(`${n.severity}:${n.message}`));
    // The engine starts first (PL/v8 logs a DEBUG line then).
    await c.query(`select ${await plv8(db, "", "int", "return 1;")}()`);
    await c.query("set client_min_messages = debug1");
    const f = await plv8(db, "", "text", `
      plv8.elog(NOTICE, 'hello', 42, {a: 1});
      plv8.elog(WARNING, 'careful');
      plv8.elog(INFO, 'fyi');
      plv8.elog(DEBUG1, 'debug');
      try { plv8.elog(ERROR, 'bad thing'); } catch (e) { return e.message + '/' + e.sqlerrcode; }`);
    const r = await c.query(`select ${f}() as r`);
    // As PL/v8: an Error carrying only the message.
    assert.equal(r.rows[0].r, "bad thing/undefined");
    assert.deepEqual(notices, ["NOTICE:hello 42 [object Object]", "WARNING:careful", "INFO:fyi", "DEBUG:debug"]);
    await rejects(c.query(`select ${await plv8(db, "", "int", "plv8.elog(ERROR, 'stop', 'here');")}()`), { code: "XX000", message: "stop here" });
    await rejects(c.query(`select ${await plv8(db, "", "int", "plv8.elog(12345, 'x');")}()`), { message: /invalid error level/ });
  });

  test("the level constants match PostgreSQL's", async () => {
    const f = await plv8(db, "", "text", "return [DEBUG5, DEBUG1, LOG, INFO, NOTICE, WARNING, ERROR].join(',');");
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "10,14,15,17,18,19,21");
  });
});

describe("plv8.subtransaction", () => {
  test("work inside a failing subtransaction is rolled back; the outer work is kept", async () => {
    const f = await plv8(db, "", "text", `
      plv8.execute("insert into items(id, name) values (1, 'outer')");
      var caught;
      try {
        plv8.subtransaction(function () {
          plv8.execute("insert into items(id, name) values (2, 'inner')");
          throw new Error('abort inner');
        });
      } catch (e) { caught = e.message; }
      var ok = plv8.subtransaction(function () {
        plv8.execute("insert into items(id, name) values (3, 'kept')");
        return 'returned';
      });
      return caught + '/' + ok;`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "abort inner/returned");
    const ids = (await db.query("select id::int from items order by id")).rows.map((r) => r.id);
    assert.deepEqual(ids, [1, 3]);
    await db.query("delete from items");
  });

  test("an SQL error inside the subtransaction rolls it back and comes out as a new Error with only its message", async () => {
    // As released PL/v8: sqlerrcode, code, detail and hint of the original are lost (code
    // that needs them keeps the error it caught inside the function itself).
    const f = await plv8(db, "", "jsonb", `
      try {
        plv8.subtransaction(function () {
          plv8.execute("insert into items(id, name) values (7, 'a')");
          plv8.execute("insert into items(id, name) values (7, 'dup')");
        });
      } catch (e) {
        return {message: e.message, isError: e instanceof Error, sqlerrcode: e.sqlerrcode || null, code: e.code || null,
                detail: e.detail || null, left: plv8.execute('select count(*)::int n from items where id = 7')[0].n};
      }`);
    assert.deepEqual((await db.query(`select ${f}() as r`)).rows[0].r, {
      message: 'duplicate key value violates unique constraint "items_pkey"', isError: true, sqlerrcode: null, code: null, detail: null, left: 0,
    });
    const typed = await plv8(db, "", "text", "try { plv8.subtransaction(function () { null.x; }); } catch (e) { return e.constructor.name + ': ' + e.message; }");
    assert.equal((await db.query(`select ${typed}() as r`)).rows[0].r, "Error: TypeError: Cannot read properties of null (reading 'x')");
  });
});

describe("helpers", () => {
  test("find_function returns a callable JS function of another plv8 function", async () => {
    const target = await plv8(db, "a int, b int", "int", "return a * b;");
    const f = await plv8(db, "", "text", `
      var mul = plv8.find_function('${target}');
      var byProc = plv8.find_function('${target}(int, int)');
      return mul(6, 7) + ',' + byProc(2, 3) + ',' + typeof mul;`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, "42,6,function");
    const missing = await plv8(db, "", "text", "try { plv8.find_function('no_such_fn'); } catch (e) { return e.sqlerrcode; }");
    assert.equal((await db.query(`select ${missing}() as r`)).rows[0].r, "42883");
    await db.query("create function sqlfn() returns int language sql as 'select 1'");
    const notPlv8 = await plv8(db, "", "text", "try { plv8.find_function('sqlfn'); } catch (e) { return e.message; }");
    assert.match((await db.query(`select ${notPlv8}() as r`)).rows[0].r, byRuntime({ clockwork_v8: /not a plv8 function/, plv8: /javascript function is not found/ }));
  });

  test("quote_literal, quote_nullable, quote_ident and version", async () => {
    const f = await plv8(db, "", "text[]", `return [plv8.quote_literal("it's"), plv8.quote_literal(null),
      plv8.quote_nullable(null), plv8.quote_nullable(5), plv8.quote_ident('Foo Bar'), plv8.quote_ident('foo'),
      plv8.quote_ident('select'), plv8.version];`);
    // PL/v8 3.2.2 quotes null as the string 'null'; clockwork_v8 returns null, as SQL's quote_literal(NULL).
    assert.deepEqual((await db.query(`select ${f}() as r`)).rows[0].r, ["'it''s'", byRuntime({ clockwork_v8: null, plv8: "'null'" }), "NULL", "'5'", '"Foo Bar"', "foo", '"select"', "3.2.2"]);
    assert.equal((await db.query("select plv8_version() as v")).rows[0].v, "3.2.2");
  });

  test("scripts are trusted: no require, process, module loading or timers", async () => {
    const f = await plv8(db, "", "text", `
      return [typeof require, typeof process, typeof module, typeof exports, typeof setTimeout,
              typeof fetch, typeof XMLHttpRequest, typeof Deno, typeof Bun, typeof WebAssembly].join(',');`);
    // PL/v8 3.2.2 exposes WebAssembly; clockwork_v8 does not.
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, [...Array(9).fill("undefined"), byRuntime({ clockwork_v8: "undefined", plv8: "object" })].join(","));
    await rejects(db.query(`select ${await plv8(db, "", "int", "return require('fs');")}()`), { message: /require is not defined/ });
    // A static import is not even valid syntax in a function body.
    await rejects(db.query(`create function imp() returns int language plv8 as $$ import fs from 'fs'; $$`), { code: byRuntime({ clockwork_v8: "42601", plv8: "XX000" }) });
    // A dynamic import is rejected (no module loader), never loads anything.
    const dyn = await plv8(db, "", "text", `
      var state = 'pending'; import('fs').then(function () { state = 'loaded'; }, function (e) { state = 'rejected'; });
      return state;`);
    const r = (await db.query(`select ${dyn}() as r`)).rows[0].r;
    assert.notEqual(r, "loaded");
    const ev = await plv8(db, "", "int", "return eval('1 + 1') + new Function('return 40')();");
    assert.equal((await db.query(`select ${ev}() as r`)).rows[0].r, 42);
  });
});

describe("DO blocks, procedures and the validator", () => {
  test("DO runs JavaScript; its errors are SQL errors", async () => {
    await db.query("do $$ plv8.execute(\"insert into items(id, name) values (50, 'from do')\"); $$ language plv8");
    assert.equal((await db.query("select name from items where id = 50")).rows[0].name, "from do");
    await rejects(db.query("do $$ throw new Error('in do'); $$ language plv8"), { message: "in do", where: byRuntime({ clockwork_v8: /^anonymous\(\) LINE 1/, plv8: /^undefined\(\) LINE 1/ }) });
    await db.query("delete from items");
  });

  test("procedures can commit and roll back between statements", async () => {
    await db.query(`create procedure fill() language plv8 as $$
      plv8.execute("insert into items(id, name) values (60, 'committed')"); plv8.commit();
      plv8.execute("insert into items(id, name) values (61, 'rolled back')"); plv8.rollback();
      plv8.execute("insert into items(id, name) values (62, 'committed too')"); $$`);
    await db.query("call fill()");
    const ids = (await db.query("select id::int from items where id >= 60 order by id")).rows.map((r) => r.id);
    assert.deepEqual(ids, [60, 62]);
    await rejects(db.query(`select ${await plv8(db, "", "int", "plv8.commit();")}()`), { code: "2D000" });
    await db.query("delete from items");
  });

  test("a syntax error is reported at CREATE FUNCTION with its line (42601; XX000 on PL/v8)", async () => {
    const code = byRuntime({ clockwork_v8: "42601", plv8: "XX000" });
    await rejects(db.query("create function bad() returns int language plv8 as $$\nvar a = 1;\nreturn a +;\n$$"), {
      code, message: /SyntaxError/, where: /bad\(\) LINE 3/,
    });
  });

  test("with check_function_bodies off, a syntax error comes at the first call",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 compiles at CREATE FUNCTION even with check_function_bodies off"), async () => {
    const c = await db.connect();
    await c.query("set check_function_bodies = off");
    await c.query("create function bad_later() returns int language plv8 as $$ return +; $$");
    await rejects(c.query("select bad_later()"), { code: "42601", message: /SyntaxError/ });
  });

  test("trigger functions are refused clearly", onlyOn("clockwork_v8", "PL/v8 implements trigger functions; clockwork_v8 does not (the bundle uses none)"), async () => {
    await rejects(db.query("create function trg() returns trigger language plv8 as $$ return NEW; $$"), { code: "0A000" });
  });

  test("a replaced function body takes effect in the same session", async () => {
    const c = await db.connect();
    await c.query("create function ver() returns int language plv8 as $$ return 1; $$");
    assert.equal((await c.query("select ver() as v")).rows[0].v, 1);
    await db.query("create or replace function ver() returns int language plv8 as $$ return 2; $$");
    assert.equal((await c.query("select ver() as v")).rows[0].v, 2);
  });
});
