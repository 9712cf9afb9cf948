// Supervisor configuration: the only module that reads the process environment.
// Flags win over environment variables, which win over defaults. Everything is validated
// once at start and frozen; a bad value raises ConfigError, which main turns into one
// line on stderr and exit code 2.
//
// Connection: --database-url / DATABASE_URL, else node-pg's libpq-style PG* variables
// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE…) and ~/.pgpass.
//
// SQL steps log in as their owners on connections of their own (steps/owner-connections.ts),
// to the same server and database as the supervisor's unless --owner-conninfo says
// otherwise, never with the supervisor's user or password.
import { execFileSync } from "node:child_process";
import { homedir, hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseConninfo, type Conninfo } from "../../extension/src/core/index.ts";
import type { CredentialFiles } from "./credentials.ts";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export interface SupervisorConfig {
  /** Connection string; undefined means "node-pg reads PG* variables and .pgpass". */
  readonly databaseUrl: string | undefined;
  /** Worker name as registered in clockwork.workers (unique per live supervisor). */
  readonly workerName: string;
  readonly labels: readonly string[];
  readonly host: string;
  readonly pid: number;
  /** Steps (of any kind) this supervisor runs at the same time. */
  readonly concurrency: number;
  readonly logLevel: LogLevel;
  /** Port of the health/metrics HTTP server; 0 picks a free port; null disables it. */
  readonly httpPort: number | null;
  readonly httpHost: string;
  /** On SIGTERM/SIGINT: how long running steps may finish before they are killed. */
  readonly shutdownGraceMs: number;
  /** Output kept per step and stream; beyond it the rest is dropped with a marker. */
  readonly outputLimitBytes: number;
  /** After SIGTERM on a timed-out step: how long until SIGKILL. */
  readonly killGraceMs: number;
  /** Longest sleep between ticks even when the database reports nothing due. */
  readonly safetyTickMs: number;
  /** Wake this long before a due time and start claimed steps on the dot; 0 = fire at the due time. */
  readonly fireAheadMs: number;
  /** Output batching towards clockwork.append_output. */
  readonly outputFlushMs: number;
  readonly outputFlushBytes: number;
  /** Base environment of shell and program steps: ours minus anything that names or opens a database. */
  readonly stepBaseEnv: Readonly<Record<string, string>>;
  /**
   * Run only jobs pinned to this worker by name and fire no schedule slots
   * (register_dedicated_worker). Set by `clockwork run` for its in-process supervisor.
   */
  readonly dedicated: boolean;
  /** Shell and program steps run as this OS user (uid, gid), or as the supervisor's. */
  readonly stepUser: { readonly name: string; readonly uid: number; readonly gid: number; readonly home: string } | null;
  /**
   * Where SQL steps in this database (and other databases of this server) connect: the
   * supervisor's host, port, database and TLS settings, with --owner-conninfo over them.
   * Never a user or a password: they log in as the job's owner.
   */
  readonly ownerBase: Readonly<Conninfo>;
  /** The password file, service files and certificate directory owner connections use. */
  readonly credentialFiles: CredentialFiles;
  /** How often this supervisor asks the database to check the time-based alert conditions. */
  readonly alertCheckMs: number;
  /** Alert deliveries (webhooks, mails) sent at the same time. */
  readonly deliveryConcurrency: number;
  /** SMTP server for email alerts and the mail built-in (smtp:// or smtps://, may hold a user and password); null: none. */
  readonly smtpUrl: string | null;
  /** Sender of alert mails, unless a channel says otherwise. */
  readonly smtpFrom: string;
  /**
   * CLOCKWORK_SECRET_* variables: the only secrets a definition may name (webhook signing
   * keys, built-ins' headers). Never logged, never passed to steps.
   */
  readonly secrets: ReadonlyMap<string, string>;
  /** The working area of built-ins (download, mail attachments, COPY files): one folder per job owner below it. */
  readonly workDir: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Variables that are never passed on to steps: they would hand a step the supervisor's
 * database identity. Every PG* variable (libpq reads them all: PGHOST, PGUSER, PGPASSWORD,
 * PGSERVICE, PGSSLKEY, …) goes too.
 */
const SECRET_ENV = new Set(["DATABASE_URL", "CLOCKWORK_DATABASE_URL"]);

/** What --owner-conninfo may set: where and how to connect, never who. */
const OWNER_CONNINFO_KEYS = ["host", "hostaddr", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options"];

export const USAGE = `usage: clockwork supervisor [options]

options (environment variable in brackets):
  --database-url URL       connection string [DATABASE_URL]; else libpq PG* variables and .pgpass
  --name NAME              worker name, default hostname-pid [CLOCKWORK_WORKER_NAME]
  --labels a,b             worker labels for job pinning [CLOCKWORK_LABELS]
  --concurrency N          steps run at the same time, default 4 [CLOCKWORK_CONCURRENCY]
  --log-level LEVEL        trace|debug|info|warn|error|fatal|silent, default info [CLOCKWORK_LOG_LEVEL]
  --http-port N            health/metrics port, 0 = any free port, "off" = none, default 9187 [CLOCKWORK_HTTP_PORT]
  --http-host HOST         health/metrics address, default 0.0.0.0 [CLOCKWORK_HTTP_HOST]
  --shutdown-grace T       time running steps get on SIGTERM, default 30s [CLOCKWORK_SHUTDOWN_GRACE]
  --output-limit BYTES     output kept per step and stream, default 1MiB [CLOCKWORK_OUTPUT_LIMIT]
  --kill-grace T           SIGTERM→SIGKILL delay for timed-out steps, default 5s [CLOCKWORK_KILL_GRACE]
  --safety-tick T          longest sleep between ticks, default 60s [CLOCKWORK_SAFETY_TICK]
  --fire-ahead T           fire and claim this early, start steps on time, 0 to 500ms, default 25ms [CLOCKWORK_FIRE_AHEAD]
  --owner-conninfo STR     where SQL steps log in as their owners, over the supervisor's own server:
                           e.g. "host=/var/run/postgresql" for peer authentication [CLOCKWORK_OWNER_CONNINFO]
  --step-user USER         run shell and program steps as this OS user (the supervisor must be root) [CLOCKWORK_STEP_USER]
  --alert-check T          how often to check time-based alert conditions, default 5s [CLOCKWORK_ALERT_CHECK]
  --smtp-from ADDRESS      sender of alert mails, default clockwork@HOSTNAME [CLOCKWORK_SMTP_FROM]
  --work-dir DIR           working area of built-ins (downloads, attachments, COPY files), one folder
                           per job owner, default $TMPDIR/clockwork-work [CLOCKWORK_WORK_DIR]
environment only (secrets are never flags):
  CLOCKWORK_SMTP_URL       SMTP server for email alerts and the mail built-in: smtp://[user:password@]host[:port] or smtps://
  CLOCKWORK_SECRET_*       secrets that definitions may name (a webhook's signing key, a built-in's header)
owner logins: a password from PGPASSFILE (default ~/.pgpass), services from PGSERVICEFILE
(default ~/.pg_service.conf) and PGSYSCONFDIR/pg_service.conf, client certificates from
~/.postgresql; see docs/sql-steps.md
durations: 500ms, 5s, 2m or plain milliseconds; sizes: 1048576, 512KiB, 1MiB`;

const FLAGS: Record<string, string> = {
  "--database-url": "CLOCKWORK_DATABASE_URL",
  "--name": "CLOCKWORK_WORKER_NAME",
  "--labels": "CLOCKWORK_LABELS",
  "--concurrency": "CLOCKWORK_CONCURRENCY",
  "--log-level": "CLOCKWORK_LOG_LEVEL",
  "--http-port": "CLOCKWORK_HTTP_PORT",
  "--http-host": "CLOCKWORK_HTTP_HOST",
  "--shutdown-grace": "CLOCKWORK_SHUTDOWN_GRACE",
  "--output-limit": "CLOCKWORK_OUTPUT_LIMIT",
  "--kill-grace": "CLOCKWORK_KILL_GRACE",
  "--safety-tick": "CLOCKWORK_SAFETY_TICK",
  "--fire-ahead": "CLOCKWORK_FIRE_AHEAD",
  "--owner-conninfo": "CLOCKWORK_OWNER_CONNINFO",
  "--step-user": "CLOCKWORK_STEP_USER",
  "--alert-check": "CLOCKWORK_ALERT_CHECK",
  "--smtp-from": "CLOCKWORK_SMTP_FROM",
  "--work-dir": "CLOCKWORK_WORK_DIR",
};

/** Parses `--flag value` and `--flag=value`; unknown flags are errors. */
function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!(flag in FLAGS)) throw new ConfigError(`unknown option ${JSON.stringify(arg)} (see clockwork supervisor --help)`);
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`option ${flag} needs a value`);
    flags.set(flag, value);
  }
  return flags;
}

export function parseDurationMs(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new ConfigError(`${what} must be a duration like 500ms, 5s or 2m (got ${JSON.stringify(text)})`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * factor);
}

export function parseBytes(text: string, what: string): number {
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|kB|MB|GB)?\s*$/.exec(text);
  if (!m) throw new ConfigError(`${what} must be a size like 65536, 512KiB or 1MiB (got ${JSON.stringify(text)})`);
  const factor = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 }[
    (m[2] ?? "B") as "B"
  ];
  return Number(m[1]) * factor;
}

function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

const WORKER_NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;
const LABEL = /^[A-Za-z0-9_.:=\/-]{1,64}$/;

/**
 * Builds the frozen configuration from command-line arguments (after the subcommand)
 * and an environment (process.env unless a test passes its own).
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SupervisorConfig {
  const flags = parseFlags(argv);
  const get = (flag: string, envName = FLAGS[flag]!): string | undefined => {
    const fromFlag = flags.get(flag);
    if (fromFlag !== undefined) return fromFlag;
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };

  const databaseUrl = get("--database-url") ?? (env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw new ConfigError("database URL must start with postgres:// or postgresql:// (the value is not shown: it may hold a password)");
    }
    try {
      new URL(databaseUrl);
    } catch {
      throw new ConfigError("database URL is not a valid URL (the value is not shown: it may hold a password)");
    }
  }

  const pid = process.pid;
  const host = hostname();
  const workerName = get("--name") ?? `${host.replace(/[^A-Za-z0-9_.:@-]/g, "_").slice(0, 100)}-${pid}`;
  if (!WORKER_NAME.test(workerName)) {
    throw new ConfigError(`worker name must be 1 to 128 letters, digits or _ . : @ - (got ${JSON.stringify(workerName)})`);
  }

  const labelsText = get("--labels") ?? "";
  const labels = labelsText.split(",").map((l) => l.trim()).filter((l) => l !== "");
  for (const label of labels) {
    if (!LABEL.test(label)) throw new ConfigError(`label ${JSON.stringify(label)} must be 1 to 64 letters, digits or _ . : = / -`);
  }

  const concurrency = parseInteger(get("--concurrency") ?? "4", "concurrency", 1, 1000);

  const logLevel = (get("--log-level") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(logLevel)})`);
  }

  const portText = get("--http-port") ?? "9187";
  const httpPort = portText === "off" ? null : parseInteger(portText, "http port", 0, 65535);
  const httpHost = get("--http-host") ?? "0.0.0.0";

  const shutdownGraceMs = parseDurationMs(get("--shutdown-grace") ?? "30s", "shutdown grace");
  const killGraceMs = parseDurationMs(get("--kill-grace") ?? "5s", "kill grace");
  const safetyTickMs = parseDurationMs(get("--safety-tick") ?? "60s", "safety tick");
  if (safetyTickMs < 100) throw new ConfigError(`safety tick must be at least 100ms (got ${safetyTickMs}ms)`);
  const fireAheadMs = parseDurationMs(get("--fire-ahead") ?? "25ms", "fire ahead");
  // tick looks ahead twice this, and the database allows at most 1 s.
  if (fireAheadMs > 500) throw new ConfigError(`fire ahead must be at most 500ms (got ${fireAheadMs}ms)`);
  const outputLimitBytes = parseBytes(get("--output-limit") ?? "1MiB", "output limit");
  if (outputLimitBytes < 1024) throw new ConfigError(`output limit must be at least 1024 bytes (got ${outputLimitBytes})`);

  const alertCheckMs = parseDurationMs(get("--alert-check") ?? "5s", "alert check");
  if (alertCheckMs < 100) throw new ConfigError(`alert check must be at least 100ms (got ${alertCheckMs}ms)`);
  const smtpUrl = env.CLOCKWORK_SMTP_URL || null;
  if (smtpUrl !== null && !/^smtps?:\/\/[^/\s]+/.test(smtpUrl)) {
    throw new ConfigError("CLOCKWORK_SMTP_URL must look like smtp://host:port or smtps://user:password@host (the value is not shown: it may hold a password)");
  }
  const smtpFrom = get("--smtp-from") ?? `clockwork@${host.replace(/[^A-Za-z0-9.-]/g, "-") || "localhost"}`;
  if (!/^[^\s@<>]+@[A-Za-z0-9.-]+$/.test(smtpFrom)) throw new ConfigError(`smtp from must be a mail address (got ${JSON.stringify(smtpFrom)})`);
  const secrets = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) {
    if (/^CLOCKWORK_SECRET_[A-Z0-9_]+$/.test(k) && v !== undefined && v !== "") secrets.set(k, v);
  }

  const workDir = resolve(get("--work-dir") ?? join(tmpdir(), "clockwork-work"));

  const stepBaseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_ENV.has(k) || k.startsWith("PG")) continue;
    if (k.startsWith("CLOCKWORK_")) continue; // our own settings are not the step's business
    stepBaseEnv[k] = v;
  }

  const stepUserName = get("--step-user");
  const stepUser = stepUserName === undefined ? null : resolveUser(stepUserName);

  const ownerBase = ownerBaseOf(databaseUrl, env, get("--owner-conninfo"));
  const home = env.HOME || homedir();
  const credentialFiles: CredentialFiles = Object.freeze({
    passfile: env.PGPASSFILE || join(home, ".pgpass"),
    serviceFiles: Object.freeze([env.PGSERVICEFILE || join(home, ".pg_service.conf"), join(env.PGSYSCONFDIR || "/etc/postgresql-common", "pg_service.conf")]),
    certDir: join(home, ".postgresql"),
  });

  return Object.freeze({
    databaseUrl,
    workerName,
    labels: Object.freeze(labels),
    host,
    pid,
    concurrency,
    logLevel,
    httpPort,
    httpHost,
    shutdownGraceMs,
    outputLimitBytes,
    killGraceMs,
    safetyTickMs,
    fireAheadMs,
    outputFlushMs: 200,
    outputFlushBytes: 16 * 1024,
    stepBaseEnv: Object.freeze(stepBaseEnv),
    dedicated: false,
    stepUser,
    ownerBase: Object.freeze(ownerBase),
    credentialFiles,
    alertCheckMs,
    deliveryConcurrency: 4,
    smtpUrl,
    smtpFrom,
    secrets,
    workDir,
  });
}

/** The supervisor's own server, database and TLS settings (never its user or password), with --owner-conninfo over them. */
function ownerBaseOf(databaseUrl: string | undefined, env: NodeJS.ProcessEnv, overlay: string | undefined): Conninfo {
  const base: Conninfo = {};
  if (databaseUrl !== undefined) {
    const parsed = parseConninfo(databaseUrl);
    if (parsed.ok) {
      for (const key of ["host", "hostaddr", "port", "dbname", "sslmode", "sslrootcert", "sslcert", "sslkey"]) {
        if (parsed.params[key] !== undefined) base[key] = parsed.params[key]!;
      }
    }
  } else {
    const fromEnv: Record<string, string | undefined> = {
      host: env.PGHOST, hostaddr: env.PGHOSTADDR, port: env.PGPORT, dbname: env.PGDATABASE ?? env.PGUSER,
      sslmode: env.PGSSLMODE, sslrootcert: env.PGSSLROOTCERT, sslcert: env.PGSSLCERT, sslkey: env.PGSSLKEY,
    };
    for (const [key, value] of Object.entries(fromEnv)) if (value) base[key] = value;
  }
  base.host ??= "localhost";
  base.port ??= "5432";
  if (overlay !== undefined) {
    const parsed = parseConninfo(overlay);
    if (!parsed.ok) throw new ConfigError(`owner conninfo: ${parsed.message}`);
    for (const [key, value] of Object.entries(parsed.params)) {
      if (!OWNER_CONNINFO_KEYS.includes(key)) {
        throw new ConfigError(`owner conninfo may set ${OWNER_CONNINFO_KEYS.join(", ")}, not "${key}" (steps log in as their owners; passwords go in PGPASSFILE)`);
      }
      base[key] = value;
    }
  }
  return base;
}

/** An OS user's uid, gid and home, looked up the way the system does (NSS, through getent), at start. */
function resolveUser(name: string): { name: string; uid: number; gid: number; home: string } {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/.test(name)) throw new ConfigError(`step user ${JSON.stringify(name)} is not a user name`);
  let entry: string[];
  try {
    entry = execFileSync("getent", ["passwd", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim().split(":");
  } catch {
    throw new ConfigError(`step user ${JSON.stringify(name)} does not exist on this machine`);
  }
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new ConfigError(`step user ${JSON.stringify(name)}: unreadable passwd entry`);
  if (process.getuid?.() !== 0 && process.getuid?.() !== uid) {
    throw new ConfigError(`running steps as ${name} needs a supervisor running as root (it runs as uid ${process.getuid?.()})`);
  }
  return { name, uid, gid, home: entry[5] || "/" };
}
