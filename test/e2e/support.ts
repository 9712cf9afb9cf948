// Helpers for end-to-end tests: real supervisor processes (through the real binary)
// against a real database with the extension installed.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { adminQuery } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";

export const BIN = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Why the end-to-end tests cannot run here, or null when they can. */
export async function extensionMissing(): Promise<string | null> {
  const result = await adminQuery("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = ANY($1)", [CLOCKWORK_EXTENSIONS]);
  return result.rows[0].n === CLOCKWORK_EXTENSIONS.length
    ? null
    : `the extensions ${CLOCKWORK_EXTENSIONS.join(" and ")} are not installed on this machine (run \`make install\`, or \`make test-plv8\` for plv8)`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface SupervisorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly stderr: string[];
  /** Port of the health server (resolved once the supervisor logged it). */
  port(): Promise<number>;
  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  readonly exited: Promise<number | string>;
}

const running = new Set<SupervisorProcess>();

export function startSupervisor(databaseUrl: string, options: { name: string; args?: string[]; env?: Record<string, string> }): SupervisorProcess {
  const child = spawn(
    process.execPath,
    [BIN, "supervisor", "--name", options.name, "--http-port", "0", "--http-host", "127.0.0.1", "--log-level", "debug", ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (data: string) => {
    buffered += data;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: "raw", msg: line });
      }
    }
    if (process.env.CLOCKWORK_E2E_VERBOSE) process.stdout.write(data.replace(/^/gm, `[${options.name}] `));
  });
  child.stderr!.setEncoding("utf8").on("data", (data: string) => stderr.push(data));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));

  const waitForLog = (what: string, match: (line: LogLine) => boolean, timeoutMs = 15_000) =>
    waitFor(`${options.name}: ${what}`, () => logs.find(match), timeoutMs, 20);

  const supervisor: SupervisorProcess = {
    name: options.name,
    child,
    logs,
    stderr,
    exited,
    port: async () => Number((await waitForLog("health server port", (l) => l.msg === "health and metrics listening")).port),
    waitForLog,
    async stop(signal = "SIGTERM", timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      running.delete(supervisor);
      return code;
    },
  };
  running.add(supervisor);
  void exited.then(() => running.delete(supervisor));
  return supervisor;
}

/** Kills every supervisor a test left running (for `after` hooks). */
export async function stopAllSupervisors(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop("SIGKILL")));
}

/** A plain client for the test's own queries. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** A pool for the test's own queries across database restarts (broken connections are replaced). */
export function pool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 2 });
  p.on("error", () => {});
  return p;
}

/** Shortens the lease in a test database so take-over tests do not wait 30 s. */
export async function setLease(db: { query: (sql: string) => Promise<unknown> }, seconds: number): Promise<void> {
  await db.query(`CREATE OR REPLACE FUNCTION clockwork.lease_duration() RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT interval '${seconds} seconds' $$`);
}
