// One MAJOR.MINOR on both sides (UPDATING.md). The extension's side: a session that is a
// supervisor of another version (it announces it in clockwork.supervisor_version, or, a
// 1.0 supervisor, announces nothing but is named so in application_name) is refused by
// register_worker and tick with incompatible_version; a person calling the API by hand
// is not. The supervisor's side (it refuses an extension of another version) is checked
// by test/upgrade/upgrade.test.ts against a real 1.0 extension, and here as a rule.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { extensionMismatch, majorMinor, SUPERVISOR_VERSION } from "../../supervisor/src/version.ts";
import type { TestDatabase } from "../support/db.ts";
import { clockworkDatabase } from "./helpers.ts";

const OURS = majorMinor(SUPERVISOR_VERSION)!;
const [major, minor] = OURS.split(".").map(Number) as [number, number];
const OLDER = `${major}.${minor - 1}.4`;
const NEWER = `${major}.${minor + 1}.0`;

describe("a supervisor of another version is refused by the extension", () => {
  let db: TestDatabase;
  before(async () => {
    db = await clockworkDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** Runs `sql` in a session set up as given; resolves to null or the error's code and message. */
  async function asSession(settings: { app?: string; version?: string }, sql: string): Promise<{ code: string; message: string } | null> {
    const client = await db.connect();
    try {
      if (settings.app !== undefined) await client.query("SELECT set_config('application_name', $1, false)", [settings.app]);
      if (settings.version !== undefined) await client.query("SELECT set_config('clockwork.supervisor_version', $1, false)", [settings.version]);
      await client.query(sql);
      return null;
    } catch (error) {
      const e = error as { code: string; message: string };
      return { code: e.code, message: e.message };
    } finally {
      await client.end();
    }
  }

  test("a supervisor of this MAJOR.MINOR registers and ticks, whatever its patch version", async () => {
    assert.equal(await asSession({ app: "clockwork supervisor a", version: `${OURS}.0` }, "SELECT clockwork.register_worker('same-a')"), null);
    assert.equal(await asSession({ app: "clockwork supervisor a", version: `${OURS}.99` }, "SELECT clockwork.tick('same-a', 0)"), null);
  });

  for (const [what, version, shown] of [
    ["an older one", OLDER, OLDER],
    ["a newer one", NEWER, NEWER],
    ["one of 1.0, which announces nothing", undefined, "1.0 (it announces no version)"],
  ] as const) {
    test(`${what}: register_worker and tick raise incompatible_version with both versions`, async () => {
      const settings = { app: "clockwork supervisor b", ...(version !== undefined ? { version } : {}) };
      for (const sql of ["SELECT clockwork.register_worker('other-b')", "SELECT clockwork.tick('same-a', 0)"]) {
        const refused = await asSession(settings, sql);
        assert.equal(refused?.code, SQLSTATE.incompatible_version, sql);
        assert.equal(refused?.message,
          `incompatible supervisor: this database has clockwork ${OURS} and works with supervisors ${OURS}.x only; this one is ${shown}`);
      }
      const workers = (await db.query("SELECT name FROM clockwork.workers ORDER BY name")).rows.map((r) => r.name);
      assert.ok(!workers.includes("other-b"), "nothing was registered");
    });
  }

  test("a person (or a program) calling the API by hand is not a supervisor: not checked", async () => {
    assert.equal(await asSession({ app: "psql" }, "SELECT clockwork.register_worker('by-hand')"), null);
    assert.equal(await asSession({}, "SELECT clockwork.tick('by-hand', 0)"), null);
  });
});

describe("the supervisor's side of the rule", () => {
  test("an extension of its MAJOR.MINOR suits it; another one gets the line to log, with what to do", () => {
    assert.equal(extensionMismatch(`${OURS} (bundle 3f2a, 10.2)`), null);
    assert.match(extensionMismatch(`${major}.${minor - 1} (bundle 1, x)`)!, new RegExp(`is version ${major}\\.${minor - 1}; this supervisor \\(${SUPERVISOR_VERSION.replace(/\./g, "\\.")}\\) works with ${OURS} only: run ALTER EXTENSION clockwork UPDATE`));
    assert.match(extensionMismatch(`${major}.${minor + 1} (bundle 1, x)`)!, /run a supervisor of the extension's version/);
    assert.match(extensionMismatch("? (bundle unloaded, x)")!, /is version unknown/);
    assert.equal(majorMinor("1.10.2"), "1.10");
  });
});
