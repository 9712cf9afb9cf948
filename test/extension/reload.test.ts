// After an upgrade replaces the bundle, a session that already loaded the old one must
// not keep running it: every entry point compares the bundle hash it was generated with.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { withClockworkDatabase } from "./helpers.ts";

describe("bundle reload", () => {
  let db: TestDatabase;
  withClockworkDatabase((created) => (db = created));

  test("a session notices a replaced bundle and reloads it before the next call", async () => {
    const session = await db.connect();
    const first = await session.query("select clockwork.version() as v");
    assert.match(first.rows[0].v, /bundle [0-9a-f]{16}/);

    // What ALTER EXTENSION ... UPDATE does: replace the loader and every stub, with a new hash.
    const other = await db.connect();
    await other.query(`
      create or replace function clockwork._load_bundle() returns void language plv8 as $b$
        globalThis.__clockwork = { version: () => "upgraded bundle" };
        globalThis.__clockwork_hash = "0123456789abcdef";
      $b$`);
    await other.query(`
      create or replace function clockwork.version() returns text language plv8 stable as $f$
        if (globalThis.__clockwork_hash !== "0123456789abcdef") plv8.execute("SELECT clockwork._load_bundle()");
        return globalThis.__clockwork.version();
      $f$`);

    const second = await session.query("select clockwork.version() as v");
    assert.equal(second.rows[0].v, "upgraded bundle");
  });
});
