import { test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/db.ts";

test("the test cluster serves a fresh database per call", async () => {
  const a = await createTestDatabase();
  const b = await createTestDatabase();
  try {
    await a.query("create table only_in_a (x int)");
    const seen = await b.query("select to_regclass('only_in_a') is not null as present");
    assert.equal(seen.rows[0].present, false);
    const tz = await a.query("show timezone");
    assert.equal(tz.rows[0].TimeZone, "UTC");
  } finally {
    await a.drop();
    await b.drop();
  }
});
