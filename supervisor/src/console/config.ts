// `clockwork console` configuration: flags over environment variables over defaults,
// validated once and frozen. A bad value is a ConfigError: one line on stderr, exit 2.
import { parseArgs } from "node:util";
import { ConfigError, parseDurationMs } from "../config.ts";

export { ConfigError };

export interface ConsoleConfig {
  /** Connection string; undefined means "node-pg reads PG* variables and .pgpass". */
  readonly databaseUrl: string | undefined;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Actions (run now, cancel, retry, pause, resume) are refused unless this is set. */
  readonly allowActions: boolean;
  /** How often the browser polls the page it shows. */
  readonly refreshMs: number;
  /** A run that starts this long after its slot is marked late. */
  readonly lateAfterMs: number;
  /**
   * Behind the operator's authenticating proxy: the request header naming the role each
   * request acts as (SET LOCAL ROLE), or null to act as the login role.
   */
  readonly roleHeader: string | null;
  /** Connections the console holds at most. */
  readonly poolSize: number;
}

export const CONSOLE_USAGE = `usage: clockwork console [options]

Serves the web console: jobs, timeline, runs, failures, skipped slots, workers. It reads
and acts through SQL as the role it logs in as, so row-level security decides what it shows.

options (environment variable in brackets):
  --database-url URL     connection string [DATABASE_URL]; else libpq PG* variables and .pgpass
  --host HOST            address to listen on, default 127.0.0.1 [CLOCKWORK_CONSOLE_HOST]
  --port N               port, 0 = any free port, default 9188 [CLOCKWORK_CONSOLE_PORT]
  --allow-actions        allow run now, cancel, retry, pause and resume (default: read-only)
  --refresh T            how often pages refresh, default 2s [CLOCKWORK_CONSOLE_REFRESH]
  --late-after T         mark a run late when it starts this long after its slot, default 5s
  --role-header NAME     act as the role named in this request header (set by your
                         authenticating proxy); the login role must be a member of it
  --pool-size N          database connections at most, default 4
durations: 500ms, 5s, 2m or plain milliseconds`;

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.");
}

export function loadConsoleConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        "database-url": { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "allow-actions": { type: "boolean" },
        refresh: { type: "string" },
        "late-after": { type: "string" },
        "role-header": { type: "string" },
        "pool-size": { type: "string" },
      },
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (see clockwork console --help)`);
  }
  const text = (flag: string, envName?: string): string | undefined => {
    const v = values[flag];
    if (typeof v === "string") return v;
    const e = envName ? env[envName] : undefined;
    return e === undefined || e === "" ? undefined : e;
  };

  const databaseUrl = text("database-url") ?? (env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("database URL must start with postgres:// or postgresql:// (the value is not shown: it may hold a password)");
  }
  const host = text("host", "CLOCKWORK_CONSOLE_HOST") ?? "127.0.0.1";
  const portText = text("port", "CLOCKWORK_CONSOLE_PORT") ?? "9188";
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new ConfigError(`port must be an integer from 0 to 65535 (got ${JSON.stringify(portText)})`);
  const refreshMs = parseDurationMs(text("refresh", "CLOCKWORK_CONSOLE_REFRESH") ?? "2s", "refresh");
  if (refreshMs < 250 || refreshMs > 600_000) throw new ConfigError(`refresh must be from 250ms to 10m (got ${refreshMs}ms)`);
  const lateAfterMs = parseDurationMs(text("late-after") ?? "5s", "late after");
  const roleHeader = text("role-header")?.toLowerCase() ?? null;
  if (roleHeader !== null && !/^[a-z0-9-]{1,64}$/.test(roleHeader)) throw new ConfigError(`role header must be an HTTP header name (got ${JSON.stringify(roleHeader)})`);
  const poolText = text("pool-size") ?? "4";
  if (!/^\d+$/.test(poolText) || Number(poolText) < 1 || Number(poolText) > 100) throw new ConfigError(`pool size must be an integer from 1 to 100 (got ${JSON.stringify(poolText)})`);
  return Object.freeze({
    databaseUrl,
    host,
    port: Number(portText),
    allowActions: values["allow-actions"] === true,
    refreshMs,
    lateAfterMs,
    roleHeader,
    poolSize: Number(poolText),
  });
}
