// Errors in both directions, and the limits that must end in an SQL error rather than
// a crashed backend: heap exhaustion, runaway recursion, huge strings.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { packSqlState } from "../../extension/src/db/raise.ts";
import { byRuntime, onlyOn } from "../support/runtime.ts";
import { assertServerHealthy, plv8, rejects, runtimeDatabase } from "./helpers.ts";

let db: TestDatabase;
before(async () => { db = await runtimeDatabase(); });
after(async () => { await db.drop(); });

describe("JavaScript -> SQL", () => {
  test("a thrown Error becomes an SQL error with its message and a CONTEXT line", async () => {
    const f = await plv8(db, "", "int", "\nvar x = 1;\nthrow new Error('boom');");
    await rejects(db.query(`select ${f}()`), { code: "XX000", message: "boom", where: new RegExp(`${f}\\(\\) LINE 3: throw new Error\\('boom'\\);`) });
  });

  test("on a very long line (a bundle) the CONTEXT shows the part around the error",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 puts the whole source line into CONTEXT, however long (the Clockwork bundle rethrows its errors from a short line of each entry point for that reason)"), async () => {
    const f = await plv8(db, "", "int", `var pad = "${"x".repeat(3000)}"; var y = 1; null.boom; var more = "${"y".repeat(3000)}";`);
    const err = await rejects(db.query(`select ${f}()`), { message: /^TypeError: Cannot read properties of null/ });
    assert.match(err.where ?? "", /LINE 1: \.\.\.x+"; var y = 1; null\.boom; var more = "y+\.\.\./);
    assert.ok((err.where ?? "").length < 400, `context is ${(err.where ?? "").length} characters`);
  });

  test("code (the packed SQLSTATE), detail and hint on the thrown object are used", async () => {
    const f = await plv8(db, "", "int", `var e = new Error('custom'); e.code = ${packSqlState("P0001")}; e.detail = 'the detail'; e.hint = 'the hint'; throw e;`);
    await rejects(db.query(`select ${f}()`), { code: "P0001", message: "custom", detail: "the detail", hint: "the hint" });
  });

  test("a code that is not a number holding an SQLSTATE is XX000; sqlerrcode is not read", async () => {
    const raise = async (code: string) =>
      rejects(db.query(`select ${await plv8(db, "", "int", `var e = new Error('x'); e.code = ${code}; throw e;`)}()`), { message: "x" });
    assert.equal((await raise("'P0001'")).code, "XX000");
    assert.equal((await raise("undefined; e.sqlerrcode = '22012'")).code, "XX000");
    // PL/v8 applies ToInt32 to whatever code holds: a string of digits becomes a meaningless SQLSTATE.
    assert.equal((await raise("'22023'")).code, byRuntime({ clockwork_v8: "XX000", plv8: "7H500" }));
    assert.equal((await raise("true")).code, byRuntime({ clockwork_v8: "XX000", plv8: "10000" }));
  });

  test("PL/v8's packed integer code is understood too", async () => {
    // MAKE_SQLSTATE('2','2','0','1','2') as PL/v8 stores it in e.code
    const f = await plv8(db, "", "int", "var e = new Error('packed'); e.code = 1794; throw e;");
    const packed = (await db.query(`select ${await plv8(db, "", "int", "try { plv8.execute('select 1/0'); } catch (e) { return e.code; }")}() as c`)).rows[0].c;
    const g = await plv8(db, "", "int", `var e = new Error('packed'); e.code = ${packed}; throw e;`);
    await rejects(db.query(`select ${g}()`), { code: "22012", message: "packed" });
    await rejects(db.query(`select ${f}()`), { message: "packed" });
  });

  test("other Error types keep their name", async () => {
    const f = await plv8(db, "", "int", "null.x;");
    await rejects(db.query(`select ${f}()`), { code: "XX000", message: /^TypeError: Cannot read properties of null/ });
  });

  test("non-Error throws: numbers, null, strings and plain objects", async () => {
    await rejects(db.query(`select ${await plv8(db, "", "int", "throw 42;")}()`), { code: "XX000", message: "42" });
    await rejects(db.query(`select ${await plv8(db, "", "int", "throw null;")}()`), { code: "XX000", message: "null" });
    await rejects(db.query(`select ${await plv8(db, "", "int", "throw undefined;")}()`), { code: "XX000", message: "undefined" });
    await rejects(db.query(`select ${await plv8(db, "", "int", "throw 'plain text';")}()`), { code: "XX000", message: "plain text" });
    // As PL/v8: the message is String(value), whatever `message` the object has.
    await rejects(db.query(`select ${await plv8(db, "", "int", `throw {message: 'from object', code: ${packSqlState("22023")}, detail: 'd'};`)}()`), {
      code: "22023", message: "[object Object]", detail: "d",
    });
  });

  test("a thrown value whose toString throws is still an SQL error",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 crashes the backend (a NULL message), and PostgreSQL then restarts every session"), async () => {
    await rejects(db.query(`select ${await plv8(db, "", "int", "throw {toString() { throw new Error('nested'); }};")}()`), { code: "XX000" });
    await assertServerHealthy(db);
  });

  test("an invalid code falls back to XX000", async () => {
    const f = await plv8(db, "", "int", "var e = new Error('bad code'); e.code = 'nope!'; throw e;");
    await rejects(db.query(`select ${f}()`), { code: "XX000", message: "bad code" });
  });
});

describe("SQL -> JavaScript", () => {
  test("an SQL error in plv8.execute is a catchable exception with sqlerrcode, message, detail, hint", async () => {
    await db.query("create table uniq (id int primary key)");
    const f = await plv8(db, "", "jsonb", `
      plv8.execute('insert into uniq values (1)');
      try { plv8.execute('insert into uniq values (1)'); }
      catch (e) { return {isError: e instanceof Error, sqlerrcode: e.sqlerrcode, message: e.message, detail: e.detail,
                          constraint: e.constraint_name, table: e.table_name}; }`);
    const r = (await db.query(`select ${f}() as r`)).rows[0].r;
    assert.deepEqual(r, {
      isError: true, sqlerrcode: "23505", message: 'duplicate key value violates unique constraint "uniq_pkey"',
      detail: "Key (id)=(1) already exists.", constraint: "uniq_pkey", table: "uniq",
    });
    const hint = await plv8(db, "", "text", "try { plv8.execute('select no_such_function(1)'); } catch (e) { return e.sqlerrcode + '|' + e.hint; }");
    assert.match((await db.query(`select ${hint}() as r`)).rows[0].r, /^42883\|No function matches/);
  });

  test("after a caught SQL error the transaction stays usable", async () => {
    const f = await plv8(db, "", "int", `
      try { plv8.execute('select * from missing_table'); } catch (e) {}
      return plv8.execute('select 41 + 1 as v')[0].v;`);
    assert.equal((await db.query(`select ${f}() as r`)).rows[0].r, 42);
  });

  test("an uncaught SQL error surfaces with its original SQLSTATE and message", async () => {
    const f = await plv8(db, "", "int", "plv8.execute('select 1/0');");
    await rejects(db.query(`select ${f}()`), { code: "22012", message: "division by zero", where: new RegExp(`${f}\\(\\) LINE 1`) });
    const g = await plv8(db, "", "int", "plv8.execute('select * from missing_table');");
    await rejects(db.query(`select ${g}()`), { code: "42P01", message: 'relation "missing_table" does not exist' });
    const h = await plv8(db, "", "int", "plv8.execute(\"select 1 from pg_class where relname = 'x' and oid = 'abc'::text::int\");");
    await rejects(db.query(`select ${h}()`), { code: "22P02" });
  });

  test("a nested plv8 error keeps its code through two levels", async () => {
    const inner = await plv8(db, "", "int", `var e = new Error('deep'); e.code = ${packSqlState("P0002")}; e.hint = 'h'; throw e;`);
    const outer = await plv8(db, "", "int", `return plv8.execute('select ${inner}() as r')[0].r;`);
    await rejects(db.query(`select ${outer}()`), { code: "P0002", message: "deep", hint: "h" });
  });
});

describe("limits end in SQL errors, the backend survives", () => {
  test("infinite recursion is a catchable RangeError, reported as SQL error 54001 (XX000 on PL/v8)", async () => {
    const f = await plv8(db, "", "int", "function r(n) { return r(n + 1) + 1; } return r(0);");
    await rejects(db.query(`select ${f}()`), { code: byRuntime({ clockwork_v8: "54001", plv8: "XX000" }), message: "RangeError: Maximum call stack size exceeded" });
    const caught = await plv8(db, "", "text", "function r(n) { return r(n + 1) + 1; } try { r(0); } catch (e) { return e.name; }");
    assert.equal((await db.query(`select ${caught}() as r`)).rows[0].r, "RangeError");
    await assertServerHealthy(db);
  });

  test("exhausting the JavaScript heap is 53200 and the session carries on",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 reports it as XX000 and keeps the exhausted context; plv8.memory_limit does not discard it"), async () => {
    const c = await db.connect();
    await c.query("set plv8.memory_limit = 64");  // before the engine starts in this backend
    const keep = await plv8(db, "", "text", "globalThis.kept = globalThis.kept || 'survivor'; return globalThis.kept;");
    assert.equal((await c.query(`select ${keep}() as r`)).rows[0].r, "survivor");
    const hog = await plv8(db, "", "int", "var a = []; while (true) a.push({i: a.length, s: 'x' + a.length});");
    await rejects(c.query(`select ${hog}()`), { code: "53200", message: /out of memory/ });
    // the garbage was local: the context (and its globals) are kept
    assert.equal((await c.query(`select ${keep}() as r`)).rows[0].r, "survivor");
    await rejects(c.query(`select ${hog}()`), { code: "53200" });
    const leak = await plv8(db, "", "int", "globalThis.leak = []; while (true) globalThis.leak.push('y' + globalThis.leak.length);");
    await rejects(c.query(`select ${leak}()`), { code: "53200" });
    // garbage held by a global cannot be collected: that role's context starts afresh
    const r = await c.query(`select ${keep}() as r, ${await plv8(db, "", "text", "return typeof globalThis.leak;")}() as t`);
    assert.equal(r.rows[0].t, "undefined");
    assert.equal(r.rows[0].r, "survivor");
    await assertServerHealthy(db);
  });

  test("huge strings: a RangeError in JavaScript, an SQL error at the boundary", async () => {
    const f = await plv8(db, "", "int", "var s = 'x'; while (true) s = s + s;");
    await rejects(db.query(`select ${f}()`), { message: /Invalid string length|out of memory/ });
    const big = await plv8(db, "", "int", "return 'x'.repeat(300 * 1024 * 1024).length;");
    assert.equal((await db.query(`select ${big}() as n`)).rows[0].n, 300 * 1024 * 1024);
    await assertServerHealthy(db);
  });

  test("sizes PostgreSQL refuses (huge arrays, parameters, >1 GB values) are SQL errors",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 reports them as XX000, and some (a >1 GB palloc) outside its error handling"), async () => {
    const sparse = await plv8(db, "", "int[]", "var a = []; a.length = 2e8; return a;");
    await rejects(db.query(`select ${sparse}()`), { code: "54000", message: /array size exceeds/ });
    const params = await plv8(db, "", "int", "var a = []; a.length = 1e6; return plv8.execute('select 1', a).length;");
    await rejects(db.query(`select ${params}()`), { message: /too many parameters/ });
    const wide = await plv8(db, "", "int", "return plv8.execute('select length($1) as n', ['\u20ac'.repeat(400 * 1024 * 1024)])[0].n;");
    await rejects(db.query(`select ${wide}()`), { message: /invalid memory alloc request size|exceeds PostgreSQL's 1 GB limit/ });
    await assertServerHealthy(db);
  });

  test("a text value bigger than V8's string limit is an error, not a crash",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 crashes the backend, and PostgreSQL then restarts every session"), async () => {
    const f = await plv8(db, "t text", "int", "return t.length;");
    await rejects(db.query(`select ${f}(repeat('x', 600 * 1024 * 1024))`), { message: /too long for a JavaScript string/ });
    await assertServerHealthy(db);
  });
});
