// clockwork.run_sql_step: runs an SQL step in this database, as the job's owner, and
// records its rows or its SQL error instead of raising. SECURITY INVOKER on purpose:
// PostgreSQL forbids SET ROLE inside SECURITY DEFINER functions, so the supervisor's
// role (a member of the job owners' roles, or a superuser) switches to the owner for
// the step's statements only, inside a subtransaction that undoes them on error.
// The step's time-out is the caller's statement_timeout (see docs/sql-api.md).
import { bindNamedParameters, type Scalar } from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { isInterrupt } from "../db/raise.ts";
import { subtransaction } from "../db/subtransaction.ts";
import { instantOf, rowsToJson } from "../db/values.ts";
import type { Completion } from "./complete_step.ts";
import { MAX_LOOKAHEAD_MS } from "./tick.ts";

/** PostgreSQL's default search_path: what the owner's SQL would see in a new session. */
const STEP_SEARCH_PATH = '"$user", public';

interface SqlStepRow {
  id: string;
  run_id: string;
  step: string;
  phase: "step" | "check";
  params: Record<string, Scalar>;
  job_id: string;
  job_version: number;
  owner: string;
  kind: string;
  started_at: Date;
}

export const run_sql_step = sqlFunction({
  name: "run_sql_step",
  args: "step_run bigint, worker text, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "invoker",
  grant: "clockwork_supervisor",
  comment:
    "Runs a claimed SQL step as the job owner and records its result or SQL error; returns {accepted, state, sql_state, error}, or {accepted: false, early_ms} when called before the claim's start_at. Call it in its own transaction with the step's statement_timeout.",
  body: (stepRun: string | number | bigint, worker: string, now: Date): Completion & { sql_state?: string | null; error?: string | null; early_ms?: number } => {
    const row = execute(SQL.stepRunForSql, [String(stepRun), worker])[0] as SqlStepRow | undefined;
    if (row === undefined || row.kind !== "sql") return { accepted: false };
    // A step claimed ahead runs in a transaction that begins no earlier than its start, so
    // that now() and current_date in the step are those of its slot. (A start further off
    // than any lookahead is a claim made with a pinned `now`, as in tests: not early.)
    const earlyMs = row.started_at.getTime() - instantOf(now);
    if (earlyMs > 0 && earlyMs <= MAX_LOOKAHEAD_MS) return { accepted: false, early_ms: Math.ceil(earlyMs) };
    const job = jobVersion(row.job_id, row.job_version);
    const def = (row.phase === "step" ? job.steps : job.checks).find((w) => w.name === row.step)!;
    const bound = bindNamedParameters(def.sql!, row.params);

    const previous = execute(SQL.currentRoleAndPath)[0] as { role: string; search_path: string };
    let rows: unknown[] | null = null;
    let sqlState: string | null = null;
    let error: string | null = null;
    try {
      subtransaction(() => {
        // The step sees the database as its owner would in a fresh session.
        execute(SQL.setLocalRoleAndPath, [row.owner, STEP_SEARCH_PATH]);
        const result = bound.values.length > 0 ? plv8.execute(bound.text, bound.values) : plv8.execute(bound.text);
        rows = Array.isArray(result) ? result : [{ rows_affected: result }];
        execute(SQL.setLocalRoleAndPath, [previous.role, previous.search_path]);
      });
    } catch (e) {
      // The step's time-out (statement_timeout) or a cancel ends this call, on PL/v8 too
      // where the script could catch it: the supervisor records the step as timed out.
      if (isInterrupt(e)) throw e;
      const err = e as { sqlerrcode?: string; message?: string };
      sqlState = typeof err.sqlerrcode === "string" ? err.sqlerrcode : "XX000";
      error = err.message ?? String(e);
      rows = null;
    }
    const recorded = execute(
      SQL.completeSqlStep,
      // A step claimed ahead starts after this transaction began: it ends no earlier than it started.
      [String(stepRun), worker, sqlState, error, rows === null ? null : rowsToJson(rows), new Date(Math.max(instantOf(now), row.started_at.getTime()))],
    )[0] as { c: Completion };
    return { ...recorded.c, sql_state: sqlState, error };
  },
});
