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
  let plan = plans.get(statement.text);
  if (plan === undefined) {
    plan = plv8.prepare(statement.text, [...statement.types]);
    plans.set(statement.text, plan);
  }
  return plan.execute([...params]);
}
