// statement_timeout, pg_cancel_backend and pg_terminate_backend stop running scripts
// promptly with PostgreSQL's own errors; the session (and its globals) survive a cancel.
// Released PL/v8 3.2.2 stops a script only while it waits inside plv8.execute, and lets the
// script catch that error: the rest is clockwork_v8's alone (docs/runtimes.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { byRuntime, onlyOn } from "../support/runtime.ts";
import { activePid, assertServerHealthy, plv8, rejects, runtimeDatabase } from "./helpers.ts";

const RUNAWAY = "PL/v8 3.2.2 cannot stop a running script: it restores PostgreSQL's signal handlers after the first call, so the loop never ends (only SIGKILL, which restarts the cluster)";
const SWALLOWED = "PL/v8 3.2.2 delivers the cancel as an ordinary exception: a loop that catches it never ends";

let db: TestDatabase;
let busy: string, sleepy: string, swallow: string, nestedSwallow: string, setGlobal: string, getGlobal: string;
before(async () => {
  db = await runtimeDatabase();
  busy = await plv8(db, "", "int", "while (true) {}");
  sleepy = await plv8(db, "", "int", "plv8.execute('select pg_sleep(10)'); return 1;");
  swallow = await plv8(db, "", "int", "while (true) { try { plv8.execute('select pg_sleep(10)'); } catch (e) {} }");
  // a busy plv8 function inside plv8.execute inside a subtransaction, in a loop that
  // catches everything: the cancel must still end the whole statement
  nestedSwallow = await plv8(db, "", "int", `while (true) {
    try { plv8.subtransaction(function () { plv8.execute('select ${busy}()'); }); } catch (e) {}
    try { plv8.execute('select ${busy}()'); } catch (e) {} }`);
  setGlobal = await plv8(db, "v text", "text", "globalThis.marker = v; return v;");
  getGlobal = await plv8(db, "", "text", "return String(globalThis.marker);");
});
after(async () => { await db.drop(); });

async function timed<T>(p: Promise<T>): Promise<number> {
  const t0 = Date.now();
  await p.catch(() => {});
  return Date.now() - t0;
}

describe("statement_timeout", () => {
  for (const [label, fn, only] of [["a busy loop", () => busy, RUNAWAY], ["a long plv8.execute", () => sleepy, null],
                                  ["a loop that catches SQL errors", () => swallow, SWALLOWED],
                                  ["nested busy calls in subtransactions", () => nestedSwallow, RUNAWAY]] as const) {
    test(`stops ${label} with 57014; the session and its globals survive`, only ? onlyOn("clockwork_v8", only) : {}, async () => {
      const c = await db.connect();
      await c.query(`select ${setGlobal}('kept')`);
      await c.query("set statement_timeout = '300ms'");
      const q = c.query(`select ${fn()}()`);
      const ms = await timed(q);
      await rejects(q, { code: "57014", message: "canceling statement due to statement timeout" });
      assert.ok(ms < 3000, `took ${ms} ms`);
      await c.query("reset statement_timeout");
      assert.equal((await c.query(`select ${getGlobal}() as g`)).rows[0].g, "kept");
      assert.equal((await c.query("select 1 + 1 as two")).rows[0].two, 2);
    });
  }
});

test("a time-out inside plv8.execute: a catchable 57014 on PL/v8, not catchable here; rethrown it ends the call on both", async () => {
  const c = await db.connect();
  const catching = await plv8(db, "secs float8", "text", "try { plv8.execute('select pg_sleep($1)', [secs]); } catch (e) { return 'caught ' + e.sqlerrcode; } return 'done';");
  // The time-out must land inside plv8.execute, not in the session's first call into V8
  // (which can take longer than 300 ms on a loaded machine): start V8 and compile the
  // function in this session first.
  assert.equal((await c.query(`select ${catching}(0) as r`)).rows[0].r, "done");
  await c.query("set statement_timeout = '300ms'");
  const q = c.query(`select ${catching}(10) as r`);
  if (byRuntime({ clockwork_v8: false, plv8: true })) {
    assert.equal((await q).rows[0].r, "caught 57014", "PL/v8 lets the script carry on after its statement time-out");
  } else {
    await rejects(q, { code: "57014", message: "canceling statement due to statement timeout" });
  }
  // What the Clockwork bundle does (extension/src/db/raise.ts isInterrupt): rethrow class 57.
  const rethrowing = await plv8(db, "", "text", `
    try { plv8.execute('select pg_sleep(10)'); } catch (e) { if (e.sqlerrcode.startsWith('57')) throw e; return 'swallowed'; }`);
  await rejects(c.query(`select ${rethrowing}()`), { code: "57014", message: "canceling statement due to statement timeout" });
  await c.query("reset statement_timeout");
});

test("a script that ran CREATE FUNCTION (the validator enters V8 too) can still be stopped", onlyOn("clockwork_v8", RUNAWAY), async () => {
  const f = await plv8(db, "", "int", `
    plv8.execute("create or replace function made_inside() returns int language plv8 as 'return 1'");
    while (true) {}`);
  const c = await db.connect();
  await c.query("set statement_timeout = '300ms'");
  const q = c.query(`select ${f}()`);
  const ms = await timed(q);
  await rejects(q, { code: "57014" });
  assert.ok(ms < 3000, `took ${ms} ms`);
});

describe("pg_cancel_backend", () => {
  for (const [label, fn, only] of [["a busy loop", () => busy, RUNAWAY], ["a long plv8.execute", () => sleepy, null],
                                  ["nested busy calls in subtransactions", () => nestedSwallow, RUNAWAY]] as const) {
    test(`cancels ${label} with 57014; the session and its globals survive`, only ? onlyOn("clockwork_v8", only) : {}, async () => {
      const c = await db.connect();
      await c.query(`select ${setGlobal}('still here')`);
      const q = c.query(`select ${fn()}() /* cancel-me */`);
      q.catch(() => {});
      const pid = await activePid(db, "%cancel-me%");
      const t0 = Date.now();
      assert.equal((await db.query("select pg_cancel_backend($1) as ok", [pid])).rows[0].ok, true);
      await rejects(q, { code: "57014", message: "canceling statement due to user request" });
      assert.ok(Date.now() - t0 < 3000, "cancel was not prompt");
      assert.equal((await c.query(`select ${getGlobal}() as g`)).rows[0].g, "still here");
    });
  }

  test("a script cannot swallow the cancel of a nested statement", onlyOn("clockwork_v8", SWALLOWED), async () => {
    const c = await db.connect();
    const q = c.query(`select ${swallow}() /* swallow-me */`);
    q.catch(() => {});
    const pid = await activePid(db, "%swallow-me%");
    await db.query("select pg_cancel_backend($1)", [pid]);
    await rejects(q, { code: "57014" });
    assert.equal((await c.query("select 'usable' as s")).rows[0].s, "usable");
  });
});

describe("pg_terminate_backend", () => {
  test("ends a busy backend cleanly; the server and other sessions carry on", onlyOn("clockwork_v8", RUNAWAY), async () => {
    const other = await db.connect();
    await other.query(`select ${setGlobal}('other')`);
    const c = await db.connect();
    const q = c.query(`select ${busy}() /* terminate-me */`);
    q.catch(() => {});
    const pid = await activePid(db, "%terminate-me%");
    assert.equal((await db.query("select pg_terminate_backend($1) as ok", [pid])).rows[0].ok, true);
    await rejects(q, { code: "57P01" });
    for (let i = 0; i < 100; i++) {
      const r = await db.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid]);
      if (r.rows[0].n === 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal((await other.query(`select ${getGlobal}() as g`)).rows[0].g, "other");
    await assertServerHealthy(db);
  });
});
