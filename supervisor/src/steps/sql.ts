// Runs an SQL step: the database does the work (as the job's owner) inside
// clockwork.run_sql_step and records the result itself. The supervisor lends it a pooled
// connection, remembers that connection's backend pid so a cancelled run can cancel the
// statement, and passes the step's time-out (applied by ClockworkApi.runSqlStep).
import type pg from "pg";
import type { ClockworkApi, SqlStepResult } from "../api.ts";

export interface RunningSqlStep {
  /** Backend pid of the connection running the step, once it has one. */
  backendPid(): number | undefined;
  readonly result: Promise<SqlStepResult>;
}

/**
 * `connection`: a pooled connection taken while the step waited for its start, so that the
 * call goes out at once, before anything else due at the same instant (a shell step's spawn
 * blocks the event loop for milliseconds).
 */
export function startSqlStep(api: ClockworkApi, pool: pg.Pool, stepRunId: string, timeoutMs: number | null = null, connection?: pg.PoolClient): RunningSqlStep {
  let pid: number | undefined;
  const result = (async (): Promise<SqlStepResult> => {
    const client = connection ?? (await pool.connect());
    pid = (client as unknown as { processID?: number }).processID;
    let broken: Error | undefined;
    try {
      return await api.runSqlStep(client, stepRunId, timeoutMs);
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
