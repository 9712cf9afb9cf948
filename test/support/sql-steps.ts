// Playing the supervisor for SQL steps in tests: a claim from tick runs through the
// supervisor's own code (steps/sql.ts) on a connection logged in as the claim's role,
// and its report goes back with a tick, as the supervisor sends it.
import type pg from "pg";
import { createLogger } from "../../supervisor/src/logging.ts";
import { OwnerConnections } from "../../supervisor/src/steps/owner-connections.ts";
import { startSqlStep, type SqlStepResult } from "../../supervisor/src/steps/sql.ts";
import type { StepClaim, StepReport } from "../../supervisor/src/api.ts";
import { clusterEnv } from "./db.ts";

type Queryable = { query(sql: string, params?: any[]): Promise<pg.QueryResult<any>> };

/** Owner connections to a test database (trust authentication: no credentials needed). */
export function ownerConnections(database: string, base: Record<string, string> = {}): OwnerConnections {
  const { host, port } = clusterEnv();
  return new OwnerConnections({
    base: { host, port: String(port), dbname: database, ...base },
    files: { passfile: "/nonexistent/.pgpass", serviceFiles: [], certDir: "/nonexistent" },
    applicationName: "clockwork test",
    maxPerPool: 4,
    idleTimeoutMs: 1000,
    connectTimeoutMs: 5000,
    log: createLogger("silent", "test").log,
  });
}

/** Sends reports with a tick that claims nothing; returns the tick's answer. */
export async function report(db: Queryable, worker: string, reports: StepReport[], now: Date = new Date()): Promise<{ refused_reports: string[] }> {
  const { rows } = await db.query("select clockwork.tick($1, 0, $2::timestamptz, 0, $3::jsonb) as t", [worker, now, JSON.stringify(reports)]);
  return rows[0].t;
}

/**
 * Runs an SQL step's claim as a supervisor would, then reports it (unless there is nothing
 * to report). Returns how it ended and whether the report was accepted.
 */
export async function runSqlClaim(
  db: Queryable & { name: string },
  claim: StepClaim,
  options: { worker?: string; connections?: OwnerConnections; now?: Date; outputLimitBytes?: number } = {},
): Promise<SqlStepResult & { accepted: boolean | null }> {
  const connections = options.connections ?? ownerConnections(db.name);
  try {
    const result = await startSqlStep(claim, { connections, lateMs: 0, ...(options.outputLimitBytes === undefined ? {} : { outputLimitBytes: options.outputLimitBytes }) }).result;
    if (result.report === null) return { ...result, accepted: null };
    const answer = await report(db, options.worker ?? "w1", [result.report], options.now);
    return { ...result, accepted: !answer.refused_reports.includes(claim.step_run_id) };
  } finally {
    if (options.connections === undefined) await connections.end();
  }
}
