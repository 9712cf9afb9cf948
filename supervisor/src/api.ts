// Typed calls to the Clockwork SQL API. The supervisor reads and writes nothing else:
// no table is touched directly, every decision is the database's. Each statement is
// named here once. Ids stay strings (bigint).
import type pg from "pg";
import type { SqlWork, StepClaim } from "../../extension/src/functions/claim.ts";
import type { StepReport } from "../../extension/src/db/reports.ts";
import type { StopCause } from "../../extension/src/db/lifecycle.ts";
import type { DeliveryClaim } from "../../extension/src/functions/claim_deliveries.ts";
import type { SupervisorMetrics } from "./metrics.ts";

export interface WorkerRegistration {
  /** This incarnation's id: every later call names it (extension/sql/40_workers.sql). */
  readonly worker_id: string;
  readonly lease_ms: number;
  /** The incarnation of the same name this one replaced (it was found gone), or null. */
  readonly replaced: string | null;
  /** Steps of the replaced incarnation taken back at once. */
  readonly taken_back: number;
  /** Whether this start made @reboot jobs due (no other supervisor was alive). */
  readonly scheduler_start: boolean;
  /** Names the database among those this host's supervisors serve (system identifier/database oid). */
  readonly installation: string;
}

/** What tick hands out and takes: the database's own types, so the two sides cannot drift apart. */
export type { SqlWork, StepClaim, StepReport, StopCause, DeliveryClaim };

export interface TickResult {
  readonly claimed: StepClaim[];
  /** Earliest time anything becomes due; null when nothing is scheduled. */
  readonly next_due_at: string | null;
  /** Step runs whose report was refused: their claim no longer holds. */
  readonly refused_reports: string[];
  /** Whole-run transactions this worker holds: to keep open, and to commit now (db/run-transactions.ts). */
  readonly transactions: { readonly open: string[]; readonly commit: string[] };
}

export interface HeartbeatResult {
  /** Step runs whose lease was extended. */
  readonly extended: string[];
  /** Step runs named that this incarnation no longer holds: stop them. */
  readonly lost: string[];
  /** Step runs cancelled (or of runs being cancelled): stop them. */
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

type Queryable = pg.Pool | pg.ClientBase;

const SQL = {
  inRecovery: "SELECT pg_is_in_recovery() AS in_recovery",
  // clockwork.version() exists since 1.0: "1.1 (bundle …)", or "?" without the extension row.
  extensionVersion: "SELECT clockwork.version() AS r",
  currentDatabase: "SELECT current_database() AS r",
  // The session a supervisor registers on is its proof of life (its LISTEN connection):
  // idle_session_timeout must not end it, and a peer that vanished without closing it (a
  // host gone) is noticed by the server's keepalives within about half a minute.
  presenceSettings: `SELECT set_config(v.name, v.value, false)
                       FROM (VALUES ('idle_session_timeout', '0'), ('tcp_keepalives_idle', '10'),
                                    ('tcp_keepalives_interval', '5'), ('tcp_keepalives_count', '3')) AS v(name, value)
                       JOIN pg_catalog.pg_settings AS s USING (name)`,
  startWorker: "SELECT clockwork.start_worker($1::text, $2::text[], $3::text, $4::integer, $5::boolean) AS r",
  attachWorker: "SELECT clockwork.attach_worker($1::bigint) AS r",
  tick: "SELECT clockwork.tick($1::bigint, $2::integer, now(), $3::integer, $4::jsonb) AS r",
  completeStep: "SELECT clockwork.complete_step($1::bigint, $2::bigint, $3::integer, $4::text, $5::text, $6::text, stopped_by => $7::text) AS r",
  abandonRun: "SELECT clockwork.abandon_run($1::bigint, $2::bigint, $3::text) AS r",
  appendOutput: "SELECT clockwork.append_output($1::bigint, $2::bigint, $3::text, $4::text) AS r",
  heartbeat: "SELECT clockwork.heartbeat($1::bigint, $2::bigint[], now()) AS r",
  releaseWorker: "SELECT clockwork.release_worker($1::bigint) AS r",
  // Any Clockwork function loads the PL/v8 bundle into the session (~60 ms, once).
  warmUp: "SELECT clockwork.version() AS r",
  waitUntil: "SELECT clockwork.wait_until($1::timestamptz) AS r",
  checkAlerts: "SELECT clockwork.check_alerts(now(), false, $1::text) AS r",
  claimDeliveries: "SELECT clockwork.claim_deliveries($1::text, $2::integer) AS r",
  completeDelivery: "SELECT clockwork.complete_delivery($1::bigint, $2::text, $3::boolean, $4::text, $5::text) AS r",
} as const;

export class ClockworkApi {
  /** This supervisor's incarnation, once registered. */
  private workerId: string | null = null;

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

  /** The incarnation every call names; throws before registration (a bug). */
  private get me(): string {
    if (this.workerId === null) throw new Error("not registered: no worker incarnation yet");
    return this.workerId;
  }

  async inRecovery(on: Queryable = this.pool): Promise<boolean> {
    const end = this.metrics.dbRoundTrip.startTimer({ function: "inRecovery" });
    try {
      const result = await on.query(SQL.inRecovery);
      return result.rows[0].in_recovery === true;
    } finally {
      end();
    }
  }

  /** The extension's version as clockwork.version() gives it, e.g. "1.1 (bundle 3f2a…, …)". */
  extensionVersion(on: Queryable = this.pool): Promise<string> {
    return this.call("extensionVersion", [], on);
  }

  /**
   * Returns at `at` by the database's clock: on an SQL step's own connection (a pg client
   * logged in as its owner: wait_until is granted to everyone), or on ours.
   */
  async waitUntil(at: string, client?: pg.ClientBase): Promise<void> {
    await this.call("waitUntil", [at], client ?? this.pool);
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

  /** The database the supervisor is connected to, as the server names it. */
  currentDatabase(): Promise<string> {
    return this.call("currentDatabase", []);
  }

  /**
   * Registers a new incarnation on `session`, the connection this supervisor keeps open
   * (its proof of life); refused with worker_name_in_use when a live supervisor holds the name.
   */
  async startWorker(session: pg.ClientBase, labels: readonly string[], host: string, pid: number, dedicated: boolean): Promise<WorkerRegistration> {
    await this.call("presenceSettings", [], session);
    const registration = await this.call<WorkerRegistration>("startWorker", [this.worker, labels, host, pid, dedicated], session);
    this.workerId = registration.worker_id;
    return registration;
  }

  /** After a reconnect: `session` is the proof of life now; raises worker_ended when the incarnation ended meanwhile. */
  async attachWorker(session: pg.ClientBase): Promise<void> {
    await this.call("presenceSettings", [], session);
    await this.call("attachWorker", [this.me], session);
  }

  /** Forgets the incarnation (it ended): calls fail until the next startWorker. */
  forgetWorker(): void {
    this.workerId = null;
  }

  get incarnation(): string | null {
    return this.workerId;
  }

  /**
   * `lookaheadMs`: also fire and claim what is due that soon (claims carry their start_at).
   * `reports`: what became of the SQL steps this worker ran since its last tick.
   */
  async tick(maxClaims: number, lookaheadMs = 0, reports: readonly StepReport[] = []): Promise<TickResult> {
    const r = await this.call<TickResult>("tick", [this.me, maxClaims, lookaheadMs, reports.length > 0 ? JSON.stringify(reports) : null]);
    return {
      claimed: r?.claimed ?? [], next_due_at: r?.next_due_at ?? null, refused_reports: (r?.refused_reports ?? []).map(String),
      transactions: { open: (r?.transactions?.open ?? []).map(String), commit: (r?.transactions?.commit ?? []).map(String) },
    };
  }

  /** Gives up a run's transaction that this worker can no longer commit: the run fails. */
  async abandonRun(runId: string, reason: string): Promise<boolean> {
    return (await this.call<boolean>("abandonRun", [this.me, runId, reason])) === true;
  }

  /** Reports a shell, program or built-in step's end; stoppedBy says how this supervisor stopped it (the error is for people). */
  async completeStep(stepRunId: string, exitCode: number | null, stdout: string, stderr: string, error: string | null, stoppedBy: StopCause): Promise<boolean> {
    const r = await this.call<{ accepted: boolean }>("completeStep", [stepRunId, this.me, exitCode, stdout, stderr, error, stoppedBy]);
    return r?.accepted === true;
  }

  async appendOutput(stepRunId: string, stream: "stdout" | "stderr", chunk: string): Promise<boolean> {
    return (await this.call<boolean>("appendOutput", [stepRunId, this.me, stream, chunk])) === true;
  }

  /** Extends the leases of the step runs this process runs (and only those). */
  async heartbeat(running: readonly string[]): Promise<HeartbeatResult> {
    const r = await this.call<HeartbeatResult>("heartbeat", [this.me, running]);
    return { extended: (r?.extended ?? []).map(String), lost: (r?.lost ?? []).map(String), cancel: (r?.cancel ?? []).map(String) };
  }

  async releaseWorker(): Promise<number> {
    return Number(await this.call<number>("releaseWorker", [this.me]));
  }

  /** The time-based alert conditions (the database sweeps at most every few seconds); alerts opened, or null. */
  async checkAlerts(): Promise<number | null> {
    const r = await this.call<number | null>("checkAlerts", [this.worker]);
    return r === null || r === undefined ? null : Number(r);
  }

  async claimDeliveries(max: number): Promise<{ claimed: DeliveryClaim[]; next_attempt_at: string | null }> {
    const r = await this.call<{ claimed: DeliveryClaim[]; next_attempt_at: string | null }>("claimDeliveries", [this.worker, max]);
    return { claimed: r?.claimed ?? [], next_attempt_at: r?.next_attempt_at ?? null };
  }

  async completeDelivery(deliveryId: string, ok: boolean, error: string | null, response: string | null): Promise<boolean> {
    const r = await this.call<{ accepted: boolean }>("completeDelivery", [deliveryId, this.worker, ok, error, response]);
    return r?.accepted === true;
  }
}
