// Connections logged in as job owners, for SQL steps, pooled per (server, database, login
// role). They are never used for the supervisor's own calls, and the supervisor's own
// credentials are never used for them: a step can do anything its owner may do on its
// session (RESET ROLE, SET ROLE, settings, temporary tables, LISTEN, advisory locks) and
// reach nothing beyond it; what it leaves behind is reset before the connection is reused
// (core/sql-step.ts, SESSION_RESET).
//
// How a connection logs in is libpq's business as much as node-pg allows: the role is the
// one the claim names (the owner, or a superuser's explicit mapping); a password comes from
// the password file only (never from PGPASSWORD, which is the supervisor's); a service
// file supplies parameters; a client certificate comes from sslcert/sslkey or
// ~/.postgresql/postgresql.crt; peer authentication works over a Unix socket (host=/dir).
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { parseConninfo, type Conninfo } from "../../../extension/src/core/index.ts";
import { isTransient, type SqlWork } from "../api.ts";
import { fileExists, passwordFromFile, readCredentialFile, serviceParameters, type CredentialFiles } from "../credentials.ts";
import { errorFields, type Logger } from "../logging.ts";

export interface OwnerConnectionOptions {
  /** The scheduler's own server and database: host, port, dbname, ssl settings (never a user or password). */
  readonly base: Conninfo;
  readonly files: CredentialFiles;
  readonly applicationName: string;
  /** Connections per pool (one pool per server, database and role). */
  readonly maxPerPool: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
}

/** Where a step connects, resolved: parameters as node-pg takes them, and a name for messages. */
export interface ResolvedTarget {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly login: string;
  readonly params: Conninfo;
  /** e.g. `role "alice" on 127.0.0.1:5432/app (connection "reporting")`. */
  readonly description: string;
}

/**
 * The scheduler's own server (a step with no connection string) refused a connection as a
 * server does while it restarts or recovers from a crash, or while it is full (too many
 * connections, 53300): not a login this supervisor lacks, and every supervisor meets it
 * alike. Handed back, a step of a full server failed its run (no_supervisor_can_log_in)
 * with a hint about logins, though the owner could log in a moment later.
 */
export function ownServerRefusing(work: Pick<SqlWork, "target">, error: unknown): boolean {
  return work.target.conninfo === null && isTransient(error);
}

/** A connection could not be opened: this supervisor cannot log in or reach the target. */
export class LoginError extends Error {
  override readonly name = "LoginError";
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

export interface OwnerLease {
  readonly client: pg.PoolClient;
  readonly target: ResolvedTarget;
  /** Sends a cancel request for whatever the connection runs now (libpq's PQcancel: no privilege needed). */
  cancel(): void;
  /** Back to the pool (clean), or closed (its state is unknown, or a cancel may still arrive). */
  release(how: "reuse" | "destroy"): void;
}

/** A password in a connection string is refused at definition time; these never reach here. */
const DROPPED = new Set(["password", "sslpassword", "passfile", "service"]);

/** A login failure is remembered this long: the next claims for it are handed back at once. */
const FAILURE_MEMORY_MS = 10_000;

export class OwnerConnections {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly failures = new Map<string, { until: number; reason: string; code: string | undefined }>();
  /** Servers older than PostgreSQL 14, which lack client_connection_check_interval. */
  private readonly withoutCheckInterval = new Set<string>();
  private ended = false;
  private base: Conninfo;
  /**
   * Resolved targets of steps without a connection string (the scheduler's server, by
   * database and login), which depend on nothing else: a burst of steps resolves each once.
   * Emptied when the server or database changes.
   */
  private readonly resolved = new Map<string, ResolvedTarget>();

  constructor(private readonly options: OwnerConnectionOptions) {
    this.base = { ...options.base };
  }

  /** The scheduler's database by name, as the server knows it (the supervisor's settings may leave it implicit). */
  setDatabase(name: string): void {
    this.base = { ...this.base, dbname: name };
    this.resolved.clear();
  }

  /**
   * The scheduler's server moved (a supervisor given several hosts followed a promoted
   * standby): new connections go to it; pooled ones to the old server end as they fail.
   */
  setServer(host: string, port: number): void {
    this.base = { ...this.base, host, port: String(port) };
    this.resolved.clear();
  }

  /** The server, database and role an SQL step logs in to. */
  resolve(work: Pick<SqlWork, "login" | "target">): ResolvedTarget {
    if (work.target.conninfo !== null) return this.resolveUncached(work);
    const cacheKey = `${work.login}\0${work.target.database ?? ""}\0${work.target.connection ?? ""}`;
    let target = this.resolved.get(cacheKey);
    if (target === undefined) {
      target = this.resolveUncached(work);
      if (this.resolved.size >= 1000) this.resolved.clear();
      this.resolved.set(cacheKey, target);
    }
    return target;
  }

  private resolveUncached(work: Pick<SqlWork, "login" | "target">): ResolvedTarget {
    const base = this.base;
    let params: Conninfo;
    if (work.target.conninfo !== null) {
      const parsed = parseConninfo(work.target.conninfo);
      if (!parsed.ok) throw new LoginError(`the step's connection string cannot be read: ${parsed.message}`, undefined);
      params = { ...parsed.params };
      if (params.service !== undefined) {
        const service = serviceParameters(this.options.files.serviceFiles, params.service);
        if ("missing" in service) throw new LoginError(service.missing, undefined);
        // Explicit parameters win over the service's, as in libpq.
        params = { ...service.params, ...params };
      }
      // Without a host, the scheduler's own server (where the supervisor runs next to it).
      if (params.host === undefined && params.hostaddr === undefined) {
        params.host = base.host ?? "localhost";
        params.port ??= base.port ?? "5432";
      }
    } else {
      params = { ...base };
      if (work.target.database !== null) params.dbname = work.target.database;
    }
    for (const key of DROPPED) delete params[key];
    params.user = work.login;
    const host = params.hostaddr ?? params.host ?? "localhost";
    const port = Number(params.port ?? "5432");
    const database = params.dbname ?? work.login;
    const where = `${host.startsWith("/") ? `socket ${host}` : host}:${port}/${database}`;
    return {
      key: JSON.stringify([host, port, database, work.login, params.sslmode ?? "", params.sslcert ?? "", params.options ?? ""]),
      host,
      port,
      database,
      login: work.login,
      params,
      description: `role "${work.login}" on ${where}${work.target.connection !== null ? ` (connection "${work.target.connection}")` : ""}`,
    };
  }

  /**
   * A connection logged in as the step's role, from its pool. Throws a LoginError (with a
   * message saying who could not log in where, and why) when it cannot be opened.
   */
  async acquire(work: Pick<SqlWork, "login" | "target">): Promise<OwnerLease> {
    if (this.ended) throw new LoginError("the supervisor is shutting down", undefined);
    const target = this.resolve(work);
    const failed = this.failures.get(target.key);
    if (failed !== undefined && failed.until > Date.now()) throw new LoginError(failed.reason, failed.code);
    let client: pg.PoolClient;
    try {
      try {
        client = await this.poolFor(target).connect();
      } catch (error) {
        if ((error as { code?: string }).code !== "42704" || this.withoutCheckInterval.has(target.key)) throw error;
        // "unrecognized configuration parameter": an older server; connect without it.
        this.withoutCheckInterval.add(target.key);
        void this.pools.get(target.key)?.end();
        this.pools.delete(target.key);
        client = await this.poolFor(target).connect();
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = `cannot log in as ${target.description}: ${(error as Error).message}`;
      // A restart or a full server (the scheduler's own) says nothing about the login: not remembered.
      if (!ownServerRefusing(work, error)) this.failures.set(target.key, { until: Date.now() + FAILURE_MEMORY_MS, reason, code });
      throw new LoginError(reason, code);
    }
    this.failures.delete(target.key);
    let released = false;
    return {
      client,
      target,
      cancel: () => {
        const pid = (client as unknown as { processID?: number }).processID;
        const secret = (client as unknown as { secretKey?: number }).secretKey;
        if (pid !== undefined && secret !== undefined) sendCancelRequest(target.host, target.port, pid, secret, this.options.log);
      },
      release: (how) => {
        if (released) return;
        released = true;
        client.release(how === "destroy" ? new Error("closed after a step: its session state is unknown") : undefined);
      },
    };
  }

  /** Closes every pooled connection (shutdown). */
  async end(): Promise<void> {
    this.ended = true;
    await Promise.allSettled([...this.pools.values()].map((pool) => pool.end()));
    this.pools.clear();
  }

  /** Open connections over all pools, for metrics. */
  get size(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.totalCount;
    return n;
  }

  private poolFor(target: ResolvedTarget): pg.Pool {
    let pool = this.pools.get(target.key);
    if (pool !== undefined) return pool;
    pool = new pg.Pool({ ...this.clientConfig(target), max: this.options.maxPerPool, idleTimeoutMillis: this.options.idleTimeoutMs });
    const log = this.options.log;
    // An idle connection that dies (a restart) is dropped by the pool; one that dies while a
    // step runs ends that step's message with an error. Neither may crash the process.
    pool.on("error", (error) => log.debug({ error: errorFields(error), target: target.description }, "idle step connection lost"));
    pool.on("connect", (client) => client.on("error", (error) => log.debug({ error: errorFields(error), target: target.description }, "step connection lost")));
    this.pools.set(target.key, pool);
    return pool;
  }

  private clientConfig(target: ResolvedTarget): pg.PoolConfig {
    const { params } = target;
    const files = this.options.files;
    const socket = target.host.startsWith("/");
    // Every field is explicit: node-pg falls back to PG* environment variables (the
    // supervisor's own connection settings, maybe its password) for anything left unset.
    return {
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.login,
      // Asked only when the server wants a password; from the password file, never elsewhere.
      password: async () => {
        const found = passwordFromFile(files.passfile, {
          host: target.host, port: String(target.port), database: target.database, user: target.login,
        });
        if ("missing" in found) throw new Error(`the server asks for a password, and ${found.missing}`);
        return found.password;
      },
      ssl: socket ? false : sslConfig(params, files),
      application_name: params.application_name ?? this.options.applicationName,
      client_encoding: "UTF8",
      // A step whose supervisor died stops at its next check instead of running on (and,
      // in the scheduler's database, committing) unseen.
      // (Never empty: node-pg would take PGOPTIONS, the supervisor's, instead.)
      options: [params.options, this.withoutCheckInterval.has(target.key) ? "-c client_min_messages=notice" : "-c client_connection_check_interval=2000"].filter(Boolean).join(" "),
      connectionTimeoutMillis: params.connect_timeout !== undefined ? Math.max(1, Number(params.connect_timeout)) * 1000 : this.options.connectTimeoutMs,
      keepAlive: true,
    };
  }
}

/** libpq's sslmode as node-pg's ssl option (node-pg cannot fall back from TLS, so "prefer" means none). */
function sslConfig(params: Conninfo, files: CredentialFiles): pg.ClientConfig["ssl"] {
  const mode = params.sslmode ?? "prefer";
  if (mode === "disable" || mode === "allow" || mode === "prefer") return false;
  const defaultCert = join(files.certDir, "postgresql.crt");
  const defaultKey = join(files.certDir, "postgresql.key");
  const defaultRoot = join(files.certDir, "root.crt");
  const certPath = params.sslcert ?? (fileExists(defaultCert) ? defaultCert : undefined);
  const keyPath = params.sslkey ?? (fileExists(defaultKey) ? defaultKey : undefined);
  const rootPath = params.sslrootcert ?? (fileExists(defaultRoot) ? defaultRoot : undefined);
  const ssl: Record<string, unknown> = { rejectUnauthorized: mode === "verify-ca" || mode === "verify-full" };
  if (certPath !== undefined) ssl.cert = readCredentialFile(certPath, "client certificate");
  if (keyPath !== undefined) ssl.key = readCredentialFile(keyPath, "client key");
  if (rootPath !== undefined && mode !== "require") ssl.ca = readCredentialFile(rootPath, "root certificate");
  if (mode === "verify-ca") ssl.checkServerIdentity = () => undefined;
  return ssl;
}

/** PostgreSQL's CancelRequest: a 16-byte packet on a new connection to the same server. */
export function sendCancelRequest(host: string, port: number, pid: number, secret: number, log?: Logger): void {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(pid, 8);
  packet.writeInt32BE(secret, 12);
  const socket = host.startsWith("/") ? netConnect(join(host, `.s.PGSQL.${port}`)) : netConnect(port, host);
  socket.setTimeout(5000, () => socket.destroy());
  socket.on("error", (error) => log?.warn({ error: errorFields(error) }, "could not send a cancel request"));
  socket.on("connect", () => socket.end(packet));
}
