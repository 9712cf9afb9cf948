import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { boundRows, cutText, jsonSizeAtMost, truncationMarker, utf8Length } from "../../extension/src/core/index.ts";

const bytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x));

describe("sizes are UTF-8 bytes, as stored", () => {
  test("utf8Length agrees with Buffer.byteLength", () => {
    for (const s of ["", "abc", "é", "€uro", "𝄞 clef", "\u0000", "mixed é € 𝄞 x"]) assert.equal(utf8Length(s), Buffer.byteLength(s), s);
  });
  test("jsonSizeAtMost is the size of JSON.stringify, or limit + 1 once it is larger", () => {
    for (const v of [null, 1, -2.5, true, "a\"b\\c\n", { a: [1, "é", { b: null }], "k\"": "v" }, [], {}]) assert.equal(jsonSizeAtMost(v, 1000), bytes(v), JSON.stringify(v));
    assert.equal(jsonSizeAtMost({ a: "x".repeat(50) }, 10), 11);
  });
});

describe("cutText: at most the bound, never inside a character, then the marker", () => {
  test("text that fits is unchanged", () => {
    assert.deepEqual(cutText("abc", 3), { text: "abc", truncated: false });
    assert.deepEqual(cutText("é€", 5), { text: "é€", truncated: false });
  });
  test("longer text keeps its first bytes and says where it was cut", () => {
    assert.deepEqual(cutText("abcdef", 4), { text: `abcd${truncationMarker(4)}`, truncated: true });
    assert.deepEqual(cutText("éééé", 5), { text: `éé${truncationMarker(5)}`, truncated: true }, "a character cut at the bound is dropped");
    assert.deepEqual(cutText("a𝄞b", 4), { text: `a${truncationMarker(4)}`, truncated: true }, "a surrogate pair stays whole");
  });
});

describe("boundRows: whole rows while their JSON fits, the first one cut when none does", () => {
  test("rows that fit are kept as they are", () => {
    const rows = [{ n: 1 }, { n: 2 }];
    assert.deepEqual(boundRows(rows, 100), { rows, truncated: false });
  });
  test("rows beyond the bound are dropped, whole ones kept", () => {
    const rows = Array.from({ length: 10 }, (_, n) => ({ n, pad: "p".repeat(20) }));
    const r = boundRows(rows, 100);
    assert.equal(r.truncated, true);
    assert.deepEqual(r.rows, rows.slice(0, 2));
    assert.ok(bytes(r.rows) <= 100);
  });
  test("a first row too large keeps its small values whole and its large one cut with the marker", () => {
    const r = boundRows([{ n: 42, big: "x".repeat(3_000_000), ok: true }], 4096);
    assert.equal(r.truncated, true);
    const [row] = r.rows as Array<{ n: number; big: string; ok: boolean }>;
    assert.equal(row!.n, 42);
    assert.equal(row!.ok, true);
    assert.match(row!.big, /^x{3900,}\n\[clockwork: output truncated after \d+ bytes\]\n$/);
    assert.ok(bytes(r.rows) <= 4096, `${bytes(r.rows)} bytes`);
  });
  test("the bound holds whatever the value: escapes, several characters' widths, values that are not text", () => {
    const cases: unknown[] = [
      { q: "\"".repeat(100_000) },
      { e: "€".repeat(100_000), c: "\u0001".repeat(10_000) },
      { j: { deep: Array.from({ length: 10_000 }, (_, i) => ({ i })) } },
      { a: "x".repeat(5000), b: "y".repeat(5000), c: "z".repeat(5000) },
      "a row that is only text ".repeat(1000),
    ];
    for (const row of cases) {
      const r = boundRows([row], 4096);
      assert.equal(r.truncated, true);
      assert.equal(r.rows.length, 1, JSON.stringify(row).slice(0, 40));
      assert.ok(bytes(r.rows) <= 4096, `${bytes(r.rows)} bytes for ${JSON.stringify(row).slice(0, 40)}`);
    }
  });
});
