// How definitions are written as YAML (supervisor/src/definitions/render.ts) for importers,
// `clockwork export` and the diffs of `apply`: text with line breaks as a block a person
// reads and edits, and always text that reads back as exactly the definition, byte for
// byte, both by the CLI (the `yaml` library, core schema) and by define_job in the database
// (js-yaml, JSON schema), since the rendered text is what gets applied.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { JSON_SCHEMA, load } from "js-yaml";
import { parse } from "yaml";
import { renderDefinition } from "../../supervisor/src/definitions/render.ts";

const withSql = (sql: string) => ({ name: "j", steps: [{ name: "s", sql }] });

/** The step's SQL as each reader gets it back from the rendered text, and the line that holds it. */
function readBack(sql: string): { text: string; byYaml: unknown; byJsYaml: unknown } {
  const text = renderDefinition(withSql(sql));
  const byYaml = (parse(text, { schema: "core" }) as { steps: { sql: unknown }[] }).steps[0]!.sql;
  const byJsYaml = (load(text, { schema: JSON_SCHEMA }) as { steps: { sql: unknown }[] }).steps[0]!.sql;
  return { text, byYaml, byJsYaml };
}

describe("definitions rendered as YAML", () => {
  test("SQL with trailing spaces, a literal holding trailing spaces, and tabs: a block, byte for byte, no escapes", () => {
    const sql = "SELECT id,  \n\tname\nFROM people   \nWHERE note = 'two trailing  \nspaces in a literal  '\t\n  AND tab = '\t';\n";
    const { text, byYaml, byJsYaml } = readBack(sql);
    assert.equal(byYaml, sql);
    assert.equal(byJsYaml, sql);
    assert.match(text, /^    sql: \|\n      SELECT id,  \n      \tname\n      FROM people   \n/m, text);
    assert.doesNotMatch(text, /\\|"/, "no escapes, no quotes");
  });

  test("every final form of a block: without a final line break, with one, with blank lines kept, indented first line", () => {
    for (const [sql, header] of [
      ["SELECT 1;  \nSELECT 2;  ", "|-"],
      ["SELECT 1;\nSELECT 2;  \n", "|"],
      ["SELECT 1;\n\n\n", "|+"],
      ["  SELECT 1;\nSELECT 2;\n", "|2"],
    ] as const) {
      const { text, byYaml, byJsYaml } = readBack(sql);
      assert.deepEqual([byYaml, byJsYaml], [sql, sql], text);
      assert.ok(text.includes(`    sql: ${header}\n`), text);
    }
  });

  test("what a block cannot hold is double-quoted, exactly: CRLF line ends, a last line of white space", () => {
    for (const sql of ["SELECT 1;\r\nSELECT 'a  \r\nb';\r\n", "SELECT 1;\nSELECT 2;\n  ", "BEGIN;\n\t"]) {
      const { text, byYaml, byJsYaml } = readBack(sql);
      assert.deepEqual([byYaml, byJsYaml], [sql, sql], text);
      assert.match(text, /    sql: "/, text);
    }
  });

  test("lines of only white space come back as written (the yaml library's own block lost them)", () => {
    for (const sql of [" \n", "  \n \t\n\n", "\n   \n", "SELECT 1;'x'\r\n \n'y'", "   \n \nSELECT 1;\r\n"]) {
      const { text, byYaml, byJsYaml } = readBack(sql);
      assert.deepEqual([byYaml, byJsYaml], [sql, sql], text);
    }
  });

  test("any text reads back exactly, by both readers", () => {
    const piece = fc.constantFrom("SELECT 1;", " ", "  ", "\t", "\n", "\r\n", "\r", "'x  '", "--c", "#", ": ", "- ", "\\", "\"", "\u0085", "\u2028", "\u00e9", "\ufeff");
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 14 }).map((p) => p.join("")), (sql) => {
        const { byYaml, byJsYaml } = readBack(sql);
        return byYaml === sql && byJsYaml === sql;
      }),
      { seed: 20261201, numRuns: 3000 },
    );
  });
});
