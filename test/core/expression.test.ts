import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseExpression, evaluateExpression, type Value } from "../../extension/src/core/index.ts";

const scope: Record<string, Value> = {
  extract: { status: "succeeded", exit_code: 0, output: "rows: 12\nOK", rows: [{ count: "12", name: "a" }], row: { count: "12", name: "a" } },
  load: { status: "failed", exit_code: 3, output: "ERROR: boom", rows: [], row: null },
  params: { region: "eu", limit: 10 },
};
const evaluate = (text: string): boolean => {
  const r = parseExpression(text);
  if (!r.ok) throw new Error(r.error.message);
  return evaluateExpression(r.ast, (name) => scope[name]);
};

describe("condition evaluation", () => {
  const cases: Array<[string, boolean]> = [
    ['extract.status == "succeeded" and extract.exit_code == 0 and extract.output contains "OK"', true],
    ['extract.status == "succeeded" and load.status == "succeeded"', false],
    ['extract.status == "succeeded" or load.status == "succeeded"', true],
    ['not load.status == "succeeded"', true],
    ["load.exit_code != 0", true],
    ["load.exit_code >= 3 and load.exit_code < 4", true],
    ["extract.row.count > 10", true], // numeric text from SQL compares as a number
    ["extract.row.count == 12", true],
    ["extract.rows[0].name == 'a'", true],
    ["extract.rows[5].name == null", true],
    ["extract.nothing.deeper == null", true],
    ['params.region == "eu"', true],
    ["params.limit <= 10", true],
    ['"b" > "a"', true],
    ['load.output contains "boom" and not (load.output contains "OK")', true],
    ["extract.status < 3", false], // cannot be ordered: false, not an error
    ["true and not false", true],
    ["extract.row", true],
    ["load.row", false],
    ['a.b == "x" or true', true],
    ["1 == 1.0", true],
    ['"it\\"s" contains "\\""', true],
  ];
  for (const [text, expected] of cases) test(`${text} is ${expected}`, () => assert.equal(evaluate(text), expected));
  test("and binds tighter than or", () => assert.equal(evaluate("true or true and false"), true));
  test("reports the names an expression reads", () => {
    const r = parseExpression('extract.status == "x" and params.a == 1 or load.output contains "y"');
    assert.deepEqual(r.ok && r.references, ["extract", "params", "load"]);
  });
});

describe("condition syntax errors carry the position", () => {
  const cases: Array<[string, number, string]> = [
    ["extract.status == ", 18, "unexpected end of expression at column 19; expected a value (a string, a number, true, false, null or a name like step.status)"],
    ['extract.status = "x"', 15, '"=" at column 16: write "==" to compare'],
    ['a.status == "x" && b', 16, '"&&" at column 17: write "and"'],
    ['a.status == "x', 12, "unterminated string starting at column 13"],
    ["(a.status == 1", 14, 'unexpected end of expression at column 15; expected ")"'],
    ["a. == 1", 3, 'unexpected "==" at column 4; expected a field name after "."'],
    ["a.status == 1 b", 14, 'unexpected "b" at column 15; expected "and", "or" or the end'],
    ["a.rows[x] == 1", 7, 'unexpected "x" at column 8; expected an index (a whole number or a string)'],
    ["a.status ~ 1", 9, 'unexpected character "~" at column 10'],
    ["and", 0, 'unexpected "and" at column 1; expected a value (a string, a number, true, false, null or a name like step.status)'],
    ["   ", 0, "the condition is empty"],
  ];
  for (const [text, position, message] of cases) {
    test(`rejects ${JSON.stringify(text)}`, () => assert.deepEqual(parseExpression(text), { ok: false, error: { position, message } }));
  }
});
