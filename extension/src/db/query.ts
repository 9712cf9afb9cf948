// Runs the adapter's SQL statements through plans prepared once per session. Planning
// these statements costs about fifteen times their execution (0.19 ms against 0.012 ms
// measured with clockwork_v8), and tick runs several per call.

export interface Statement {
  readonly text: string;
  /** Parameter types in $n order, as plv8.prepare wants them on both PL/v8 and clockwork_v8. */
  readonly types: readonly string[];
}

// Statements are planned as PostgreSQL's plan cache decides: a custom plan per call when
// the generic one looks dearer. Forcing generic plans (to save the claim's 0.7 ms of
// planning a tick) was tried and taken back: a generic plan made while the tables are
// empty and analyzed (a new install after VACUUM ANALYZE) scans them, and the session keeps
// it until the next ANALYZE; a 3 000-step burst then took 40 s instead of 3
// (docs/benchmarks.md, "The tick's fixed cost").
export function sql(types: readonly string[], text: string): Statement {
  return { text, types };
}

const plans = new Map<string, plv8.Plan>();

// A plan the plan cache keeps is made for the tables' size at that moment, and it is kept
// until an ANALYZE or a change of the table. Made while a table is empty or nearly (a new
// install, after VACUUM ANALYZE of the empty tables), every plan scans: on a table of no
// pages a scan costs nothing, and no index or query shape makes an index lookup cheaper
// (with scans disabled the planner picks a full scan of another index just as well). A burst
// then grows the table to thousands of rows long before autovacuum's next ANALYZE (about a
// minute), and the session kept scanning it: the firing tick's activeRuns read every run
// (9 ms at 50 000). So a session's plans are made again once a table has doubled since they
// were made (and has at least MIN_REPLAN_BYTES): a plan is never used on a table more than
// twice the size it was made for, and made again it sees the table's real size (the planner
// scales its statistics to the table's current pages), where a lookup is an index lookup
// (test/extension/plans.test.ts, "plans made on empty tables"). Sizes are read at most once
// a REPLAN_CHECK_MS per session: about 0.1 ms, about log2(size) times over a table's life.
export const REPLAN_CHECK_MS = 1000;
const MIN_REPLAN_BYTES = 8 * 8192;
/** The tables that grow with use and are read by key (pg_relation_size takes a lock on each). */
const TABLE_SIZES = sql([], `
    SELECT c.oid::integer AS id, pg_catalog.pg_relation_size(c.oid) AS bytes
      FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'clockwork'::regnamespace AND c.relkind = 'r'
       AND c.relname IN ('jobs', 'job_versions', 'schedules', 'runs', 'step_runs', 'run_transactions',
                         'skipped_slots', 'alerts', 'alert_deliveries')`);
/** Table oid → its size in bytes when the session's plans were made (or its smallest since). */
let plannedSizes: Map<number, number> | undefined;
let nextSizeCheckAt = 0;
/**
 * Plans given up at the last check, freed at the next one: a statement of ours that called
 * one of our functions (none does today) would otherwise have its plan freed under it.
 */
let retired: plv8.Plan[] = [];

function replanIfTablesGrew(): void {
  const now = Date.now();
  if (now < nextSizeCheckAt) return;
  nextSizeCheckAt = now + REPLAN_CHECK_MS;
  for (const plan of retired) plan.free();
  retired = [];
  const sizes = new Map<number, number>();
  for (const row of run(TABLE_SIZES) as { id: number; bytes: string | number }[]) sizes.set(row.id, Number(row.bytes));
  if (plannedSizes !== undefined && ![...sizes].some(([id, bytes]) => bytes >= MIN_REPLAN_BYTES && bytes >= 2 * (plannedSizes!.get(id) ?? bytes))) {
    // Not grown: keep the sizes the plans were made for, or smaller ones (a table emptied since).
    for (const [id, bytes] of sizes) sizes.set(id, Math.min(plannedSizes.get(id) ?? bytes, bytes));
  } else if (plannedSizes !== undefined) {
    retired = [...plans.values()];
    plans.clear();
  }
  plannedSizes = sizes;
}

/** Parameter types that both runtimes fill with String(value): an object there is a bug. */
const TEXT_TYPES = new Set(["text", "name"]);

/** Rows for a statement that returns rows, the affected row count otherwise. */
export function execute(statement: Statement, params: readonly unknown[] = []): any {
  // User JSON crosses as JSON text (a jsonb parameter would round numbers on PL/v8): an
  // object passed for a text parameter would be stored as "[object Object]" on both runtimes.
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (value !== null && typeof value === "object" && TEXT_TYPES.has(statement.types[i] ?? "")) {
      const kind = Array.isArray(value) ? "an array" : value instanceof Date ? "a Date" : "an object";
      throw new Error(`parameter $${i + 1} (${statement.types[i]}) got ${kind}; pass JSON as JSON.stringify(value): ${statement.text.trim().split("\n")[0]}`);
    }
  }
  replanIfTablesGrew();
  return run(statement, params);
}

function run(statement: Statement, params: readonly unknown[] = []): any {
  let plan = plans.get(statement.text);
  if (plan === undefined) {
    plan = plv8.prepare(statement.text, [...statement.types]);
    plans.set(statement.text, plan);
  }
  return plan.execute([...params]);
}
