// `clockwork console`: checks the database once, then serves the console until SIGINT or
// SIGTERM. Its own process, not a flag of the supervisor: see docs/console.md ("Why its
// own command").
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ConfigError, loadConsoleConfig, isLoopback, type ConsoleConfig } from "./config.ts";
import { QUERIES } from "./queries.ts";
import { startConsoleServer, type ConsoleServer, type StaticAsset } from "./server.ts";

/** Where build/console.ts writes the front end. */
export const ASSET_DIR = fileURLToPath(new URL("../../../dist/console/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

export function loadAssets(dir = ASSET_DIR): Map<string, StaticAsset> {
  if (!existsSync(join(dir, "index.html"))) {
    throw new ConfigError(`the console's front end is not built (${dir}): run \`make build\` or \`npx tsx build/console.ts\``);
  }
  const assets = new Map<string, StaticAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  return assets;
}

export function consolePool(config: ConsoleConfig): pg.Pool {
  const options = [
    "-c application_name=clockwork_console",
    "-c statement_timeout=10000",
    // Read-only twice over: the server refuses actions, and the database refuses writes.
    ...(config.allowActions ? [] : ["-c default_transaction_read_only=on"]),
  ].join(" ");
  const pool = new pg.Pool({
    ...(config.databaseUrl ? { connectionString: config.databaseUrl } : {}),
    options,
    max: config.poolSize,
    idleTimeoutMillis: 30_000,
  });
  pool.on("error", () => {}); // an idle connection lost with a restart: the next request reconnects
  // pg-pool drops its own listener from a checked-out connection (server.ts holds one for a
  // request's transaction): one lost then would be an unhandled 'error' event, a process exit.
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

export interface RunningConsole {
  readonly server: ConsoleServer;
  readonly role: string;
  stop(): Promise<void>;
}

/** Starts the console (used by the CLI, the demo and the tests). */
export async function startConsole(config: ConsoleConfig, log: (line: string) => void): Promise<RunningConsole> {
  const assets = loadAssets();
  const pool = consolePool(config);
  let session: { role: string; superuser: boolean; bypass_rls: boolean; version: string | null; database: string };
  try {
    session = (await pool.query(QUERIES.session)).rows[0];
  } catch (error) {
    await pool.end();
    throw new ConfigError(`cannot reach the database: ${(error as Error).message}`);
  }
  if (session.version === null) {
    await pool.end();
    throw new ConfigError(`the clockwork extension is not installed in database ${session.database}`);
  }
  const server = await startConsoleServer({ config, pool, assets, log });
  const actingAs = config.roleHeader
    ? `as the role in header ${config.roleHeader} (login ${session.role})`
    : `as role ${session.role}${session.superuser || session.bypass_rls ? " (bypasses row-level security: sees every job)" : ""}`;
  log(`clockwork console on ${server.url} ${actingAs}, ${config.allowActions ? "actions allowed" : "read-only"}`);
  if (!isLoopback(config.host)) {
    log(`warning: listening on ${config.host}, not loopback: put it behind your authenticating proxy (docs/console.md)`);
  }
  return {
    server,
    role: session.role,
    async stop() {
      await server.close();
      await pool.end();
    },
  };
}

export async function runConsole(argv: readonly string[]): Promise<number> {
  let running: RunningConsole;
  try {
    running = await startConsole(loadConsoleConfig(argv), (line) => process.stdout.write(`${line}\n`));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`clockwork console: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await running.stop();
  return 0;
}
