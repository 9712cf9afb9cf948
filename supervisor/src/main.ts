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
import { ConfigError, loadConfig, type Endpoint, type SupervisorConfig } from "./config.ts";
import { ConnectionTarget, NoSuitableHost } from "./connection.ts";
import { startHealthServer, type HealthServer, type Readiness } from "./http.ts";
import { LeaseKeeper } from "./leases.ts";
import { Listener } from "./listener.ts";
import { createLogger, errorFields, type Logger, type SupervisorLog } from "./logging.ts";
import { SupervisorMetrics } from "./metrics.ts";
import { extensionMismatch, SUPERVISOR_SETTING, SUPERVISOR_VERSION } from "./version.ts";
import { StepExecutor } from "./steps/executor.ts";
import { OwnerConnections } from "./steps/owner-connections.ts";
import { Ticker, type TickReason } from "./ticker.ts";

const READ_ONLY = "25006";
/** The database no longer knows this worker (restored, or its row removed): register again. */
const INCOMPATIBLE_VERSION = SQLSTATE.incompatible_version;
const UNKNOWN_WORKER = SQLSTATE.unknown_worker;
/** Connections of the supervisor's own pool opened (and warmed up) at start. */
const WARM_CONNECTIONS = 2;

/** One supervisor: `clockwork supervisor` runs one; `clockwork run` runs a dedicated one in-process. */
export class Supervisor {
  private readonly metrics = new SupervisorMetrics();
  private readonly pool: pg.Pool;
  private readonly target: ConnectionTarget;
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
    this.metrics.setReadiness(() => this.readiness().ready);
    // Every connection goes to the host the target chose (several hosts: the primary).
    this.target = new ConnectionTarget(config.connection, {
      application_name: `clockwork supervisor ${config.workerName}`.slice(0, 63),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
      // Every session announces this supervisor's version: the extension refuses another MAJOR.MINOR.
      options: `-c ${SUPERVISOR_SETTING}=${SUPERVISOR_VERSION}`,
    });
    // The supervisor's own calls: tick, heartbeats, the output and results of shell steps.
    // SQL steps never use this pool (they run on connections logged in as their owners).
    // Its connections are warmed up at start (ClockworkApi.warmUp): a new connection costs
    // the bundle load, which would show as start lag. Each new one goes to the host the
    // target chose (several hosts: the primary).
    this.pool = new pg.Pool({
      Client: this.target.clientClass(),
      min: WARM_CONNECTIONS,
      max: config.concurrency + 2,
      idleTimeoutMillis: 30_000,
    });
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
      () => this.target.clientConfig(),
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
        if (this.target.followsPrimary) {
          const { label, endpoint } = await this.target.locate();
          this.ownerServerFollows(endpoint);
          this.log.info({ database: label, target_session_attrs: this.config.connection.targetSessionAttrs }, "using database host");
        }
        const mismatch = await this.extensionMismatch();
        if (mismatch !== null) {
          this.lastDb = { ok: false, error: mismatch };
          this.log.error({ retry_in_ms: delay, supervisor_version: SUPERVISOR_VERSION }, mismatch);
        } else if (await this.api.inRecovery()) {
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

  /** Why the extension here does not suit this supervisor (UPDATING.md), or null. */
  private async extensionMismatch(): Promise<string | null> {
    return extensionMismatch(await this.api.extensionVersion());
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
    if (this.target.followsPrimary && (code === READ_ONLY || isTransient(error))) void this.followPrimary();
    if (code === INCOMPATIBLE_VERSION) {
      this.log.error({ error: errorFields(error), supervisor_version: SUPERVISOR_VERSION }, "the extension refuses this supervisor's version; retrying (UPDATING.md)");
    } else if (code === READ_ONLY) {
      this.log.error({ error: errorFields(error) }, "the database is read-only (a standby?): a supervisor needs the primary; retrying");
    } else if (failures <= 3 || failures % 20 === 0) {
      const level = isTransient(error) ? "warn" : "error";
      this.log[level]({ error: errorFields(error), failures }, `${what} failed; retrying with back-off`);
    }
  }

  /**
   * The database failed or turned read-only: find the primary among the configured hosts
   * again. New connections go there; broken ones leave the pool as they fail.
   */
  /**
   * SQL steps log in on connections of their own (as their owners) to the supervisor's
   * server, unless --owner-conninfo named another host: they follow the primary too.
   */
  private ownerServerFollows(endpoint: Endpoint): void {
    const first = this.config.connection.endpoints[0]!;
    const ownHost = first.host ?? process.env.PGHOST ?? "localhost";
    if (this.config.ownerBase.host !== ownHost && this.config.ownerBase.host !== endpoint.host) return; // named by --owner-conninfo
    this.connections.setServer(endpoint.host ?? process.env.PGHOST ?? "localhost", endpoint.port ?? Number(process.env.PGPORT ?? 5432));
  }

  private async followPrimary(): Promise<void> {
    const before = this.target.label;
    try {
      const { label, endpoint } = await this.target.locate();
      this.ownerServerFollows(endpoint);
      if (label !== before) {
        this.log.warn({ from: before, to: label }, "following the primary: the database moved to another host");
        this.ticker.wake("reconnect");
      }
    } catch (error) {
      if (!(error instanceof NoSuitableHost)) throw error;
      this.log.warn({ error: errorFields(error) }, "no primary among the configured hosts yet; retrying");
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

/**
 * CLOCKWORK_ENABLED=false (aidboxdb's PGAGENT_ENABLED unset in an image that ships it):
 * no database connection, health answers "disabled" (ready, so that a sidecar does not keep
 * its pod out of service), and a signal ends it with 0.
 */
async function runDisabled(config: SupervisorConfig, log: Logger): Promise<number> {
  log.info("supervisor disabled (CLOCKWORK_ENABLED=false): not connecting to the database; waiting for a signal");
  const http = config.httpPort === null
    ? null
    : await startHealthServer({
        port: config.httpPort,
        host: config.httpHost,
        readiness: () => ({ ready: true, reason: "disabled" }),
        registry: (() => {
          const metrics = new SupervisorMetrics();
          metrics.setReadiness(() => true);
          return metrics.registry;
        })(),
      });
  if (http) log.info({ port: http.port }, "health and metrics listening");
  // Signal handlers do not keep Node's event loop alive; this timer does (until a signal).
  const keepAlive = setInterval(() => {}, 2 ** 30);
  const signal = await new Promise<string>((resolve) => {
    for (const s of ["SIGTERM", "SIGINT"] as const) process.once(s, () => resolve(s));
  });
  clearInterval(keepAlive);
  await http?.close();
  log.info({ signal }, "supervisor stopped");
  return 0;
}

export async function runSupervisor(argv: readonly string[]): Promise<number> {
  let config: SupervisorConfig;
  let logging: SupervisorLog;
  try {
    config = loadConfig(argv);
    logging = createLogger(config.logLevel, config.workerName, config.logFile);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`clockwork supervisor: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = logging.log;
  // SIGHUP (logrotate's postrotate, systemctl reload) reopens the log file; it never ends the process.
  process.on("SIGHUP", () => {
    if (logging.reopen()) log.info({ file: config.logFile }, "log file reopened (SIGHUP)");
    else log.info("SIGHUP: logging to stdout, nothing to reopen");
  });
  if (!config.enabled) return runDisabled(config, log);
  process.on("unhandledRejection", (reason) => log.error({ error: errorFields(reason) }, "unhandled rejection (bug); continuing"));
  const supervisor = new Supervisor(config, log);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void supervisor.shutdown(signal));
  await supervisor.start();
  return supervisor.done;
}
