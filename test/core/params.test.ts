import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { bindNamedParameters, expandMatrix, findNamedPlaceholders, ClockworkError, SQLSTATE } from "../../extension/src/core/index.ts";

describe("bindNamedParameters", () => {
  const cases: Array<[string, string, Record<string, string | number | boolean | null>, string, unknown[]]> = [
    ["plain placeholders", "select * from t where a = :a and b = :b", { a: 1, b: "x" }, "select * from t where a = $1 and b = $2", [1, "x"]],
    ["a repeated name reuses its number", "select :a, :b, :a", { a: 1, b: 2 }, "select $1, $2, $1", [1, 2]],
    ["casts are not placeholders", "select :a::int, x::text", { a: "5" }, "select $1::int, x::text", ["5"]],
    ["strings are left alone", "select ':a', 'it''s :b', :c", { c: true }, "select ':a', 'it''s :b', $1", [true]],
    ["E-strings with backslash escapes", "select E'\\' :a', :b", { b: 1 }, "select E'\\' :a', $1", [1]],
    ["quoted identifiers", 'select "col:a" from t where x = :x', { x: null }, 'select "col:a" from t where x = $1', [null]],
    ["line comments", "select 1 -- :a\n, :b", { b: 2 }, "select 1 -- :a\n, $1", [2]],
    ["nested block comments", "select /* :a /* :b */ :c */ :d", { d: 4 }, "select /* :a /* :b */ :c */ $1", [4]],
    ["dollar quotes", "do $$ begin perform :a; end $$; select :b", { b: 1 }, "do $$ begin perform :a; end $$; select $1", [1]],
    ["tagged dollar quotes", "select $fn$ :a $$ :b $fn$, :c", { c: 3 }, "select $fn$ :a $$ :b $fn$, $1", [3]],
    ["assignment := is not a placeholder", "do $$ begin x := 1; end $$", {}, "do $$ begin x := 1; end $$", []],
    ["existing $1 positional parameters stay", "select $1", {}, "select $1", []],
  ];
  for (const [name, sql, params, text, values] of cases) {
    test(name, () => {
      const r = bindNamedParameters(sql, params);
      assert.equal(r.text, text);
      assert.deepEqual(r.values, values);
    });
  }
  test("a missing parameter is an invalid_parameter error naming it", () => {
    assert.throws(() => bindNamedParameters("select :a, :b", { a: 1 }), (e: unknown) => e instanceof ClockworkError && e.code === SQLSTATE.invalid_parameter && e.message === "sql: no value for parameter :b");
  });
  test("finds placeholders with their offsets", () => {
    assert.deepEqual(findNamedPlaceholders("select :a, ':x', :b_2"), [{ name: "a", position: 7 }, { name: "b_2", position: 17 }]);
  });
});

describe("expandMatrix", () => {
  test("is the Cartesian product, first key slowest", () => {
    assert.deepEqual(expandMatrix("load", { region: ["eu", "us"], size: [1, 2] }).map((i) => i.id), [
      "load[region=eu,size=1]", "load[region=eu,size=2]", "load[region=us,size=1]", "load[region=us,size=2]",
    ]);
  });
  test("without a matrix there is one instance named like the step", () => {
    assert.deepEqual(expandMatrix("load", null), [{ id: "load", index: 0, values: {} }]);
  });
  test("values that need quoting are quoted in the id", () => {
    assert.deepEqual(expandMatrix("s", { q: ["a b", true] }).map((i) => i.id), ['s[q="a b"]', "s[q=true]"]);
  });
  test("is bounded", () => {
    const big = { a: Array.from({ length: 20 }, (_, i) => i), b: Array.from({ length: 20 }, (_, i) => i) };
    assert.throws(() => expandMatrix("s", big), (e: unknown) => e instanceof ClockworkError && e.code === SQLSTATE.matrix_too_large && e.message === "matrix: matrix expands to 400 instances; at most 256 are allowed");
    assert.equal(expandMatrix("s", big, 400).length, 400);
  });
});
