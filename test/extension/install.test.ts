import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, sqlErrorOf } from "./helpers.ts";
import { SQLSTATE } from "../../extension/src/core/errors.ts";

describe("installing the extension", () => {
  let bare: TestDatabase;
  let db: TestDatabase;
  before(async () => {
    bare = await createTestDatabase();
    db = await clockworkDatabase();
  });
  after(async () => {
    await bare.drop();
    await db.drop();
  });

  test("refuses to install without LANGUAGE plv8, saying what to install", async () => {
    const error = await sqlErrorOf(bare.pool, "create extension clockwork");
    assert.equal(error.code, SQLSTATE.missing_language);
    assert.match(error.message, /needs LANGUAGE plv8/);
    assert.match(error.hint ?? "", /clockwork_v8/);
    const left = await bare.query("select count(*)::int as n from pg_namespace where nspname = 'clockwork'");
    assert.equal(left.rows[0].n, 0, "a failed install leaves nothing behind");
  });

  test("every table, column and view carries a comment", async () => {
    const { rows } = await db.query(`
      select c.relname || coalesce('.' || a.attname, '') as object
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'clockwork'
        left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and c.relkind = 'r'
       where c.relkind in ('r', 'v')
         and obj_description(c.oid, 'pg_class') is null
          or (a.attname is not null and col_description(c.oid, a.attnum) is null and n.nspname = 'clockwork')`);
    assert.deepEqual(rows.map((r) => r.object), []);
  });

  test("every function declares its search_path and carries a comment", async () => {
    const { rows } = await db.query(`
      select p.proname, p.proconfig, obj_description(p.oid, 'pg_proc') as comment
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'clockwork'`);
    assert.ok(rows.length >= 15, `expected the API functions, found ${rows.length}`);
    for (const row of rows) {
      if (row.proname === "lease_duration" || row.proname === "output_limit" || row.proname === "_load_bundle") continue;
      assert.ok(
        (row.proconfig ?? []).some((c: string) => c.startsWith("search_path=")),
        `${row.proname} sets search_path`,
      );
      assert.ok(row.comment, `${row.proname} has a comment`);
    }
  });

  test("the generated entry points load the bundle on first use in a session", async () => {
    const client = await db.connect();
    const { rows } = await client.query("select clockwork.version() as v");
    assert.match(rows[0].v, /^\d+\.\d+/);
  });
});
