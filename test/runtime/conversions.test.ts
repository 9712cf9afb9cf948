// JavaScript -> SQL conversions on both runtimes, from the table in
// extension/runtime/README.md: each row is run on the runtime of this test run and must give
// that runtime's column. The table is the documentation, so the docs cannot drift from
// either runtime. Each scalar or array case runs twice: as a function's result and as a
// parameter of a prepared plan (both runtimes convert the two the same way).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type pg from "pg";
import type { TestDatabase } from "../support/db.ts";
import { onlyOn, RUNTIME, type Runtime } from "../support/runtime.ts";
import { plv8, runtimeDatabase } from "./helpers.ts";

interface Case {
  type: string;
  js: string;
  expected: Record<Runtime, string>;
}

function cases(): Case[] {
  const readme = readFileSync(new URL("../../extension/runtime/README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("<!-- conversions:begin -->"), readme.indexOf("<!-- conversions:end -->"));
  const cell = (c: string) => c.trim().replace(/^`(.*)`$/, "$1");
  return table
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => {
      const [type, js, cv8, plv8] = line.split(" | ").map((c) => cell(c.replace(/^\| |\s\|$/g, "")));
      return { type: type!, js: js!, expected: { clockwork_v8: cv8!, plv8: plv8 === "same" ? cv8! : plv8! } };
    });
}

/** The outcome in the table's words: the value's text, NULL, or "error SQLSTATE". */
async function outcome(query: Promise<pg.QueryResult>): Promise<string> {
  try {
    const v = (await query).rows[0].v;
    return v === null ? "NULL" : String(v);
  } catch (e) {
    return `error ${(e as pg.DatabaseError).code}`;
  }
}

let db: TestDatabase;
before(async () => { db = await runtimeDatabase(); });
after(async () => { await db.drop(); });

describe("JavaScript values converted to SQL types (extension/runtime/README.md)", () => {
  const all = cases();

  test("the table has the cases", () => {
    assert.ok(all.length >= 50, `found ${all.length} rows`);
  });

  for (const c of all) {
    const expected = c.expected[RUNTIME];
    const options = c.expected.plv8.startsWith("crash") ? onlyOn("clockwork_v8", `PL/v8 3.2.2 ${c.expected.plv8}`) : {};
    const set = /^(table|setof)\b/.test(c.type);

    test(`${c.js} as a ${c.type} result: ${expected}`, options, async () => {
      const f = await plv8(db, "", c.type, `return (${c.js});`);
      const sql = set
        ? `select string_agg(coalesce(t::text, 'NULL'), ' ; ') as v from ${f}() as t`
        : `select ${f}()::text as v`;
      assert.equal(await outcome(db.query(sql)), expected);
    });

    if (!set) {
      test(`${c.js} as a ${c.type} plan parameter: ${expected}`, options, async () => {
        const f = await plv8(db, "", "text", `return plv8.prepare('select $1::text as v', ['${c.type}']).execute([(${c.js})])[0].v;`);
        assert.equal(await outcome(db.query(`select ${f}() as v`)), expected);
      });
    }
  }
});
