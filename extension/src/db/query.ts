// Runs the adapter's SQL statements through plans prepared once per session. Planning
// these statements costs about fifteen times their execution (0.19 ms against 0.012 ms
// measured with clockwork_v8), and tick runs several per call.

export interface Statement {
  readonly text: string;
  /** Parameter types in $n order, as plv8.prepare wants them on both PL/v8 and clockwork_v8. */
  readonly types: readonly string[];
  /**
   * Always run with its one generic plan (plan_cache_mode = force_generic_plan around it).
   * For statements whose generic plan is the plan a custom one would be, but which the
   * plan cache would plan again on every call: a LIMIT from a parameter makes the generic
   * plan look dearer (it assumes 10 % of the rows) than a custom plan that knows the
   * limit. tick's claim was planned on every call so: about 1 ms of a tick of 10 claims.
   * test/extension/plans.test.ts checks the generic plan of each statement marked so.
   */
  readonly generic?: boolean;
}

export function sql(types: readonly string[], text: string, options: { generic?: boolean } = {}): Statement {
  return options.generic === true ? { text, types, generic: true } : { text, types };
}

/** Sets plan_cache_mode for the rest of the transaction (the caller's function's SET level) and returns what it was. */
const SET_PLAN_CACHE_MODE: Statement = {
  text: "SELECT current_setting('plan_cache_mode') AS was, set_config('plan_cache_mode', $1, true)",
  types: ["text"],
};

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
  if (statement.generic === true) {
    // Read at each execution by the plan cache, so it applies to this statement only. If
    // the statement fails, no statement may follow it: the setting goes back with the
    // (sub)transaction that fails, or with the calling function's SET level.
    const was = ((prepared(SET_PLAN_CACHE_MODE).execute(["force_generic_plan"]) as { was: string }[])[0]!).was;
    const result = prepared(statement).execute([...params]);
    if (was !== "force_generic_plan") prepared(SET_PLAN_CACHE_MODE).execute([was]);
    return result;
  }
  return prepared(statement).execute([...params]);
}

function prepared(statement: Statement): plv8.Plan {
  let plan = plans.get(statement.text);
  if (plan === undefined) {
    plan = plv8.prepare(statement.text, [...statement.types]);
    plans.set(statement.text, plan);
  }
  return plan;
}
