// Supervisor configuration: the only module that reads the process environment.
// Flags win over environment variables, which win over the configuration file
// (--config / CLOCKWORK_CONFIG), which wins over defaults. Everything is validated once at
// start and frozen; a bad value raises ConfigError, which main turns into one line on
// stderr and exit code 2.
//
// One table (SETTINGS) names every setting: its flag, its environment variable, the names
// pgAgent users know (aidboxdb's PGAGENT_* variables, pgagent.conf's DBNAME/DBUSER/…),
// its default and what it means. docs/configuration.md is checked against it by a test.
//
// Connection: a URL (--database-url / CLOCKWORK_DATABASE_URL / DATABASE_URL), possibly with
// several hosts, and/or the CLOCKWORK_DB_* settings (which win over the URL's parts), else
// node-pg's libpq-style PG* variables and ~/.pgpass. A password is never taken from the
// command line, where `ps` shows it to every user.
//
// SQL steps log in as their owners on connections of their own (steps/owner-connections.ts),
// to the same server and database as the supervisor's unless --owner-conninfo says
// otherwise, never with the supervisor's user or password.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { homedir, hostname, tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { parseConninfo, type Conninfo } from "../../extension/src/core/index.ts";
import type { CredentialFiles } from "./credentials.ts";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
/** pgAgent's -l levels (aidboxdb's PGAGENT_LOG_LEVEL, pgagent.conf's LOGLEVEL): 0 error, 1 warning, 2 debug. */
const PGAGENT_LOG_LEVELS: Readonly<Record<string, LogLevel>> = { "0": "error", "1": "warn", "2": "debug" };

export type TargetSessionAttrs = "any" | "read-write" | "primary";
const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ["any", "read-write", "primary"];

/** One host of a (possibly multi-host) connection; undefined parts fall back to node-pg's defaults. */
export interface Endpoint {
  readonly host: string | undefined;
  readonly port: number | undefined;
}

/** Where and as whom the supervisor connects (see connection.ts). */
export interface ConnectionSettings {
  /** The URL with its host list removed (node-pg parses the rest), or undefined. */
  readonly url: string | undefined;
  /** Hosts tried in order; one entry with undefined parts means "node-pg's defaults (PGHOST…)". */
  readonly endpoints: readonly Endpoint[];
  readonly database: string | undefined;
  readonly user: string | undefined;
  /** From CLOCKWORK_DB_PASSWORD(_FILE) or PGAGENT_PASSWORD; never logged. */
  readonly password: string | undefined;
  /** libpq's target_session_attrs: a supervisor needs a primary, so several hosts default to read-write. */
  readonly targetSessionAttrs: TargetSessionAttrs;
}

export interface SupervisorConfig {
  /** False: the supervisor starts, serves health (ready, "disabled") and does nothing else. */
  readonly enabled: boolean;
  /** Kept for compatibility: the URL as given (with its host list), or undefined. */
  readonly databaseUrl: string | undefined;
  readonly connection: ConnectionSettings;
  /** Worker name as registered in clockwork.workers (unique per live supervisor). */
  readonly workerName: string;
  readonly labels: readonly string[];
  readonly host: string;
  readonly pid: number;
  /** Steps (of any kind) this supervisor runs at the same time. */
  readonly concurrency: number;
  /**
   * Under a backlog, claims held beyond the free slots, each started as a slot frees (a
   * local queue): a fixed number, or "auto" (sized by the rate steps finish here, see
   * steps/claim-pacing.ts).
   */
  readonly claimAhead: number | "auto";
  readonly logLevel: LogLevel;
  /** JSON log lines go to this file (reopened on SIGHUP) instead of stdout. */
  readonly logFile: string | undefined;
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
   * Never a user or a password: they log in as the job's owner. With several hosts, the
   * supervisor moves it to the primary it follows (main.ts).
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
  /**
   * Where the supervisors of this host record the process groups of their shell and
   * program steps, so that a re-run here waits for an earlier attempt (steps/process-registry.ts).
   */
  readonly runtimeDir: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** One setting: where it comes from and what it means (docs/configuration.md mirrors this). */
export interface Setting {
  readonly key: string;
  /** Command-line flag, or null where a value must not appear on the command line. */
  readonly flag: string | null;
  readonly env: string;
  /** Other environment variables read when `env` is unset, in order (pgAgent's names first). */
  readonly envAliases: readonly string[];
  /** Keys of the configuration file besides `env` (pgagent.conf's names). */
  readonly fileAliases: readonly string[];
  readonly default: string;
  readonly meaning: string;
  /** Holds a secret: never shown, never passed to steps. */
  readonly secret?: boolean;
}

const s = (
  key: string,
  flag: string | null,
  env: string,
  defaultValue: string,
  meaning: string,
  extra: { envAliases?: string[]; fileAliases?: string[]; secret?: boolean } = {},
): Setting => ({ key, flag, env, envAliases: extra.envAliases ?? [], fileAliases: extra.fileAliases ?? [], default: defaultValue, meaning, ...(extra.secret ? { secret: true } : {}) });

export const SETTINGS: readonly Setting[] = [
  s("config", "--config", "CLOCKWORK_CONFIG", "none", "a configuration file of KEY=value lines (these variable names, or pgagent.conf's DBNAME, DBUSER, DBHOST, DBPORT, LOGFILE, LOGLEVEL)"),
  s("enabled", "--enabled", "CLOCKWORK_ENABLED", "true", "false: start, answer health checks (ready, \"disabled\") and do nothing else; for images that ship the supervisor switched off", { envAliases: ["PGAGENT_ENABLED"] }),
  s("databaseUrl", "--database-url", "CLOCKWORK_DATABASE_URL", "none", "connection URL, several hosts allowed (postgres://h1:5432,h2:5432/db?target_session_attrs=read-write); no password on the command line", { envAliases: ["DATABASE_URL"] }),
  s("dbHost", "--db-host", "CLOCKWORK_DB_HOST", "PGHOST, else localhost", "database host(s), comma-separated for failover; a directory means a Unix socket", { fileAliases: ["DBHOST"] }),
  s("dbPort", "--db-port", "CLOCKWORK_DB_PORT", "PGPORT, else 5432", "database port(s), one, or one per host", { fileAliases: ["DBPORT"] }),
  s("dbName", "--db-name", "CLOCKWORK_DB_NAME", "PGDATABASE, else the user name", "the database with the clockwork extension (a dedicated scheduler database)", { envAliases: ["PGAGENT_DB"], fileAliases: ["DBNAME"] }),
  s("dbUser", "--db-user", "CLOCKWORK_DB_USER", "PGUSER, else the OS user", "the role the supervisor logs in as (a dedicated member of clockwork_supervisor)", { envAliases: ["PGAGENT_USER"], fileAliases: ["DBUSER"] }),
  s("dbPassword", null, "CLOCKWORK_DB_PASSWORD", "none", "that role's password (prefer CLOCKWORK_DB_PASSWORD_FILE or ~/.pgpass); never a flag", { envAliases: ["PGAGENT_PASSWORD"], secret: true }),
  s("dbPasswordFile", "--db-password-file", "CLOCKWORK_DB_PASSWORD_FILE", "none", "a file holding that password (a Docker or Kubernetes secret); its first line is used", {}),
  s("targetSessionAttrs", "--target-session-attrs", "CLOCKWORK_DB_TARGET_SESSION_ATTRS", "read-write with several hosts, else any", "any | read-write | primary: which of several hosts to use (libpq's target_session_attrs)", { envAliases: ["PGTARGETSESSIONATTRS"] }),
  s("workerName", "--name", "CLOCKWORK_WORKER_NAME", "hostname-pid", "worker name, unique per live supervisor"),
  s("labels", "--labels", "CLOCKWORK_LABELS", "none", "worker labels for job pinning, comma-separated"),
  s("concurrency", "--concurrency", "CLOCKWORK_CONCURRENCY", "4", "steps (of any kind) run at the same time, 1 to 1000"),
  s("claimAhead", "--claim-ahead", "CLOCKWORK_CLAIM_AHEAD", "auto", "while more steps are ready than slots are free, claim up to this many more and start each as a slot frees, so no slot waits for a tick; a claim that waits 1s is given back; 0 to 1000, or auto: at least the concurrency, more as fast steps finish (up to 0.5s of them, 1000), and a finished step's report may wait up to 50ms for others to share its tick"),
  s("logLevel", "--log-level", "CLOCKWORK_LOG_LEVEL", "info", "trace | debug | info | warn | error | fatal | silent (pgAgent's 0, 1, 2 = error, warn, debug)", { envAliases: ["PGAGENT_LOG_LEVEL"], fileAliases: ["LOGLEVEL"] }),
  s("logFile", "--log-file", "CLOCKWORK_LOG_FILE", "stdout", "write the JSON log to this file instead; SIGHUP reopens it (logrotate)", { envAliases: ["PGAGENT_LOG_FILE_PATH"], fileAliases: ["LOGFILE"] }),
  s("httpPort", "--http-port", "CLOCKWORK_HTTP_PORT", "9187", "port of /healthz, /readyz, /metrics; 0 = any free port; off = none"),
  s("httpHost", "--http-host", "CLOCKWORK_HTTP_HOST", "0.0.0.0", "address of that port"),
  s("shutdownGrace", "--shutdown-grace", "CLOCKWORK_SHUTDOWN_GRACE", "30s", "on SIGTERM/SIGINT, how long running steps may finish"),
  s("outputLimit", "--output-limit", "CLOCKWORK_OUTPUT_LIMIT", "1MiB", "output kept per step and stream, and of an SQL step's result rows and error; at least 1024 bytes"),
  s("killGrace", "--kill-grace", "CLOCKWORK_KILL_GRACE", "5s", "SIGTERM → SIGKILL delay for a timed-out step's process group"),
  s("safetyTick", "--safety-tick", "CLOCKWORK_SAFETY_TICK", "60s", "longest sleep between ticks, at least 100ms"),
  s("fireAhead", "--fire-ahead", "CLOCKWORK_FIRE_AHEAD", "25ms", "fire and claim at least this early (more when firing takes longer), start steps on time; 0 (never ahead) to 500ms"),
  s("ownerConninfo", "--owner-conninfo", "CLOCKWORK_OWNER_CONNINFO", "the supervisor's own server", "where SQL steps log in as their owners, over the supervisor's host, port, database and TLS settings, e.g. host=/var/run/postgresql for peer authentication; host, port, TLS and options only, never a user or password (docs/sql-steps.md)"),
  s("stepUser", "--step-user", "CLOCKWORK_STEP_USER", "the supervisor's user", "run shell and program steps as this OS user (the supervisor must be root)"),
  s("alertCheck", "--alert-check", "CLOCKWORK_ALERT_CHECK", "5s", "how often to ask the database to check the time-based alert conditions, which also marks this supervisor alive; keep it under a third of the lease (docs/alerts.md)"),
  s("smtpUrl", null, "CLOCKWORK_SMTP_URL", "none", "SMTP server for email alerts and the mail built-in: smtp://[user:password@]host[:port] or smtps://…; may hold a password, so never a flag", { secret: true }),
  s("smtpFrom", "--smtp-from", "CLOCKWORK_SMTP_FROM", "clockwork@hostname", "sender of alert mails, and of mail steps that name none"),
  s("workDir", "--work-dir", "CLOCKWORK_WORK_DIR", "$TMPDIR/clockwork-work", "working area of built-ins (downloads, mail attachments, COPY files), one folder per job owner (docs/builtins.md)"),
  s("runtimeDir", "--runtime-dir", "CLOCKWORK_RUNTIME_DIR", "$TMPDIR/clockwork-steps", "a directory this host's supervisors share (an absolute path): the process groups of running shell and program steps, so that a re-run here waits for an earlier attempt (docs/faults.md)"),
];

/**
 * Variables that are never passed on to steps: they would hand a step the supervisor's
 * database identity. Every PG* variable (libpq reads them all: PGHOST, PGUSER, PGPASSWORD,
 * PGSERVICE, PGSSLKEY, …, and pgAgent's PGAGENT_*) goes too, and every CLOCKWORK_* one.
 */
const SECRET_ENV = new Set(["DATABASE_URL"]);

/** What --owner-conninfo may set: where and how to connect, never who. */
const OWNER_CONNINFO_KEYS = ["host", "hostaddr", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options"];

const METAVAR: Readonly<Record<string, string>> = {
  config: "FILE", enabled: "BOOL", databaseUrl: "URL", dbHost: "HOST[,HOST]", dbPort: "PORT[,PORT]", dbName: "NAME",
  dbUser: "ROLE", dbPasswordFile: "FILE", targetSessionAttrs: "ATTRS", workerName: "NAME", labels: "a,b", concurrency: "N", claimAhead: "N|auto",
  logLevel: "LEVEL", logFile: "FILE", httpPort: "N|off", httpHost: "HOST", shutdownGrace: "T", outputLimit: "BYTES",
  killGrace: "T", safetyTick: "T", fireAhead: "T", ownerConninfo: "CONNINFO", stepUser: "USER", alertCheck: "T",
  smtpFrom: "ADDRESS", workDir: "DIR", runtimeDir: "DIR",
};

export const USAGE = `usage: clockwork supervisor [options]

options (environment variable in brackets; see docs/configuration.md for the full table):
${SETTINGS.filter((x) => x.flag !== null)
  .map((x) => {
    const left = `  ${x.flag} ${METAVAR[x.key] ?? "V"}`.padEnd(36);
    return `${left}${x.meaning.split(";")[0]}, default ${x.default} [${x.env}]`;
  })
  .join("\n")}
the password comes from CLOCKWORK_DB_PASSWORD_FILE, CLOCKWORK_DB_PASSWORD or ~/.pgpass, never a flag
CLOCKWORK_SMTP_URL (the mail server) and CLOCKWORK_SECRET_* (secrets definitions may name) are environment only
owner logins: a password from PGPASSFILE (default ~/.pgpass), services from PGSERVICEFILE
(default ~/.pg_service.conf) and PGSYSCONFDIR/pg_service.conf, client certificates from
~/.postgresql; see docs/sql-steps.md
durations: 500ms, 5s, 2m or plain milliseconds; sizes: 1048576, 512KiB, 1MiB`;

const BY_FLAG = new Map(SETTINGS.filter((x) => x.flag !== null).map((x) => [x.flag!, x]));

/** Parses `--flag value` and `--flag=value`; unknown flags are errors. */
function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const setting = BY_FLAG.get(flag);
    if (setting === undefined) {
      if (/^--(db-)?password$/.test(flag)) {
        throw new ConfigError(`there is no ${flag} option: a password on the command line is shown by ps to every user; use CLOCKWORK_DB_PASSWORD_FILE, CLOCKWORK_DB_PASSWORD or ~/.pgpass`);
      }
      throw new ConfigError(`unknown option ${JSON.stringify(flag)} (see clockwork supervisor --help)`);
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`option ${flag} needs a value`);
    flags.set(setting.key, value);
  }
  return flags;
}

/**
 * Reads a configuration file: `KEY=value` lines, `#` comments, blank lines, values
 * optionally in single or double quotes (the format of a systemd EnvironmentFile and of
 * pgAgent's pgagent.conf). Unknown keys are errors, so a typo does not pass silently.
 */
export function readConfigFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`configuration file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const byName = new Map<string, Setting>();
  for (const setting of SETTINGS) {
    if (setting.key === "config") continue;
    for (const name of [setting.env, ...setting.envAliases, ...setting.fileAliases]) byName.set(name, setting);
  }
  const values = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${path}:${index + 1}: expected KEY=value (got ${JSON.stringify(line.slice(0, 40))})`);
    const [, name, rawValue] = m as unknown as [string, string, string];
    const setting = byName.get(name);
    if (setting === undefined) throw new ConfigError(`${path}:${index + 1}: unknown setting ${name} (see docs/configuration.md)`);
    let value = rawValue;
    if (/^"(.*)"$/.test(value) || /^'(.*)'$/.test(value)) value = value.slice(1, -1);
    if (values.has(setting.key) && name !== setting.env) return; // the Clockwork name wins over an alias
    values.set(setting.key, value);
  });
  return values;
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

export function parseBoolean(text: string, what: string): boolean {
  const t = text.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(t)) return true;
  if (["false", "no", "off", "0"].includes(t)) return false;
  throw new ConfigError(`${what} must be true or false (also yes/no, on/off, 1/0) (got ${JSON.stringify(text)})`);
}

const WORKER_NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;
const LABEL = /^[A-Za-z0-9_.:=\/-]{1,64}$/;
const URL_HIDDEN = "(the value is not shown: it may hold a password)";

/**
 * Splits a libpq URL with several hosts (`postgres://u@h1:5432,h2,[::1]:6/db?…`) into its
 * endpoints and a single-host URL that node-pg can parse (node-pg reads one host only).
 */
export function splitUrlHosts(url: string): { url: string; endpoints: Endpoint[]; targetSessionAttrs: string | undefined } {
  const m = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/.exec(url);
  if (!m) throw new ConfigError(`database URL must start with postgres:// or postgresql:// ${URL_HIDDEN}`);
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : "";
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  const endpoints: Endpoint[] = [];
  for (const part of hostList === "" ? [] : hostList.split(",")) {
    const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(part);
    if (!hp) throw new ConfigError(`database URL has a malformed host list ${URL_HIDDEN}`);
    const host = hp[1] ? decodeURIComponent(hp[1].replace(/^\[|\]$/g, "")) : undefined;
    const port = hp[2] ? Number(hp[2]) : undefined;
    if (port !== undefined && (port < 1 || port > 65535)) throw new ConfigError(`database URL has a port out of range ${URL_HIDDEN}`);
    endpoints.push({ host, port });
  }
  // node-pg gets the URL without hosts and without target_session_attrs, which it ignores.
  let single = `${scheme}${userinfo}${endpoints.length > 0 ? "localhost" : ""}${rest}`;
  let targetSessionAttrs: string | undefined;
  try {
    const parsed = new URL(single);
    targetSessionAttrs = parsed.searchParams.get("target_session_attrs") ?? undefined;
    parsed.searchParams.delete("target_session_attrs");
    single = parsed.toString();
  } catch {
    throw new ConfigError(`database URL is not a valid URL ${URL_HIDDEN}`);
  }
  return { url: single, endpoints, targetSessionAttrs };
}

function urlHasPassword(url: string): boolean {
  const m = /^postgres(?:ql)?:\/\/([^/?#@]*)@/.exec(url);
  if (m && m[1]!.includes(":") && m[1]!.split(":")[1] !== "") return true;
  return /[?&]password=/.test(url);
}

function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`password file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") throw new ConfigError(`password file ${path} is empty`);
  return password;
}

type Lookup = (key: string) => { value: string; from: string } | undefined;

/** The connection part of the settings (shared by the supervisor and the CLI's commands). */
function connectionSettings(lookup: Lookup, envValue: (name: string) => string | undefined, _configPath?: string): ConnectionSettings {
  const get = (key: string) => lookup(key)?.value;
  const urlSource = lookup("databaseUrl");
  const databaseUrl = urlSource?.value;
  let url: string | undefined;
  let endpoints: Endpoint[] = [];
  let urlTargetAttrs: string | undefined;
  if (databaseUrl !== undefined) {
    if (urlSource!.from === "--database-url" && urlHasPassword(databaseUrl)) {
      throw new ConfigError("the URL given with --database-url holds a password, which ps shows to every user: use CLOCKWORK_DB_PASSWORD_FILE, CLOCKWORK_DB_PASSWORD or ~/.pgpass");
    }
    ({ url, endpoints, targetSessionAttrs: urlTargetAttrs } = splitUrlHosts(databaseUrl));
  }
  const hostText = get("dbHost") ?? (endpoints.length === 0 ? envValue("PGHOST") : undefined);
  const portText = get("dbPort") ?? (endpoints.length === 0 || get("dbHost") !== undefined ? envValue("PGPORT") : undefined);
  if (hostText !== undefined) {
    const hosts = hostText.split(",").map((h) => h.trim());
    if (hosts.some((h) => h === "" || /\s/.test(h))) throw new ConfigError(`database host must be a host name, address or socket directory, or a comma-separated list of them (got ${JSON.stringify(hostText)})`);
    endpoints = hosts.map((host) => ({ host, port: undefined }));
  }
  if (portText !== undefined) {
    const ports = portText.split(",").map((p) => parseInteger(p, "database port", 1, 65535));
    const count = Math.max(endpoints.length, 1);
    if (ports.length !== 1 && ports.length !== count) {
      throw new ConfigError(`database port must be one port or one per host (${count} hosts, got ${JSON.stringify(portText)})`);
    }
    if (endpoints.length === 0) endpoints = [{ host: undefined, port: undefined }];
    endpoints = endpoints.map((e, i) => ({ host: e.host, port: ports.length === 1 ? ports[0] : ports[i] }));
  }
  if (endpoints.length === 0) endpoints = [{ host: undefined, port: undefined }];

  const attrsText = get("targetSessionAttrs") ?? urlTargetAttrs;
  let targetSessionAttrs: TargetSessionAttrs = endpoints.length > 1 ? "read-write" : "any";
  if (attrsText !== undefined) {
    if (!TARGET_SESSION_ATTRS.includes(attrsText as TargetSessionAttrs)) {
      throw new ConfigError(`target session attrs must be one of ${TARGET_SESSION_ATTRS.join(", ")} (got ${JSON.stringify(attrsText)}); a supervisor needs a primary`);
    }
    targetSessionAttrs = attrsText as TargetSessionAttrs;
  }

  const passwordFile = get("dbPasswordFile");
  const password = passwordFile !== undefined ? readPasswordFile(passwordFile) : get("dbPassword");
  const database = get("dbName");
  const user = get("dbUser");
  for (const [what, value] of [["database name", database], ["database user", user]] as const) {
    if (value !== undefined && (value.length > 63 || /[\0\n]/.test(value))) {
      throw new ConfigError(`${what} must be at most 63 characters on one line (got ${JSON.stringify(value.slice(0, 80))})`);
    }
  }

  return Object.freeze({
    url,
    endpoints: Object.freeze(endpoints.map((e) => Object.freeze(e))),
    database,
    user,
    password,
    targetSessionAttrs,
  });
}

/**
 * Connection settings alone, for the CLI's commands: `--database-url` (given as `url`), the
 * CLOCKWORK_DB_* variables and pgAgent's names, DATABASE_URL, libpq's PG* variables, as the
 * supervisor takes them (docs/configuration.md). Raises ConfigError like loadConfig.
 */
export function loadConnectionSettings(url: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const envValue = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const lookup: Lookup = (key) => {
    const setting = SETTINGS.find((x) => x.key === key)!;
    if (key === "databaseUrl" && url !== undefined) return { value: url, from: "--database-url" };
    for (const name of [setting.env, ...setting.envAliases]) {
      const v = envValue(name);
      if (v !== undefined) return { value: v, from: name };
    }
    return undefined;
  };
  return connectionSettings(lookup, envValue);
}

/**
 * Builds the frozen configuration from command-line arguments (after the subcommand)
 * and an environment (process.env unless a test passes its own).
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SupervisorConfig {
  const flags = parseFlags(argv);
  const envValue = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const configPath = flags.get("config") ?? envValue("CLOCKWORK_CONFIG");
  const file = configPath !== undefined ? readConfigFile(configPath) : new Map<string, string>();
  /** The value of a setting and where it came from (for messages). */
  const lookup = (key: string): { value: string; from: string } | undefined => {
    const setting = SETTINGS.find((x) => x.key === key)!;
    const fromFlag = flags.get(key);
    if (fromFlag !== undefined) return { value: fromFlag, from: setting.flag! };
    for (const name of [setting.env, ...setting.envAliases]) {
      const v = envValue(name);
      if (v !== undefined) return { value: v, from: name };
    }
    const fromFile = file.get(key);
    if (fromFile !== undefined) return { value: fromFile, from: `${configPath}` };
    return undefined;
  };
  const get = (key: string) => lookup(key)?.value;

  // --- the enable switch: aidboxdb starts pgAgent when PGAGENT_ENABLED is present -----
  const enabledSource = lookup("enabled");
  let enabled = true;
  if (enabledSource !== undefined) {
    enabled = enabledSource.from === "PGAGENT_ENABLED" && !/^(false|no|off|0)$/i.test(enabledSource.value.trim())
      ? true
      : parseBoolean(enabledSource.value, `enabled (${enabledSource.from})`);
  }

  const connection = connectionSettings(lookup, envValue, configPath);

  // --- the supervisor ------------------------------------------------------------------
  const pid = process.pid;
  const host = hostname();
  const workerName = get("workerName") ?? `${host.replace(/[^A-Za-z0-9_.:@-]/g, "_").slice(0, 100)}-${pid}`;
  if (!WORKER_NAME.test(workerName)) {
    throw new ConfigError(`worker name must be 1 to 128 letters, digits or _ . : @ - (got ${JSON.stringify(workerName)})`);
  }

  const labelsText = get("labels") ?? "";
  const labels = labelsText.split(",").map((l) => l.trim()).filter((l) => l !== "");
  for (const label of labels) {
    if (!LABEL.test(label)) throw new ConfigError(`label ${JSON.stringify(label)} must be 1 to 64 letters, digits or _ . : = / -`);
  }

  const concurrency = parseInteger(get("concurrency") ?? "4", "concurrency", 1, 1000);
  const claimAheadText = get("claimAhead");
  const claimAhead = claimAheadText === undefined || claimAheadText.trim() === "auto" ? "auto" : parseInteger(claimAheadText, "claim ahead", 0, 1000);

  const levelSource = lookup("logLevel");
  let logLevel: LogLevel = "info";
  if (levelSource !== undefined) {
    const text = levelSource.value.trim();
    const pgagent = PGAGENT_LOG_LEVELS[text];
    if (pgagent !== undefined) logLevel = pgagent;
    else if (LOG_LEVELS.includes(text as LogLevel)) logLevel = text as LogLevel;
    else throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(", ")} or pgAgent's 0, 1, 2 (got ${JSON.stringify(text)})`);
  }

  const logFile = get("logFile");
  if (logFile !== undefined) {
    // Opened once here so that a path the supervisor cannot write is a start-up error.
    try {
      closeSync(openSync(logFile, "a"));
    } catch (error) {
      throw new ConfigError(`log file ${logFile} cannot be opened for writing: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  const httpPortText = get("httpPort") ?? "9187";
  const httpPort = httpPortText === "off" ? null : parseInteger(httpPortText, "http port", 0, 65535);
  const httpHost = get("httpHost") ?? "0.0.0.0";
  if (!/^[A-Za-z0-9.:_\[\]-]+$/.test(httpHost)) throw new ConfigError(`http host must be an address or host name (got ${JSON.stringify(httpHost)})`);

  const shutdownGraceMs = parseDurationMs(get("shutdownGrace") ?? "30s", "shutdown grace");
  const killGraceMs = parseDurationMs(get("killGrace") ?? "5s", "kill grace");
  const safetyTickMs = parseDurationMs(get("safetyTick") ?? "60s", "safety tick");
  if (safetyTickMs < 100) throw new ConfigError(`safety tick must be at least 100ms (got ${safetyTickMs}ms)`);
  const fireAheadMs = parseDurationMs(get("fireAhead") ?? "25ms", "fire ahead");
  // tick looks ahead twice this, and the database allows at most 1 s.
  if (fireAheadMs > 500) throw new ConfigError(`fire ahead must be at most 500ms (got ${fireAheadMs}ms)`);
  const outputLimitBytes = parseBytes(get("outputLimit") ?? "1MiB", "output limit");
  if (outputLimitBytes < 1024) throw new ConfigError(`output limit must be at least 1024 bytes (got ${outputLimitBytes})`);

  const alertCheckMs = parseDurationMs(get("alertCheck") ?? "5s", "alert check");
  if (alertCheckMs < 100) throw new ConfigError(`alert check must be at least 100ms (got ${alertCheckMs}ms)`);
  const smtpUrl = get("smtpUrl") ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/[^/\s]+/.test(smtpUrl)) {
    throw new ConfigError("CLOCKWORK_SMTP_URL must look like smtp://host:port or smtps://user:password@host (the value is not shown: it may hold a password)");
  }
  const smtpFrom = get("smtpFrom") ?? `clockwork@${host.replace(/[^A-Za-z0-9.-]/g, "-") || "localhost"}`;
  if (!/^[^\s@<>]+@[A-Za-z0-9.-]+$/.test(smtpFrom)) throw new ConfigError(`smtp from must be a mail address (got ${JSON.stringify(smtpFrom)})`);
  const secrets = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) {
    if (/^CLOCKWORK_SECRET_[A-Z0-9_]+$/.test(k) && v !== undefined && v !== "") secrets.set(k, v);
  }

  const workDir = resolve(get("workDir") ?? join(tmpdir(), "clockwork-work"));
  if (existsSync(workDir) && !statSync(workDir).isDirectory()) throw new ConfigError(`work dir ${workDir} exists and is not a directory`);

  const stepBaseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_ENV.has(k) || k.startsWith("PG")) continue;
    if (k.startsWith("CLOCKWORK_")) continue; // our own settings are not the step's business
    stepBaseEnv[k] = v;
  }

  const stepUserName = get("stepUser");
  const stepUser = stepUserName === undefined ? null : resolveUser(stepUserName);
  const runtimeDir = get("runtimeDir") ?? join(tmpdir(), "clockwork-steps");
  if (!isAbsolute(runtimeDir)) throw new ConfigError(`runtime directory must be an absolute path (got ${JSON.stringify(runtimeDir)})`);

  const ownerBase = ownerBaseOf(connection, env, get("ownerConninfo"));
  const home = env.HOME || homedir();
  const credentialFiles: CredentialFiles = Object.freeze({
    passfile: env.PGPASSFILE || join(home, ".pgpass"),
    serviceFiles: Object.freeze([env.PGSERVICEFILE || join(home, ".pg_service.conf"), join(env.PGSYSCONFDIR || "/etc/postgresql-common", "pg_service.conf")]),
    certDir: join(home, ".postgresql"),
  });

  return Object.freeze({
    enabled,
    databaseUrl: lookup("databaseUrl")?.value,
    connection,
    workerName,
    labels: Object.freeze(labels),
    host,
    pid,
    concurrency,
    claimAhead,
    logLevel,
    logFile,
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
    runtimeDir,
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

/**
 * The supervisor's own server, database and TLS settings (never its user or password), with
 * --owner-conninfo over them. With several hosts it names the first; the supervisor moves
 * it to the primary it uses (OwnerConnections.setServer).
 */
function ownerBaseOf(connection: ConnectionSettings, env: NodeJS.ProcessEnv, overlay: string | undefined): Conninfo {
  const base: Conninfo = {};
  if (connection.url !== undefined) {
    const parsed = parseConninfo(connection.url);
    if (parsed.ok) {
      for (const key of ["dbname", "sslmode", "sslrootcert", "sslcert", "sslkey"]) {
        if (parsed.params[key] !== undefined) base[key] = parsed.params[key]!;
      }
    }
  } else {
    const fromEnv: Record<string, string | undefined> = {
      hostaddr: env.PGHOSTADDR, dbname: env.PGDATABASE ?? env.PGUSER,
      sslmode: env.PGSSLMODE, sslrootcert: env.PGSSLROOTCERT, sslcert: env.PGSSLCERT, sslkey: env.PGSSLKEY,
    };
    for (const [key, value] of Object.entries(fromEnv)) if (value) base[key] = value;
  }
  const first = connection.endpoints[0]!;
  base.host = first.host ?? env.PGHOST ?? "localhost";
  base.port = String(first.port ?? env.PGPORT ?? 5432);
  if (connection.database !== undefined) base.dbname = connection.database;
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
