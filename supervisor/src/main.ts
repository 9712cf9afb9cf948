// `clockwork supervisor`: wires configuration, logging, the SQL API, the supervisor's
// session (LISTEN, and the worker's proof of life), the ticker, the step executor,
// heartbeats and the health server, and handles start-up (waiting for a primary that
// accepts connections), the end of its incarnation, and shutdown.
//
// Standby: a supervisor started against a standby (pg_is_in_recovery()) does not exit:
// it logs an error and retries with back-off, because a standby may be promoted and a
// sidecar that exits would only be restarted by its orchestrator in a loop.
//
// Worker name: a supervisor registers a new incarnation of its worker at every start. A
// second live supervisor with the same --name is refused: it logs the holder (pid, host)
// and exits with code 6 (EXIT.in_use). A holder that is gone (its session to the database
// ended: killed, crashed) is replaced at once and its steps are taken back.
//
// Connection loss: no database error ends the process. Every pool and client has its error
// handler (the supervisor's pool, the session, owner connections); every call that fails
// is retried or its step taken back; a restart of the server, in any shutdown mode, is
// logged and recovered from.
import pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { AlertDeliverer } from "./alerts/deliverer.ts";
import { ClockworkApi, isTransient } from "./api.ts";
import { EXIT } from "./cli/common.ts";
import { ConfigError, loadConfig, type Endpoint, type SupervisorConfig } from "./config.ts";
import { ConnectionTarget, NoSuitableHost } from "./connection.ts";
import { startHealthServer, type HealthServer, type Readiness } from "./http.ts";
import { LeaseKeeper } from "./leases.ts";
import { Listener } from "./listener.ts";
import { createLogger, errorFields, type Logger, type SupervisorLog } from "./logging.ts";
import { SupervisorMetrics } from "./metrics.ts";
import { extensionMismatch, SUPERVISOR_SETTING, SUPERVISOR_VERSION } from "./version.ts";
import { ClaimPacing } from "./steps/claim-pacing.ts";
import { StepExecutor } from "./steps/executor.ts";
import { OwnerConnections } from "./steps/owner-connections.ts";
import { ProcessRegistry } from "./steps/process-registry.ts";
import { Ticker, type TickReason } from "./ticker.ts";

const READ_ONLY = "25006";
const INCOMPATIBLE_VERSION = SQLSTATE.incompatible_version;
/** Connections of the supervisor's own pool opened (and warmed up) at start. */
const WARM_CONNECTIONS = 2;
/** A name whose holder's session is connected is asked again this many times (its session may be closing) before giving up. */
const NAME_IN_USE_RETRIES = 3;

/** The session reached a standby: no registration there (retried, logged as such). */
class StandbyError extends Error {
  override readonly name = "StandbyError";
}

/** The extension is of another MAJOR.MINOR (UPDATING.md): no registration (retried, logged as such). */
class VersionMismatch extends Error {
  override readonly name = "VersionMismatch";
}

/** A refusal that ends the supervisor (its name is in use). */
class FatalError extends Error {
  override readonly name = "FatalError";
}

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
  private readonly processes: ProcessRegistry;
  private http: HealthServer | null = null;
  private stopping = false;
  /** The last tick claimed all it asked for: more steps are ready than this supervisor has free slots. */
  private backlog = false;
  /** How deep the local queue runs under a backlog, and when a finished step's tick may wait. */
  private readonly pacing: ClaimPacing;
  /** A tick held back so that reports gather (ClaimPacing.tickAfterFinish). */
  private heldTick: NodeJS.Timeout | undefined;
  /** The first registration succeeded (start() waits for it). */
  private registered = false;
  private settleFirstRegistration!: (registered: boolean) => void;
  private readonly firstRegistration = new Promise<boolean>((resolve) => (this.settleFirstRegistration = resolve));
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
    this.processes = new ProcessRegistry(config.runtimeDir, log);
    this.pacing = new ClaimPacing({ claimAhead: config.claimAhead, concurrency: config.concurrency }, performance.now());
    this.executor = new StepExecutor(config, this.api, this.connections, this.processes, this.metrics, log, () => this.stepFinished(), this.alerts?.mailer);
    this.leases = new LeaseKeeper(
      this.api,
      log,
      {
        held: () => this.executor.held(),
        extended: (ids, sentAt) => this.executor.extended(ids, sentAt),
        lost: (ids) => this.executor.lost(ids),
        cancel: (ids) => this.executor.cancel(ids),
      },
      (error) => this.incarnationEnded(error),
    );
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
        onSession: (client) => this.onSession(client),
        onWakeup: (payload) => {
          if (payload === "alert") this.alerts?.wake();
          else this.ticker.wake("notify");
        },
        onCancel: (ids) => this.executor.cancel(ids),
        onConnected: () => this.ticker.wake("reconnect"),
        onDisconnected: () => {},
        onConnectFailed: (error, attempt) => this.onConnectFailed(error, attempt),
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
    if (this.target.followsPrimary) {
      // Several hosts: the session (and every connection after it) goes to the primary.
      try {
        const { label, endpoint } = await this.target.locate();
        this.ownerServerFollows(endpoint);
        this.log.info({ database: label, target_session_attrs: this.config.connection.targetSessionAttrs }, "using database host");
      } catch (error) {
        this.log.warn({ error: errorFields(error) }, "no primary among the configured hosts yet; the session keeps looking");
      }
    }
    // The session registers the worker once it reaches a primary (onSession).
    this.listener.start();
    if (!(await this.firstRegistration)) return;
    try {
      await this.api.warmUp(WARM_CONNECTIONS);
    } catch (error) {
      this.log.warn({ error: errorFields(error) }, "could not warm up the connection pool; connections open on demand");
    }
    if (this.stopping) return;
    this.leases.start();
    this.ticker.start();
    this.alerts?.start();
  }

  /**
   * Every new session: on a primary, register a new incarnation (the first time, or when
   * the last one ended) or re-attach the current one, so that this session proves it alive.
   */
  private async onSession(client: pg.Client): Promise<void> {
    const mismatch = extensionMismatch(await this.api.extensionVersion(client));
    if (mismatch !== null) throw new VersionMismatch(mismatch);
    if (await this.api.inRecovery(client)) {
      // Several hosts: the primary may be another one now; the next session goes there.
      if (this.target.followsPrimary) await this.followPrimary();
      throw new StandbyError("the database is a standby (in recovery)");
    }
    if (this.api.incarnation !== null) {
      try {
        await this.api.attachWorker(client);
        this.lastDb = { ok: true };
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== SQLSTATE.worker_ended) throw error;
        this.endIncarnation(error);
      }
    }
    await this.register(client);
  }

  /** Registers a new incarnation on `session`; a name held by a live supervisor ends this one. */
  private async register(session: pg.Client): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        const registration = await this.api.startWorker(session, this.config.labels, this.config.host, this.config.pid, this.config.dedicated);
        const leaseMs = Number(registration.lease_ms) || 30_000;
        this.leases.setLeaseMs(leaseMs);
        this.executor.setLeaseMs(leaseMs);
        this.processes.setInstallation(registration.installation);
        this.connections.setDatabase(await this.api.currentDatabase());
        this.lastDb = { ok: true };
        this.log.info({
          worker_id: registration.worker_id, lease_ms: registration.lease_ms, replaced: registration.replaced ?? undefined,
          taken_back: registration.taken_back || undefined, scheduler_start: registration.scheduler_start,
        }, "worker registered");
        if (this.alerts !== null && this.config.alertCheckMs > leaseMs / 3) {
          // The alert check marks the worker alive for the alert sweep (worker_lost).
          this.log.warn({ alert_check_ms: this.config.alertCheckMs, lease_ms: leaseMs },
            "--alert-check is longer than a third of the lease: an idle supervisor may be reported lost (worker_lost)");
        }
        if (!this.registered) {
          this.registered = true;
          this.settleFirstRegistration(true);
        }
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== SQLSTATE.worker_name_in_use || this.stopping) throw error;
        const detail = (error as { detail?: string }).detail ?? "";
        const retryAfter = /retry_after_ms=(\d+)/.exec(detail);
        if (retryAfter !== null) {
          // The holder has no session that could prove it alive: it is gone once its
          // heartbeat is a lease old (a restart of both the server and this host, say).
          const waitMs = Math.min(Number(retryAfter[1]) + 100, 60_000);
          this.log.warn({ error: errorFields(error), retry_in_ms: waitMs }, "the worker name may still be held by a supervisor that has not been seen since; waiting until its lease lapses");
          await this.sleep(waitMs);
          continue;
        }
        if (tries < NAME_IN_USE_RETRIES) {
          await this.sleep(500 * tries); // the holder's session may be closing (it was just killed)
          continue;
        }
        const message = `worker name ${JSON.stringify(this.config.workerName)} is in use: ${(error as Error).message}. ${detail} Give each supervisor its own --name.`;
        this.fail(EXIT.in_use, message, error);
        throw new FatalError(message);
      }
    }
  }

  private onConnectFailed(error: unknown, attempt: number): void {
    if (error instanceof FatalError || this.stopping) return;
    this.lastDb = { ok: false, error: errorFields(error).message };
    if (attempt > 3 && attempt % 20 !== 0) return;
    const fields = { error: errorFields(error), attempt };
    if (error instanceof VersionMismatch) {
      this.log.error({ supervisor_version: SUPERVISOR_VERSION, attempt }, error.message);
    } else if (error instanceof StandbyError) {
      this.log.error(fields, "the database is a standby (in recovery): a supervisor needs the primary; waiting in case it is promoted");
    } else if (this.registered) {
      this.log.warn(fields, "could not reopen the supervisor's session; retrying");
    } else if (isTransient(error)) {
      this.log.warn(fields, "database not available yet; retrying");
    } else {
      this.log.error(fields, "could not register with the database; retrying");
    }
  }

  /**
   * This incarnation ended while the process lives (its session was lost and a tick found
   * it gone, or it was replaced): its steps were taken back. They are stopped, and the
   * session reconnects to register a new incarnation (refused, and the process exits,
   * when another live supervisor holds the name now).
   */
  private incarnationEnded(error: unknown): void {
    if (this.stopping || this.api.incarnation === null) return;
    this.endIncarnation(error);
    this.listener.reconnect("registering a new incarnation");
  }

  private endIncarnation(error: unknown): void {
    const unknown = /unknown worker incarnation/.test((error as Error).message ?? "");
    this.log.error({ error: errorFields(error), running: this.executor.size }, unknown
      ? "the database does not know this worker incarnation (restored or reset?): stopping its steps and registering anew"
      : "this supervisor's worker incarnation has ended (found gone or replaced): its steps were taken back; stopping them and registering anew");
    this.executor.dropEverything("this supervisor's worker incarnation ended: the database took its steps back");
    this.api.forgetWorker();
  }

  /** Why the extension here does not suit this supervisor (UPDATING.md), or null. */
  private async extensionMismatch(): Promise<string | null> {
    return extensionMismatch(await this.api.extensionVersion());
  }

  /**
   * A step ended, a claim was given back or a cancelled one settled: tick for its report
   * and for more work, at once, or (under a backlog, while the local queue is deep enough)
   * a little later with the reports of the steps that end meanwhile (ClaimPacing).
   */
  private stepFinished(): void {
    const now = performance.now();
    const at = this.pacing.tickAfterFinish({ backlog: this.backlog, queued: this.executor.queued, oldestReportAt: this.executor.oldestReportAt }, now);
    if (at <= now) {
      clearTimeout(this.heldTick);
      this.heldTick = undefined;
      this.ticker.wake("step-finished");
    } else if (this.heldTick === undefined) {
      this.heldTick = setTimeout(() => {
        this.heldTick = undefined;
        this.ticker.wake("step-finished");
      }, at - now);
      this.heldTick.unref();
    }
  }

  private async tick(reason: TickReason): Promise<string | null> {
    this.metrics.ticks.inc({ reason });
    // Whatever woke this tick takes the reports a held one waited for.
    clearTimeout(this.heldTick);
    this.heldTick = undefined;
    // Under a backlog (the last tick's claim was full), claim ahead: the claims beyond the
    // free slots wait here and start as slots free, without a tick in between.
    if (this.api.incarnation === null) return null; // between incarnations: the session re-registers and wakes us
    let result;
    const reports = this.executor.takeReports();
    // Claims given back (they waited too long for a slot here) are left to other workers:
    // this tick claims for free slots only.
    const releasing = reports.some((r) => r.outcome === "released");
    const maxClaims = this.stopping ? 0 : this.executor.claimRoom(this.backlog && !releasing ? this.pacing.ahead : 0);
    const sentAt = performance.now();
    try {
      // Looks ahead twice the lead (which grows when firing ticks take longer, Ticker.leadMs):
      // the tick itself and a late timer eat into it.
      result = await this.api.tick(maxClaims, 2 * this.ticker.leadMs, reports);
    } catch (error) {
      this.executor.restoreReports(reports);
      if ((error as { code?: string }).code === SQLSTATE.worker_ended) {
        this.incarnationEnded(error);
        return null;
      }
      throw error;
    }
    if (result.refused_reports.length > 0) this.executor.reportsRefused(result.refused_reports);
    this.executor.runTransactions.apply(result.transactions);
    this.metrics.runTransactionsOpen.set(this.executor.runTransactions.size);
    // A tick with no room claims nothing and learns nothing about the backlog.
    const hadBacklog = this.backlog;
    if (releasing) this.backlog = false;
    else if (maxClaims > 0) this.backlog = result.claimed.length >= maxClaims;
    const endedAt = performance.now();
    if (hadBacklog && this.backlog) this.pacing.tickEnded(endedAt - sentAt, endedAt, this.executor.finishedSteps);
    else if (!this.backlog) this.pacing.restart(endedAt, this.executor.finishedSteps);
    this.metrics.stepConnections.set(this.connections.size);
    if (!this.lastDb.ok) this.log.info("database reachable again");
    this.lastDb = { ok: true };
    this.log.debug({ reason, claimed: result.claimed.length, reports: reports.length, queued: this.executor.queued, next_due_at: result.next_due_at }, "tick");
    // Claims come highest priority first: the first as many as slots are free start now,
    // SQL steps among them first (their calls go out before a shell step's spawn blocks
    // the event loop); the others queue for a slot in their order.
    const free = this.executor.freeSlots;
    const starting = result.claimed.slice(0, free).sort((a, b) => Number(a.kind !== "sql") - Number(b.kind !== "sql"));
    for (const claim of [...starting, ...result.claimed.slice(free)]) this.executor.start(claim, sentAt);
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

  /**
   * A refusal that ends the process (the worker name is in use): nothing of ours runs yet
   * (or it was all taken back), so everything stops at once and the process exits `code`.
   */
  private fail(code: number, message: string, error: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopController.abort();
    this.log.fatal({ error: errorFields(error), exit_code: code }, message);
    process.stderr.write(`clockwork supervisor: ${message}\n`);
    this.settleFirstRegistration(false);
    void (async () => {
      await this.ticker.stop();
      await this.listener.stop();
      this.leases.stop();
      this.executor.killAll();
      await this.executor.waitIdle(this.config.killGraceMs + 2000);
      this.executor.abandon();
      await this.connections.end();
      await this.pool.end().catch(() => {});
      await this.http?.close();
      this.finished(code);
    })();
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
    this.settleFirstRegistration(false);
    this.log.info({ signal, running: this.executor.size, grace_ms: this.config.shutdownGraceMs }, "shutting down: no new claims");
    // Claims queued for a slot do not start now: release_worker hands them back.
    this.executor.dropQueued();
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
    if (this.api.incarnation !== null) {
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
