// Typed calls to the Clockwork SQL API. The supervisor reads and writes nothing else:
// no table is touched directly, every decision is the database's. Each statement is
// named here once. Ids stay strings (bigint).
import type pg from "pg";
import type { StepClaim } from "../../extension/src/functions/claim.ts";
import type { SupervisorMetrics } from "./metrics.ts";

export interface WorkerRegistration {
  readonly worker_id: string;
  readonly lease_ms: number;
}

/** What tick hands out: the database's own type, so the two sides cannot drift apart. */
export type { StepClaim };

export interface TickResult {
  readonly claimed: StepClaim[];
  /** Earliest time anything becomes due; null when nothing is scheduled. */
  readonly next_due_at: string | null;
}

export interface SqlStepResult {
  readonly accepted: boolean;
  readonly state?: "succeeded" | "failed" | string;
  readonly sql_state?: string | null;
  readonly error?: string | null;
  /** Called before the claim's start_at: nothing was done; call again this much later. */
  readonly early_ms?: number;
}

export interface HeartbeatResult {
  readonly extended: number;
  readonly cancel: string[];
}

/** Errors that mean "the database is (re)starting or unreachable": wait and retry. */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? "";
  const message = (error as { message?: string })?.message ?? "";
  return (
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EAI_AGAIN"].includes(code) ||
    code.startsWith("08") || // connection exceptions
    ["57P01", "57P02", "57P03", "53300", "40001", "40P01"].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)
  );
}

/** A statement_timeout fired (not a cancel on request, which has another message). */
function isStatementTimeout(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === "57014" && /statement timeout/.test(e.message ?? "");
}

type Queryable = pg.Pool | pg.PoolClient | pg.Client;

const SQL = {
  inRecovery: "SELECT pg_is_in_recovery() AS in_recovery",
  // clockwork.version() exists since 1.0: "1.1 (bundle …)", or "?" without the extension row.
  extensionVersion: "SELECT clockwork.version() AS r",
  registerWorker: "SELECT clockwork.register_worker($1::text, $2::text[], $3::text, $4::integer) AS r",
  registerDedicatedWorker: "SELECT clockwork.register_dedicated_worker($1::text, $2::text[], $3::text, $4::integer) AS r",
  tick: "SELECT clockwork.tick($1::text, $2::integer, now(), $3::integer) AS r",
  runSqlStep: "SELECT clockwork.run_sql_step($1::bigint, $2::text) AS r",
  // An SQL step's time-out: PostgreSQL cannot time a statement inside a function, so
  // run_sql_step runs in a transaction whose statement_timeout is the step's.
  begin: "BEGIN",
  stepTimeout: "SELECT set_config('statement_timeout', $1::text, true) AS r",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  completeStep: "SELECT clockwork.complete_step($1::bigint, $2::text, $3::integer, $4::text, $5::text, $6::text) AS r",
  appendOutput: "SELECT clockwork.append_output($1::bigint, $2::text, $3::text, $4::text) AS r",
  heartbeat: "SELECT clockwork.heartbeat($1::text) AS r",
  releaseWorker: "SELECT clockwork.release_worker($1::text) AS r",
  cancelBackend: "SELECT pg_cancel_backend($1::integer) AS r",
  // Any Clockwork function loads the PL/v8 bundle into the session (~60 ms, once).
  warmUp: "SELECT clockwork.version() AS r",
  waitUntil: "SELECT clockwork.wait_until($1::timestamptz) AS r",
} as const;

export class ClockworkApi {
  constructor(
    private readonly pool: pg.Pool,
    private readonly worker: string,
    private readonly metrics: SupervisorMetrics,
  ) {}

  private async call<T>(fn: keyof typeof SQL, params: unknown[], on: Queryable = this.pool): Promise<T> {
    const end = this.metrics.dbRoundTrip.startTimer({ function: fn });
    try {
      const result = await on.query(SQL[fn], params);
      return result.rows[0]?.r as T;
    } catch (error) {
      this.metrics.dbErrors.inc({ function: fn });
      throw error;
    } finally {
      end();
    }
  }

  async inRecovery(): Promise<boolean> {
    const end = this.metrics.dbRoundTrip.startTimer({ function: "inRecovery" });
    try {
      const result = await this.pool.query(SQL.inRecovery);
      return result.rows[0].in_recovery === true;
    } finally {
      end();
    }
  }

  /** The extension's version as clockwork.version() gives it, e.g. "1.1 (bundle 3f2a…, …)". */
  extensionVersion(): Promise<string> {
    return this.call("extensionVersion", []);
  }

  /** Returns at `at` by the database's clock (an SQL step claimed ahead, on its connection). */
  async waitUntil(client: pg.PoolClient, at: string): Promise<void> {
    await this.call("waitUntil", [at], client);
  }

  /**
   * Opens `connections` pooled connections at once and loads the bundle in each, so that
   * the first steps after a start do not pay for it (it would show as start lag).
   */
  async warmUp(connections: number): Promise<void> {
    const opened = await Promise.allSettled(Array.from({ length: connections }, () => this.pool.connect()));
    const clients = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    try {
      await Promise.all(clients.map((client) => this.call("warmUp", [], client)));
    } finally {
      for (const client of clients) client.release();
    }
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
  }

  registerWorker(labels: readonly string[], host: string, pid: number): Promise<WorkerRegistration> {
    return this.call("registerWorker", [this.worker, labels, host, pid]);
  }

  /** A worker that runs only jobs pinned to it by name and fires no slots (clockwork run). */
  registerDedicatedWorker(labels: readonly string[], host: string, pid: number): Promise<WorkerRegistration> {
    return this.call("registerDedicatedWorker", [this.worker, labels, host, pid]);
  }

  /** `lookaheadMs`: also fire and claim what is due that soon (claims carry their start_at). */
  async tick(maxClaims: number, lookaheadMs = 0): Promise<TickResult> {
    const r = await this.call<TickResult>("tick", [this.worker, maxClaims, lookaheadMs]);
    return { claimed: r?.claimed ?? [], next_due_at: r?.next_due_at ?? null };
  }

  /**
   * Runs an SQL step on the given pooled client (so the caller can cancel its backend).
   * With a time-out, a statement timeout is reported with complete_step as
   * "timed out after N ms" (see docs/sql-api.md); a cancel on request is thrown.
   */
  async runSqlStep(client: pg.PoolClient, stepRunId: string, timeoutMs: number | null = null): Promise<SqlStepResult> {
    // The database refuses a call that arrives before the step's start (its transaction
    // time would precede the slot). Rare: the claim's start_in_ms already accounts for it.
    for (let tries = 0; ; tries++) {
      const answer = await this.runSqlStepOnce(client, stepRunId, timeoutMs);
      if (answer.accepted || !answer.early_ms || tries >= 5) return answer;
      await new Promise((resolve) => setTimeout(resolve, answer.early_ms));
    }
  }

  private async runSqlStepOnce(client: pg.PoolClient, stepRunId: string, timeoutMs: number | null): Promise<SqlStepResult> {
    if (timeoutMs === null) return this.call("runSqlStep", [stepRunId, this.worker], client);
    await this.call("begin", [], client);
    try {
      await this.call("stepTimeout", [String(Math.max(1, Math.ceil(timeoutMs)))], client);
      const answer = await this.call<SqlStepResult>("runSqlStep", [stepRunId, this.worker], client);
      await this.call("commit", [], client);
      return answer;
    } catch (error) {
      await this.call("rollback", [], client).catch(() => {});
      if (!isStatementTimeout(error)) throw error;
      const message = `timed out after ${timeoutMs} ms`;
      const accepted = await this.completeStep(stepRunId, null, "", "", message);
      return { accepted, state: "failed", sql_state: "57014", error: message };
    }
  }

  async completeStep(stepRunId: string, exitCode: number | null, stdout: string, stderr: string, error: string | null): Promise<boolean> {
    const r = await this.call<{ accepted: boolean }>("completeStep", [stepRunId, this.worker, exitCode, stdout, stderr, error]);
    return r?.accepted === true;
  }

  async appendOutput(stepRunId: string, stream: "stdout" | "stderr", chunk: string): Promise<boolean> {
    return (await this.call<boolean>("appendOutput", [stepRunId, this.worker, stream, chunk])) === true;
  }

  async heartbeat(): Promise<HeartbeatResult> {
    const r = await this.call<HeartbeatResult>("heartbeat", [this.worker]);
    return { extended: r?.extended ?? 0, cancel: (r?.cancel ?? []).map(String) };
  }

  async releaseWorker(): Promise<number> {
    return Number(await this.call<number>("releaseWorker", [this.worker]));
  }

  /** Cancels the statement running on a backend (an SQL step of a cancelled run). */
  async cancelBackend(pid: number): Promise<boolean> {
    return (await this.call<boolean>("cancelBackend", [pid])) === true;
  }
}
