// `clockwork supervisor`: wires configuration, logging, the SQL API, the LISTEN
// connection, the ticker, the step executor, heartbeats and the health server, and
// handles start-up (waiting for a primary that accepts connections) and shutdown.
//
// Standby: a supervisor started against a standby (pg_is_in_recovery()) does not exit:
// it logs an error and retries with back-off, because a standby may be promoted and a
// sidecar that exits would only be restarted by its orchestrator in a loop.
import pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { AlertDeliverer } from "./alerts/deliverer.ts";
import { ClockworkApi, isTransient } from "./api.ts";
import { ConfigError, loadConfig, type SupervisorConfig } from "./config.ts";
import { startHealthServer, type HealthServer, type Readiness } from "./http.ts";
import { LeaseKeeper } from "./leases.ts";
import { Listener } from "./listener.ts";
import { createLogger, errorFields, type Logger } from "./logging.ts";
import { SupervisorMetrics } from "./metrics.ts";
import { StepExecutor } from "./steps/executor.ts";
import { OwnerConnections } from "./steps/owner-connections.ts";
import { Ticker, type TickReason } from "./ticker.ts";

const READ_ONLY = "25006";
/** The database no longer knows this worker (restored, or its row removed): register again. */
const UNKNOWN_WORKER = SQLSTATE.unknown_worker;
/** Connections of the supervisor's own pool opened (and warmed up) at start. */
const WARM_CONNECTIONS = 2;

/** One supervisor: `clockwork supervisor` runs one; `clockwork run` runs a dedicated one in-process. */
export class Supervisor {
  private readonly metrics = new SupervisorMetrics();
  private readonly pool: pg.Pool;
  private readonly api: ClockworkApi;
  private readonly listener: Listener;
  private readonly ticker: Ticker;
  private readonly executor: StepExecutor;
  private readonly connections: OwnerConnections;
  private readonly leases: LeaseKeeper;
  /** Alert checks and deliveries: a loop of its own, so a slow receiver never delays a tick. */
  private readonly alerts: AlertDeliverer | null;
  private http: HealthServer | null = null;
  private stopping = false;
  private registered = false;
  private lastDb: { ok: boolean; error?: string } = { ok: false, error: "not connected yet" };
  private readonly stopController = new AbortController();
  private finished!: (code: number) => void;
  readonly done = new Promise<number>((resolve) => (this.finished = resolve));

  constructor(
    private readonly config: SupervisorConfig,
    private readonly log: Logger,
  ) {
    const clientConfig: pg.ClientConfig = {
      ...(config.databaseUrl ? { connectionString: config.databaseUrl } : {}),
      application_name: `clockwork supervisor ${config.workerName}`.slice(0, 63),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
    };
    // The supervisor's own calls: tick, heartbeats, the output and results of shell steps.
    // SQL steps never use this pool (they run on connections logged in as their owners).
    // Its connections are warmed up at start (ClockworkApi.warmUp): a new connection costs
    // the bundle load, which would show as start lag.
    this.pool = new pg.Pool({ ...clientConfig, min: WARM_CONNECTIONS, max: config.concurrency + 2, idleTimeoutMillis: 30_000 });
    // A pooled connection that dies (database restart), idle or in use, must not crash the process.
    this.pool.on("error", (error) => this.log.warn({ error: errorFields(error) }, "idle database connection lost"));
    this.pool.on("connect", (client) => client.on("error", (error) => this.log.warn({ error: errorFields(error) }, "database connection lost")));
    this.api = new ClockworkApi(this.pool, config.workerName, this.metrics);
    this.connections = new OwnerConnections({
      base: config.ownerBase,
      files: config.credentialFiles,
      applicationName: `clockwork step ${config.workerName}`.slice(0, 63),
      maxPerPool: config.concurrency,
      idleTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      log,
    });
    // A dedicated worker (clockwork run) runs one job; the regular supervisors deliver alerts.
    this.alerts = config.dedicated ? null : new AlertDeliverer(this.api, config, log, this.metrics);
    this.executor = new StepExecutor(config, this.api, this.connections, this.metrics, log, () => this.ticker.wake("step-finished"), this.alerts?.mailer);
    this.leases = new LeaseKeeper(this.api, log, () => this.executor.size > 0 || this.executor.pendingReports > 0, (ids) => this.executor.cancel(ids));
    this.ticker = new Ticker({
      tick: (reason) => this.tick(reason),
      safetyTickMs: config.safetyTickMs,
      leadMs: config.fireAheadMs,
      log,
      onError: (error, failures) => this.onDbError("tick", error, failures),
    });
    this.listener = new Listener(
      clientConfig,
      {
        onWakeup: (payload) => {
          if (payload === "alert") this.alerts?.wake();
          else this.ticker.wake("notify");
        },
        onCancel: (ids) => this.executor.cancel(ids),
        onConnected: () => this.ticker.wake("reconnect"),
        onDisconnected: () => {},
      },
      log,
    );
  }

  readiness(): Readiness {
    if (this.stopping) return { ready: false, reason: "shutting down" };
    if (!this.registered) return { ready: false, reason: `waiting for the database: ${this.lastDb.error ?? "connecting"}` };
    if (!this.listener.connected) return { ready: false, reason: "LISTEN connection down" };
    if (!this.lastDb.ok) return { ready: false, reason: `database unreachable: ${this.lastDb.error}` };
    return { ready: true, reason: "ready" };
  }

  async start(): Promise<void> {
    if (this.config.httpPort !== null) {
      try {
        this.http = await startHealthServer({
          port: this.config.httpPort,
          host: this.config.httpHost,
          readiness: () => this.readiness(),
          registry: this.metrics.registry,
        });
        this.log.info({ port: this.http.port }, "health and metrics listening");
      } catch (error) {
        this.log.error({ error: errorFields(error) }, "could not start the health/metrics server; continuing without it");
      }
    }
    this.log.info(
      { labels: this.config.labels, concurrency: this.config.concurrency, pid: this.config.pid },
      "supervisor starting",
    );
    if (!(await this.registerUntilReady())) return;
    try {
      await this.api.warmUp(WARM_CONNECTIONS);
    } catch (error) {
      this.log.warn({ error: errorFields(error) }, "could not warm up the connection pool; connections open on demand");
    }
    this.listener.start();
    this.leases.start();
    this.ticker.start();
    this.alerts?.start();
  }

  /** Waits for a primary that accepts connections and registers the worker. */
  private async registerUntilReady(): Promise<boolean> {
    for (let attempt = 0; !this.stopping; attempt++) {
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      try {
        if (await this.api.inRecovery()) {
          this.lastDb = { ok: false, error: "database is a standby" };
          this.log.error(
            { retry_in_ms: delay },
            "the database is a standby (in recovery): a supervisor needs the primary; waiting in case it is promoted",
          );
        } else {
          const registration = await this.register();
          this.leases.setLeaseMs(Number(registration.lease_ms) || 30_000);
          this.connections.setDatabase(await this.api.currentDatabase());
          this.registered = true;
          this.lastDb = { ok: true };
          this.log.info({ worker_id: registration.worker_id, lease_ms: registration.lease_ms }, "worker registered");
          if (this.alerts !== null && this.config.alertCheckMs > Number(registration.lease_ms) / 3) {
            // The alert check is this supervisor's sign of life when it is idle.
            this.log.warn({ alert_check_ms: this.config.alertCheckMs, lease_ms: registration.lease_ms },
              "--alert-check is longer than a third of the lease: an idle supervisor may be reported lost (worker_lost)");
          }
          return true;
        }
      } catch (error) {
        this.lastDb = { ok: false, error: errorFields(error).message };
        const fields = { error: errorFields(error), retry_in_ms: delay, attempt: attempt + 1 };
        if (isTransient(error)) this.log.warn(fields, "database not available yet; retrying");
        else this.log.error(fields, "could not register with the database; retrying");
      }
      await this.sleep(delay);
    }
    return false;
  }

  private register() {
    return this.config.dedicated
      ? this.api.registerDedicatedWorker(this.config.labels, this.config.host, this.config.pid)
      : this.api.registerWorker(this.config.labels, this.config.host, this.config.pid);
  }

  private async tick(reason: TickReason): Promise<string | null> {
    this.metrics.ticks.inc({ reason });
    const maxClaims = this.stopping ? 0 : this.executor.freeSlots;
    let result;
    const reports = this.executor.takeReports();
    try {
      // Looks ahead twice the lead: the tick itself and a late timer eat into it.
      result = await this.api.tick(maxClaims, 2 * this.config.fireAheadMs, reports);
    } catch (error) {
      this.executor.restoreReports(reports);
      if ((error as { code?: string }).code === UNKNOWN_WORKER) {
        this.log.warn("the database does not know this worker (restored or reset?); registering again");
        const registration = await this.register();
        this.leases.setLeaseMs(Number(registration.lease_ms) || 30_000);
      }
      throw error;
    }
    if (result.refused_reports.length > 0) this.executor.reportsRefused(result.refused_reports);
    this.metrics.stepConnections.set(this.connections.size);
    if (!this.lastDb.ok) this.log.info("database reachable again");
    this.lastDb = { ok: true };
    this.log.debug({ reason, claimed: result.claimed.length, next_due_at: result.next_due_at }, "tick");
    // SQL steps first: their calls go out before a shell step's spawn blocks the event loop.
    const claims = [...result.claimed].sort((a, b) => Number(a.kind !== "sql") - Number(b.kind !== "sql"));
    for (const claim of claims) this.executor.start(claim);
    return result.next_due_at;
  }

  private onDbError(what: string, error: unknown, failures: number): void {
    this.lastDb = { ok: false, error: errorFields(error).message };
    const code = (error as { code?: string }).code;
    if (code === READ_ONLY) {
      this.log.error({ error: errorFields(error) }, "the database is read-only (a standby?): a supervisor needs the primary; retrying");
    } else if (failures <= 3 || failures % 20 === 0) {
      const level = isTransient(error) ? "warn" : "error";
      this.log[level]({ error: errorFields(error), failures }, `${what} failed; retrying with back-off`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.stopController.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  /** SIGTERM/SIGINT: stop claiming, let steps finish within the grace period, kill and hand back the rest. */
  async shutdown(signal: string): Promise<void> {
    if (this.stopping) {
      this.log.warn({ signal }, "second signal: killing running steps now");
      this.executor.killAll();
      return;
    }
    this.stopping = true;
    this.stopController.abort();
    this.log.info({ signal, running: this.executor.size, grace_ms: this.config.shutdownGraceMs }, "shutting down: no new claims");
    await this.ticker.stop();
    await this.listener.stop();
    await this.alerts?.stop(Math.min(5000, this.config.shutdownGraceMs));
    if (!(await this.executor.waitIdle(this.config.shutdownGraceMs))) {
      this.log.warn({ running: this.executor.size }, "grace period over: killing the steps still running");
      this.executor.killAll();
      await this.executor.waitIdle(this.config.killGraceMs + 2000);
    }
    // Reports of SQL steps that ended meanwhile go out with a last tick that claims nothing.
    if (this.executor.pendingReports > 0) {
      const reports = this.executor.takeReports();
      try {
        const result = await this.api.tick(0, 0, reports);
        if (result.refused_reports.length > 0) this.executor.reportsRefused(result.refused_reports);
      } catch (error) {
        this.log.warn({ error: errorFields(error), reports: reports.length }, "could not send the last reports; their steps are settled when their leases expire");
      }
    }
    this.executor.abandon();
    this.leases.stop();
    await this.connections.end();
    if (this.registered) {
      try {
        const released = await this.api.releaseWorker();
        this.log.info({ handed_back: released }, "worker released");
      } catch (error) {
        this.log.warn({ error: errorFields(error) }, "could not release the worker; its leases will expire instead");
      }
    }
    await this.pool.end().catch(() => {});
    await this.http?.close();
    this.log.info("supervisor stopped");
    this.finished(0);
  }
}

export async function runSupervisor(argv: readonly string[]): Promise<number> {
  let config: SupervisorConfig;
  try {
    config = loadConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`clockwork supervisor: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(config.logLevel, config.workerName);
  process.on("unhandledRejection", (reason) => log.error({ error: errorFields(reason) }, "unhandled rejection (bug); continuing"));
  const supervisor = new Supervisor(config, log);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void supervisor.shutdown(signal));
  await supervisor.start();
  return supervisor.done;
}
