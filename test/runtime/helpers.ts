// Shared helpers for the runtime tests (not a test file itself): they run on the runtime
// test/support/runtime.ts selects; what only clockwork_v8 does is marked onlyOn.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { RUNTIME } from "../support/runtime.ts";

export async function runtimeDatabase(): Promise<TestDatabase> {
  return createTestDatabase({ extensions: [RUNTIME], prefix: "v8" });
}

let counter = 0;
/** Creates a plv8 function with a fresh name and returns that name. */
export async function plv8(db: { query: TestDatabase["query"] }, args: string, returns: string, body: string, extra = ""): Promise<string> {
  const name = `f${++counter}_${process.pid}`;
  await db.query(`CREATE FUNCTION ${name}(${args}) RETURNS ${returns} LANGUAGE plv8 ${extra} AS $js$${body}$js$`);
  return name;
}

export interface ExpectedError {
  code?: string;
  message?: string | RegExp;
  detail?: string;
  hint?: string;
  where?: RegExp;
}

/** Awaits a query that must fail and checks the SQL error's fields. */
export async function rejects(p: Promise<unknown>, expected: ExpectedError): Promise<pg.DatabaseError> {
  try {
    await p;
  } catch (e) {
    const err = e as pg.DatabaseError;
    if (expected.code !== undefined) assert.equal(err.code, expected.code, `SQLSTATE of: ${err.message}`);
    if (typeof expected.message === "string") assert.equal(err.message, expected.message);
    else if (expected.message) assert.match(err.message, expected.message);
    if (expected.detail !== undefined) assert.equal(err.detail, expected.detail);
    if (expected.hint !== undefined) assert.equal(err.hint, expected.hint);
    if (expected.where) assert.match(err.where ?? "", expected.where);
    return err;
  }
  assert.fail("expected the query to fail");
}

/** The test cluster's server log (the runner passes its path). */
export function serverLog(): string {
  const { logFile } = JSON.parse(process.env.CLOCKWORK_TEST_CLUSTER ?? "{}");
  return logFile ? readFileSync(logFile, "utf8") : "";
}

/** After a crash-prone test: a new connection works and no backend died by a signal. */
export async function assertServerHealthy(db: TestDatabase): Promise<void> {
  const c = await db.connect();
  const r = await c.query("select 1 as one");
  assert.equal(r.rows[0].one, 1);
  await c.end();
  const log = serverLog();
  assert.doesNotMatch(log, /terminated by signal/);
  assert.doesNotMatch(log, /server process .* was terminated/);
  assert.doesNotMatch(log, /PANIC/);
  // resource bookkeeping left behind by an error path would show up as warnings
  assert.doesNotMatch(log, /reference leak|non-empty SPI stack|was not closed/);
}

/** Resolves once a query matching `like` is active in pg_stat_activity; returns its pid. */
export async function activePid(db: TestDatabase, like: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const r = await db.query(
      "select pid from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()",
      [like],
    );
    if (r.rows.length) return r.rows[0].pid;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no active query like ${like}`);
}
