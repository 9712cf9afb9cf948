// Argument and result conversion, following PL/v8 3.2.2's documented mapping. Where the
// runtimes differ on a result, test/runtime/conversions.test.ts has the case (from the
// table in extension/runtime/README.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { byRuntime, onlyOn } from "../support/runtime.ts";
import { plv8, rejects, runtimeDatabase } from "./helpers.ts";

let db: TestDatabase;
before(async () => { db = await runtimeDatabase(); });
after(async () => { await db.drop(); });

/** typeof and a JSON-ish rendering of the argument as JavaScript sees it. */
async function seen(type: string, literal: string): Promise<{ type: string; value: string }> {
  const f = await plv8(db, `x ${type}`, "text", `
    var v = x;
    var s = (typeof v === 'bigint') ? v.toString() + 'n'
      : (v instanceof Date) ? 'Date(' + (isNaN(v) ? 'NaN' : v.toISOString()) + ')'
      : (v instanceof Uint8Array) ? 'Uint8Array[' + Array.from(v).join(',') + ']'
      : JSON.stringify(v, function (k, e) { return typeof e === 'bigint' ? e.toString() + 'n' : e; });
    return (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v) + ' ' + s;`);
  const r = await db.query(`select ${f}(${literal}::${type}) as r`);
  const [t, ...rest] = (r.rows[0].r as string).split(" ");
  return { type: t ?? "", value: rest.join(" ") };
}

describe("arguments arrive as PL/v8 3.x delivers them", () => {
  const cases: [string, string, string, string][] = [
    ["bool", "true", "boolean", "true"],
    ["int2", "-7", "number", "-7"],
    ["int4", "2147483647", "number", "2147483647"],
    ["int8", "9223372036854775807", "bigint", "9223372036854775807n"],
    ["float4", "1.5", "number", "1.5"],
    ["float8", "-0.25", "number", "-0.25"],
    ["numeric", "12.75", "number", "12.75"],
    ["text", "'héllo'", "string", '"héllo"'],
    ["varchar(5)", "'abc'", "string", '"abc"'],
    ["json", `'{"a":[1,null]}'`, "object", '{"a":[1,null]}'],
    ["jsonb", `'{"b":2,"a":"x"}'`, "object", '{"a":"x","b":2}'],
    ["timestamptz", "'2024-03-31 01:30:00.123+02'", "object", "Date(2024-03-30T23:30:00.123Z)"],
    ["timestamp", "'2024-01-01 12:34:56.789'", "object", "Date(2024-01-01T12:34:56.789Z)"],
    ["date", "'2024-02-29'", "object", "Date(2024-02-29T00:00:00.000Z)"],
    ["bytea", "'\\x00ff10'", "object", "Uint8Array[0,255,16]"],
    ["uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "string", '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'],
    ["int4[]", "'{1,NULL,3}'", "array", "[1,null,3]"],
    ["int8[]", "'{1,-2}'", "array", '["1n","-2n"]'],
    ["text[]", `'{a,"b c",NULL}'`, "array", '["a","b c",null]'],
    // A deliberate extension (the Clockwork bundle passes no multi-dimensional array):
    // PL/v8 3.2.2 flattens one.
    ["int4[]", "'{{1,2},{3,4}}'", "array", byRuntime({ clockwork_v8: "[[1,2],[3,4]]", plv8: "[1,2,3,4]" })],
    ["int4[]", "'{}'", "array", "[]"],
    ["jsonb[]", `array['{"a":1}'::jsonb, 'null'::jsonb]`, "array", '[{"a":1},null]'],
  ];
  for (const [type, literal, jsType, rendered] of cases) {
    test(`${type} ${literal} arrives as ${jsType} ${rendered}`, async () => {
      assert.deepEqual(await seen(type, literal), { type: jsType, value: rendered });
    });
  }

  test("NULL of every type arrives as null", async () => {
    for (const type of ["bool", "int8", "numeric", "text", "jsonb", "timestamptz", "bytea", "int4[]"]) {
      assert.deepEqual(await seen(type, "NULL"), { type: "null", value: "null" }, type);
    }
  });

  test("a composite argument arrives as an object with its column names", async () => {
    await db.query("create type pair as (id int8, label text, tags text[])");
    const f = await plv8(db, "p pair", "text", "return typeof p.id + ':' + p.id + ':' + p.label + ':' + p.tags.length + ':' + JSON.stringify(Object.keys(p))");
    const r = await db.query(`select ${f}(row(5, 'x', array['a','b'])::pair) as r`);
    assert.equal(r.rows[0].r, 'bigint:5:x:2:["id","label","tags"]');
  });

  test("polymorphic, variadic and defaulted arguments", async () => {
    const poly = await plv8(db, "x anyelement", "anyelement", "return x;");
    const r = await db.query(`select ${poly}(5) as i, ${poly}('a'::text) as t, ${poly}(array[1,2]) as a, ${poly}(7::int8)::text as b`);
    assert.deepEqual(r.rows[0], { i: 5, t: "a", a: [1, 2], b: "7" });
    const vari = await plv8(db, "variadic xs int[]", "int", "return xs.reduce(function (a, b) { return a + b; }, 0);");
    assert.equal((await db.query(`select ${vari}(1, 2, 3) as s`)).rows[0].s, 6);
    const defs = await plv8(db, "a int, b int default 10", "int", "return a + b;");
    assert.deepEqual((await db.query(`select ${defs}(1) as x, ${defs}(b => 2, a => 1) as y`)).rows[0], { x: 11, y: 3 });
  });

  test("unnamed arguments are $1, $2 and arguments[]", async () => {
    const f = await plv8(db, "int, text", "text", "return $1 + '/' + $2 + '/' + arguments.length");
    assert.equal((await db.query(`select ${f}(3, 'z') as r`)).rows[0].r, "3/z/2");
  });
});

describe("results convert back", () => {
  async function ret(type: string, js: string): Promise<unknown> {
    const f = await plv8(db, "", type, `return ${js};`);
    return (await db.query(`select ${f}()::text as r`)).rows[0].r;
  }

  test("int8 accepts a BigInt, a number and a numeric string", async () => {
    assert.equal(await ret("int8", "9007199254740993n"), "9007199254740993");
    assert.equal(await ret("int8", "42"), "42");
    assert.equal(await ret("int8", "'-9223372036854775808'"), "-9223372036854775808");
  });

  test("scalars", async () => {
    assert.equal(await ret("bool", "1"), "true");
    assert.equal(await ret("int2", "-32768"), "-32768");
    assert.equal(await ret("int4", "'17'"), "17");
    assert.equal(await ret("float8", "0.1 + 0.2"), "0.30000000000000004");
    assert.equal(await ret("float4", "2.5"), "2.5");
    assert.equal(await ret("numeric", "12.5"), "12.5");
    assert.equal(await ret("numeric", "'123456789012345678901234567890.5'"), "123456789012345678901234567890.5");
    assert.equal(await ret("numeric", "12345678901234567890n"), "12345678901234567890");
    assert.equal(await ret("text", "{toString() { return 'obj' }}"), "obj");
    assert.equal(await ret("varchar", "123"), "123");
    assert.equal(await ret("uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert.equal(await ret("bytea", "new Uint8Array([1, 2, 255])"), "\\x0102ff");
    assert.equal(await ret("bytea", "new Uint16Array([1]).buffer"), "\\x0100");
  });

  test("json and jsonb are stringified objects", async () => {
    assert.equal(await ret("jsonb", "{b: [1, 'x', null], a: {c: true}}"), '{"a": {"c": true}, "b": [1, "x", null]}');
    assert.equal(await ret("json", "[1, 2]"), "[1,2]");
    assert.equal(await ret("jsonb", "'just a string'"), '"just a string"');
  });

  test("dates: a Date, or a string in PostgreSQL's syntax", async () => {
    assert.equal(await ret("timestamptz", "new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678))"), "2020-01-02 03:04:05.678+00");
    assert.equal(await ret("timestamp", "new Date(Date.UTC(1999, 11, 31, 23, 59, 59))"), "1999-12-31 23:59:59");
    assert.equal(await ret("date", "new Date(Date.UTC(2024, 1, 29))"), "2024-02-29");
    assert.equal(await ret("timestamptz", "'2024-06-01 12:00+02'"), "2024-06-01 10:00:00+00");
  });

  test("arrays and composites", async () => {
    assert.equal(await ret("int4[]", "[1, null, 3]"), "{1,NULL,3}");
    assert.equal(await ret("int8[]", "[1n, 2, '3']"), "{1,2,3}");
    assert.equal(await ret("text[]", "[]"), "{}");
    assert.equal(await ret("jsonb[]", "[{a: 1}, [2]]"), `{"{\\"a\\": 1}",[2]}`);
    await db.query("create type rgb as (r int, g int, b text)");
    assert.equal(await ret("rgb", "{r: 1, g: null, b: 'x'}"), "(1,,x)");
    assert.equal(await ret("rgb", "{b: 'y', r: 2, g: undefined}"), "(2,,y)");
    await rejects(ret("rgb", "{r: 1}"), { message: /field name \/ property name mismatch/ });
  });

  test("null and undefined return NULL; void returns nothing", async () => {
    assert.equal(await ret("text", "null"), null);
    assert.equal(await ret("int8", "undefined"), null);
    const f = await plv8(db, "", "void", "return 42;");
    assert.equal((await db.query(`select ${f}()::text as r`)).rows[0].r, "");
  });

  test("record results need a column definition",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 cannot return a record whose columns the query defines (input of anonymous composite types is not implemented)"), async () => {
    const rec = await plv8(db, "", "record", "return {x: 1, y: 'z'};");
    const r = await db.query(`select * from ${rec}() as t(x int, y text)`);
    assert.deepEqual(r.rows, [{ x: 1, y: "z" }]);
    await rejects(db.query(`select ${rec}()`), { code: "0A000" });
  });

  test("OUT parameters form the row", onlyOn("clockwork_v8", "PL/v8 3.2.2 cannot return a row through OUT parameters (input of anonymous composite types is not implemented)"), async () => {
    const out = await plv8(db, "a int, out doubled int, out label text", "record", "return {doubled: a * 2, label: 'n' + a};");
    assert.deepEqual((await db.query(`select * from ${out}(21)`)).rows, [{ doubled: 42, label: "n21" }]);
  });

  test("a value that does not fit is an SQL error, not a wrong number (PL/v8 stores the wrong number)", onlyOn("clockwork_v8", "PL/v8 3.2.2 wraps 2147483648 to -2147483648 and stores an invalid Date as 2000-01-01 (conversions.test.ts has each case on both)"), async () => {
    await rejects(db.query(`select ${await plv8(db, "", "int4", "return 2147483648;")}()`), { code: "22003", message: 'value "2147483648" is out of range for type integer' });
    await rejects(db.query(`select ${await plv8(db, "", "int8", "return 2n ** 64n;")}()`), { code: "22003" });
    await rejects(db.query(`select ${await plv8(db, "", "timestamptz", "return new Date(NaN);")}()`), {
      code: "22007", message: "an invalid Date cannot be converted to timestamptz", detail: "the real PL/v8 would store 2000-01-01 00:00:00",
    });
    await rejects(db.query(`select ${await plv8(db, "", "jsonb", "return {claims: [{at: new Date(0)}, [new Date(0)]]};")}()`), {
      code: "22023", message: "a Date outside an object property cannot be converted to jsonb",
      detail: "at $.claims[1][0]: the real PL/v8 stores such a Date as {}; use toISOString()",
    });
  });

  test("text a type refuses is an SQL error", async () => {
    await rejects(db.query(`select ${await plv8(db, "", "int4", "return 'abc';")}()`), { code: "22P02", message: /invalid input syntax for type integer/ });
    await rejects(db.query(`select ${await plv8(db, "", "uuid", "return 'not-a-uuid';")}()`), { code: "22P02" });
  });

  test("domains are checked", async () => {
    await db.query("create domain posint as int check (value > 0)");
    await rejects(db.query(`select ${await plv8(db, "", "posint", "return -1;")}()`), { code: "23514" });
    assert.equal((await db.query(`select ${await plv8(db, "", "posint", "return 5;")}() as r`)).rows[0].r, 5);
  });
});

describe("sets", () => {
  test("SETOF scalar via plv8.return_next", async () => {
    const f = await plv8(db, "n int", "setof int8", "for (var i = 0; i < n; i++) plv8.return_next(BigInt(i) * 10n);");
    const r = await db.query(`select * from ${f}(3) as v`);
    assert.deepEqual(r.rows.map((x) => x.v), ["0", "10", "20"]);
  });

  test("SETOF by returning an array; empty sets", async () => {
    const f = await plv8(db, "n int", "setof text", "var a = []; for (var i = 0; i < n; i++) a.push('r' + i); return a;");
    assert.deepEqual((await db.query(`select ${f}(2) as v`)).rows.map((x) => x.v), ["r0", "r1"]);
    assert.equal((await db.query(`select * from ${f}(0)`)).rows.length, 0);
  });

  test("RETURNS TABLE with objects, NULL columns and both styles mixed", async () => {
    const f = await plv8(db, "", "table(id int8, name text, meta jsonb)", `
      plv8.return_next({id: 1n, name: 'a', meta: {k: 1}});
      return [{id: 2, name: null, meta: undefined}];`);
    const r = await db.query(`select id::text, name, meta from ${f}() order by id`);
    assert.deepEqual(r.rows, [{ id: "1", name: "a", meta: { k: 1 } }, { id: "2", name: null, meta: null }]);
  });

  test("a single TABLE / OUT column takes the value itself, as PL/v8 does (an object is that value)", async () => {
    const t = await plv8(db, "", "table (x int)", "plv8.return_next(1); plv8.return_next(2); return [3, null];");
    assert.deepEqual((await db.query(`select x from ${t}()`)).rows.map((r) => r.x), [1, 2, 3, null]);
    const o = await plv8(db, "out y text", "text", "return 'plain';");
    assert.equal((await db.query(`select ${o}() as r`)).rows[0].r, "plain");
    const j = await plv8(db, "", "table (j jsonb)", "return [{j: 1}];");
    assert.deepEqual((await db.query(`select j from ${j}()`)).rows[0].j, { j: 1 });
  });

  test("SETOF composite type", async () => {
    await db.query("create type kv as (k text, v int)");
    const f = await plv8(db, "", "setof kv", "return [{k: 'a', v: 1}, {k: 'b', v: 2}];");
    assert.deepEqual((await db.query(`select * from ${f}()`)).rows, [{ k: "a", v: 1 }, { k: "b", v: 2 }]);
  });

  test("return_next outside a set-returning function throws", async () => {
    const f = await plv8(db, "", "int", "plv8.return_next(1); return 1;");
    await rejects(db.query(`select ${f}()`), { message: /return_next called in context that cannot accept a set/ });
  });

  test("a set-returning function that returns a non-array is an error", onlyOn("clockwork_v8", "PL/v8 3.2.2 takes the value as the one row"), async () => {
    const f = await plv8(db, "", "setof int", "return 5;");
    await rejects(db.query(`select * from ${f}()`), { message: /must return an array/ });
  });
});
