// What every `clockwork` command shares: exit codes, argument parsing with --help, the
// database connection, and terminal output (tables, colour only on a terminal).
import { parseArgs, type ParseArgsConfig } from "node:util";
import pg from "pg";
import { ConfigError, loadConnectionSettings } from "../config.ts";
import { ConnectionTarget } from "../connection.ts";

/** Exit codes, the same for every command (docs/cli.md), so CI can tell outcomes apart. */
export const EXIT = {
  /** Done; nothing wrong (apply applied or had nothing to do, diff found no difference). */
  ok: 0,
  /** A run or check failed, the database refused a change, or the job/run does not exist. */
  failed: 1,
  /** Wrong arguments. */
  usage: 2,
  /** Definition files are invalid (each problem printed as file:line: path: message). */
  invalid: 3,
  /** diff: the files and the database differ. */
  differences: 4,
  /** The database cannot be reached, or Clockwork is not installed in it. */
  unavailable: 5,
  /** supervisor: another live supervisor holds this worker name (docs/faults.md). */
  in_use: 6,
  /** Stopped by SIGINT/SIGTERM. */
  interrupted: 130,
} as const;

/** Thrown by commands to end with a message and an exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "CliError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command that talks to the database takes. */
export const DATABASE_OPTIONS = {
  "database-url": { type: "string" },
} as const satisfies Options;

export const DATABASE_HELP = `  --database-url URL   connection string [DATABASE_URL]; else libpq PG* variables and .pgpass`;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : O[K] extends { multiple: true } ? string[] : string };
  positionals: string[];
}

/**
 * Parses a command's arguments with node:util's parseArgs. `--help` prints the usage and
 * ends with 0; anything parseArgs refuses ends with a one-line error and exit code 2.
 */
export function parseCommand<O extends Options>(argv: readonly string[], options: O, usage: string): Parsed<O> | number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    return EXIT.ok;
  }
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return parsed as unknown as Parsed<O>;
  } catch (error) {
    process.stderr.write(`clockwork: ${(error as Error).message.replace(/\. To specify a positional.*$/s, "")} (see --help)\n`);
    return EXIT.usage;
  }
}

/** Runs a command body, turning CliError and database errors into a message and an exit code. */
export async function runCommand(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CliError) {
      if (error.message !== "") process.stderr.write(`clockwork ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    const e = error as { code?: string; message?: string; detail?: string; hint?: string };
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
      process.stderr.write(`clockwork ${name}: ${e.message}${e.detail ? `\n${e.detail}` : ""}${e.hint ? `\nhint: ${e.hint}` : ""}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

// --- the database -------------------------------------------------------------------

/**
 * Opens a connection as the supervisor would (docs/configuration.md): --database-url, else
 * CLOCKWORK_DATABASE_URL / DATABASE_URL, CLOCKWORK_DB_* (several hosts: the primary),
 * libpq's PG* variables and .pgpass.
 */
export async function connect(databaseUrl: string | undefined, applicationName: string): Promise<pg.Client> {
  let target: ConnectionTarget;
  try {
    target = new ConnectionTarget(loadConnectionSettings(databaseUrl), { application_name: applicationName.slice(0, 63) });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
  if (target.followsPrimary) {
    try {
      await target.locate();
    } catch (error) {
      throw new CliError(`cannot connect to the database: ${(error as Error).message}`, EXIT.unavailable);
    }
  }
  const client = new pg.Client(target.clientConfig());
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    // The URL is not printed: it may hold a password.
    throw new CliError(`cannot connect to the database: ${(error as Error).message}`, EXIT.unavailable);
  }
  const installed = await client.query("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'clockwork'");
  if (installed.rowCount === 0) {
    await client.end();
    throw new CliError("Clockwork is not installed in this database (CREATE EXTENSION clockwork)", EXIT.unavailable);
  }
  return client;
}

// --- output ---------------------------------------------------------------------------

/** Colour only on a terminal, never with NO_COLOR set (https://no-color.org). */
export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(text: string, colour: Colour | null, on = useColour()): string {
  return on && colour !== null ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/** Colour of a run or step state. */
export function stateColour(state: string | null | undefined): Colour | null {
  switch (state) {
    case "succeeded": return "green";
    case "failed": case "lost": return "red";
    case "cancelled": case "skipped": return "yellow";
    case "running": return "cyan";
    case "queued": case "waiting": case "ready": return "blue";
    default: return null;
  }
}

const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "").length;

/** A plain text table: a header row, then rows; cells may carry colour codes. */
export function table(header: string[], rows: string[][], colour = useColour()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visibleLength(c)))).join("  ").trimEnd();
  return [paint(line(header), "bold", colour), ...rows.map(line)].join("\n") + "\n";
}

/** A timestamp as a short local-free ISO text (UTC), or "-". */
export function when(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return "-";
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().replace(/\.\d{3}Z$/, "Z").replace("T", " ");
}

/** A PostgreSQL interval as node-pg returns it, or milliseconds, as "1.2s" / "3m04s". */
export function duration(value: unknown): string {
  if (value === null || value === undefined) return "-";
  let ms: number;
  if (typeof value === "number") ms = value;
  else if (typeof value === "object") {
    const v = value as { hours?: number; minutes?: number; seconds?: number; milliseconds?: number; days?: number };
    ms = ((v.days ?? 0) * 86400 + (v.hours ?? 0) * 3600 + (v.minutes ?? 0) * 60 + (v.seconds ?? 0)) * 1000 + (v.milliseconds ?? 0);
  } else return String(value);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** JSON for --json output: ids and counts as the database gave them, dates as ISO text. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
}
