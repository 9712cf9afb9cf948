// Global state: one V8 context per role and session, as in PL/v8; plv8.start_proc.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { onlyOn, RUNTIME } from "../support/runtime.ts";
import { plv8, rejects, runtimeDatabase } from "./helpers.ts";

let db: TestDatabase;
const suffix = randomBytes(4).toString("hex");
const roleA = `v8_a_${suffix}`;
const roleB = `v8_b_${suffix}`;
let setG: string, getG: string;

before(async () => {
  db = await runtimeDatabase();
  await adminQuery(`create role ${roleA} login`);
  await adminQuery(`create role ${roleB} login`);
  setG = await plv8(db, "v text", "text", "var old = globalThis.secret; globalThis.secret = v; return String(old);");
  getG = await plv8(db, "", "text", "return String(globalThis.secret);");
});
after(async () => {
  await db.drop();
  await adminQuery(`drop role if exists ${roleA}`);
  await adminQuery(`drop role if exists ${roleB}`);
});

describe("contexts", () => {
  test("globals persist across calls in a session", async () => {
    const c = await db.connect();
    assert.equal((await c.query(`select ${setG}('one') as r`)).rows[0].r, "undefined");
    assert.equal((await c.query(`select ${setG}('two') as r`)).rows[0].r, "one");
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "two");
  });

  test("another session does not see them", async () => {
    const a = await db.connect();
    const b = await db.connect();
    await a.query(`select ${setG}('mine')`);
    assert.equal((await b.query(`select ${getG}() as r`)).rows[0].r, "undefined");
  });

  test("SET ROLE switches to that role's own context and back", async () => {
    const c = await db.connect();
    await c.query(`set role ${roleA}`);
    await c.query(`select ${setG}('A secret')`);
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "A secret");
    await c.query(`set role ${roleB}`);
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "undefined");
    await c.query(`select ${setG}('B secret')`);
    await c.query(`set role ${roleA}`);
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "A secret");
    await c.query("reset role");
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "undefined");
  });

  test("roles connecting directly are isolated too, and built-ins cannot be poisoned across roles", async () => {
    const a = await db.connect({ user: roleA });
    const poison = await plv8(db, "", "text", "Array.prototype.includes = function () { return 'poisoned'; }; return 'done';");
    const check = await plv8(db, "", "text", "return String([1].includes(1));");
    await a.query(`select ${poison}()`);
    assert.equal((await a.query(`select ${check}() as r`)).rows[0].r, "poisoned");
    await a.query(`set role ${roleB}`).catch(() => {});
    const b = await db.connect({ user: roleB });
    assert.equal((await b.query(`select ${check}() as r`)).rows[0].r, "true");
  });

  test("a SECURITY DEFINER function runs in its owner's context", async () => {
    const owner = await plv8(db, "", "text", "return String(globalThis.secret);", "SECURITY DEFINER");
    const c = await db.connect();
    await c.query(`select ${setG}('superuser secret')`);
    await c.query(`set role ${roleA}`);
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "undefined");
    assert.equal((await c.query(`select ${owner}() as r`)).rows[0].r, "superuser secret");
  });
});

test("DROP and CREATE EXTENSION in one session: functions of the new language work", async () => {
  const own = await runtimeDatabase();
  try {
    const c = await own.connect();
    const make = async (v: string) => {
      await c.query(`create function a1() returns text language plv8 as $$ return '${v}'; $$`);
      await c.query("create function a2() returns text language plv8 as $$ return plv8.find_function('a1')(); $$");
    };
    await make("one");
    assert.equal((await c.query("select a2() as r")).rows[0].r, "one");
    await c.query(`drop extension ${RUNTIME} cascade`);
    await c.query(`create extension ${RUNTIME}`);
    await make("two");
    assert.equal((await c.query("select a2() as r")).rows[0].r, "two");
  } finally {
    await own.drop();
  }
});

describe("plv8.start_proc", () => {
  test("runs once when a context is created", async () => {
    const init = await plv8(db, "", "void", "globalThis.started = (globalThis.started || 0) + 1; globalThis.helper = function (x) { return x * 3; };");
    const use = await plv8(db, "", "text", "return globalThis.started + ':' + globalThis.helper(5);");
    const c = await db.connect();
    await c.query(`set plv8.start_proc = '${init}'`);
    assert.equal((await c.query(`select ${use}() as r`)).rows[0].r, "1:15");
    assert.equal((await c.query(`select ${use}() as r`)).rows[0].r, "1:15");
    // a new role context runs it again
    await c.query(`set role ${roleA}`);
    assert.equal((await c.query(`select ${use}() as r`)).rows[0].r, "1:15");
  });

  test("a failing start_proc is an SQL error and is retried on the next call",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 carries on silently when start_proc names no function"), async () => {
    const c = await db.connect();
    await c.query("set plv8.start_proc = 'no_such_start_proc'");
    await rejects(c.query(`select ${getG}()`), { code: "42883" });
    await c.query("reset plv8.start_proc");
    assert.equal((await c.query(`select ${getG}() as r`)).rows[0].r, "undefined");
  });

  test("CREATE FUNCTION does not run it, so the start function can be created after setting it", async () => {
    const c = await db.connect();
    await c.query("set plv8.start_proc = 'start_later'");
    await c.query("create function start_later() returns void language plv8 as $$ globalThis.late = 'ran'; $$");
    const probe = await plv8(db, "", "text", "return String(globalThis.late);");
    assert.equal((await c.query(`select ${probe}() as r`)).rows[0].r, "ran");
  });

  test("only a superuser may set it",
    onlyOn("clockwork_v8", "PL/v8 3.2.2 applies a start_proc that a non-superuser set before the module was loaded in the backend"), async () => {
    const a = await db.connect({ user: roleA });
    // Set before the module is loaded in this backend, a placeholder is not applied...
    const init = await plv8(db, "", "void", "globalThis.started = 'yes';");
    const probe = await plv8(db, "", "text", "return String(globalThis.started);");
    await a.query(`set plv8.start_proc = '${init}'`);
    assert.equal((await a.query(`select ${probe}() as r`)).rows[0].r, "undefined");
    // ...and once it is loaded, setting it is refused outright.
    await rejects(a.query(`set plv8.start_proc = '${init}'`), { code: "42501" });
  });
});
