// Runs an SQL step: the database does the work (as the job's owner) inside
// clockwork.run_sql_step and records the result itself. The supervisor lends it a pooled
// connection, remembers that connection's backend pid so a cancelled run can cancel the
// statement, and applies the step's time-out: PostgreSQL cannot time a statement inside a
// function, so the call runs in a transaction with SET LOCAL statement_timeout, and a
// time-out is reported with complete_step (see docs/sql-api.md).
import type pg from "pg";
import type { ClockworkApi, SqlStepResult } from "../api.ts";

export interface RunningSqlStep {
  /** Backend pid of the connection running the step, once it has one. */
  backendPid(): number | undefined;
  readonly result: Promise<SqlStepResult>;
}

/** A statement_timeout fired (not a cancel on request, which has another message). */
function isStatementTimeout(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === "57014" && /statement timeout/.test(e.message ?? "");
}

export function startSqlStep(api: ClockworkApi, pool: pg.Pool, stepRunId: string, timeoutMs: number | null = null): RunningSqlStep {
  let pid: number | undefined;
  const result = (async (): Promise<SqlStepResult> => {
    const client = await pool.connect();
    pid = (client as unknown as { processID?: number }).processID;
    let broken: Error | undefined;
    try {
      if (timeoutMs === null) return await api.runSqlStep(client, stepRunId);
      await client.query("BEGIN");
      try {
        await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`);
        const answer = await api.runSqlStep(client, stepRunId);
        await client.query("COMMIT");
        return answer;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        if (!isStatementTimeout(error)) throw error;
        const message = `timed out after ${timeoutMs} ms`;
        const accepted = await api.completeStep(stepRunId, null, "", "", message);
        return { accepted, state: "failed", sql_state: "57014", error: message };
      }
    } catch (error) {
      // A cancelled statement leaves a healthy connection; anything else may not.
      if ((error as { code?: string }).code !== "57014") broken = error as Error;
      throw error;
    } finally {
      pid = undefined;
      client.release(broken);
    }
  })();
  return { backendPid: () => pid, result };
}
