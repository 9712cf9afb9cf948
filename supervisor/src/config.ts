// Supervisor configuration: the only module that reads the process environment.
// Flags win over environment variables, which win over defaults. Everything is validated
// once at start and frozen; a bad value raises ConfigError, which main turns into one
// line on stderr and exit code 2.
//
// Connection: --database-url / DATABASE_URL, else node-pg's libpq-style PG* variables
// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE…) and ~/.pgpass.
import { hostname } from "node:os";

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
  /** Base environment of shell and program steps: ours minus database secrets. */
  readonly stepBaseEnv: Readonly<Record<string, string>>;
  /**
   * Run only jobs pinned to this worker by name and fire no schedule slots
   * (register_dedicated_worker). Set by `clockwork run` for its in-process supervisor.
   */
  readonly dedicated: boolean;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Variables that are never passed on to steps: they would hand the step our database. */
const SECRET_ENV = new Set(["DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "CLOCKWORK_DATABASE_URL"]);

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

  const stepBaseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_ENV.has(k)) continue;
    if (k.startsWith("CLOCKWORK_")) continue; // our own settings are not the step's business
    stepBaseEnv[k] = v;
  }

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
  });
}
