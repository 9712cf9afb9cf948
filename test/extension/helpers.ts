// Helpers for the extension's integration tests: a database with clockwork installed,
// and short-hands for the SQL API with pinned time (tests never sleep for a schedule).
import { after, before } from "node:test";
import type pg from "pg";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import type { StepClaim } from "../../extension/src/functions/claim.ts";

export type { StepClaim };
export { runSqlClaim, report, ownerConnections } from "../support/sql-steps.ts";

export async function clockworkDatabase(): Promise<TestDatabase> {
  return createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "cw" });
}

/**
 * A Clockwork database for the tests of the enclosing describe: created before them, with
 * a worker registered under `worker` if given, handed to `use`, and dropped after them.
 *   let db: TestDatabase;
 *   withClockworkDatabase((created) => (db = created), { worker: "w1" });
 */
export function withClockworkDatabase(use: (db: TestDatabase) => void, options: { worker?: string } = {}): void {
  let db: TestDatabase | undefined;
  before(async () => {
    db = await clockworkDatabase();
    if (options.worker !== undefined) await registerWorker(db.pool, options.worker);
    use(db);
  });
  after(async () => {
    await db?.drop();
  });
}

/** Anything with node-pg's query(text, values): a pool, a client, or a TestDatabase. */
type Queryable = { query(sql: string, params?: any[]): Promise<pg.QueryResult<any>> };


export interface TickResult {
  claimed: StepClaim[];
  next_due_at: string | null;
}

export async function registerWorker(db: Queryable, name: string, labels: string[] = []): Promise<void> {
  await db.query("select clockwork.register_worker($1, $2::text[])", [name, labels]);
}

export async function tick(db: Queryable, worker: string, now: string | Date, maxClaims = 100): Promise<TickResult> {
  const { rows } = await db.query("select clockwork.tick($1, $2, $3::timestamptz) as t", [worker, maxClaims, now]);
  return rows[0].t as TickResult;
}

export async function defineJob(db: Queryable, definition: object, now?: string): Promise<string> {
  const { rows } = now
    ? await db.query("select clockwork.define_job($1::jsonb, $2::timestamptz) as id", [JSON.stringify(definition), now])
    : await db.query("select clockwork.define_job($1::jsonb) as id", [JSON.stringify(definition)]);
  return String(rows[0].id);
}

/** The SQL error a statement raises (fails the test if it succeeds). */
export async function sqlErrorOf(db: Queryable, sql: string, params: unknown[] = []): Promise<{ code: string; message: string; detail?: string; hint?: string }> {
  try {
    await db.query(sql, params);
  } catch (error) {
    const e = error as { code: string; message: string; detail?: string; hint?: string };
    return { code: e.code, message: e.message, detail: e.detail, hint: e.hint };
  }
  throw new Error(`expected an error from: ${sql}`);
}

export async function runsOf(db: Queryable, job: string): Promise<{ run_id: string; slot_at: Date | null; state: string; trigger: string }[]> {
  const { rows } = await db.query(
    "select run_id::text, slot_at, state, trigger from clockwork.run_history where job = $1 order by slot_at, run_id",
    [job],
  );
  return rows;
}
