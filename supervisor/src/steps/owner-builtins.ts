// Built-ins that work on a connection logged in as the job's owner (the SQL steps'
// owner connections): COPY between a table and a file of the working area, and sending a job
// to a pg-boss queue, optionally waiting for it. Whatever they do, they do with the owner's
// privileges only; the supervisor's own connection is never used for them.
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import type pg from "pg";
import PgBoss from "pg-boss";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import type { BuiltinArgs } from "../../../extension/src/core/index.ts";
import type { WorkArea } from "./builtins.ts";

export interface OwnerSession {
  readonly client: pg.PoolClient;
  /** Cancels what the connection runs now. */
  cancel(): void;
  release(how: "reuse" | "destroy"): void;
}

export interface OwnerBuiltinContext {
  /** A connection logged in as the owner: the job's database, or the queue step's named connection. */
  acquire(): Promise<OwnerSession>;
  readonly area: WorkArea;
  readonly signal: AbortSignal;
  /** The run's (and step's) parameters: the queue step sends them as the job's data. */
  readonly params: Record<string, unknown>;
  /** How often the queue step looks at the job it waits for. */
  readonly pollMs?: number;
}

export interface OwnerBuiltinResult {
  exitCode: number;
  stdout: string;
  error: string | null;
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** WITH (…) of a COPY from the validated arguments (names and one-character options only). */
function copyOptions(a: { format: string; header: boolean; delimiter: string | null; null: string | null }): string {
  const options = [`FORMAT ${a.format}`];
  if (a.header) options.push("HEADER true");
  if (a.delimiter !== null) options.push(`DELIMITER ${literal(a.delimiter)}`);
  if (a.null !== null) options.push(`NULL ${literal(a.null)}`);
  return `WITH (${options.join(", ")})`;
}

/** Table and column names were checked to be plain identifiers when the job was defined. */
function target(table: string, columns: readonly string[]): string {
  return columns.length > 0 ? `${table} (${columns.join(", ")})` : table;
}

function stopped(signal: AbortSignal): string {
  return String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? "stopped");
}

async function withSession<T>(ctx: OwnerBuiltinContext, work: (s: OwnerSession) => Promise<T>): Promise<T> {
  const session = await ctx.acquire();
  const onAbort = () => session.cancel();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await work(session);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    // Closed, not pooled: a COPY cut short, or whatever pg-boss set, leaves nothing for the
    // owner's next step (these built-ins are rare enough for a connection each).
    session.release("destroy");
  }
}

async function copyFromFile(args: Extract<BuiltinArgs, { builtin: "copy_from" }>, ctx: OwnerBuiltinContext): Promise<OwnerBuiltinResult> {
  const handle = await ctx.area.openForReading(args.file);
  const source = handle.createReadStream();
  try {
    return await withSession(ctx, async ({ client }) => {
      const sql = `COPY ${target(args.table, args.columns)} FROM STDIN ${copyOptions(args)}`;
      const sink = client.query(copyFrom(sql));
      try {
        await pipeline(source, sink);
      } catch (error) {
        if (ctx.signal.aborted) return { exitCode: 1, stdout: "", error: stopped(ctx.signal) };
        const e = error as { message?: string; code?: string };
        return { exitCode: 1, stdout: "", error: `COPY ${args.table} FROM ${args.file}: ${e.message ?? String(error)}` };
      }
      return { exitCode: 0, stdout: `copied ${sink.rowCount} rows from ${args.file} into ${args.table}\n`, error: null };
    });
  } finally {
    await handle.close().catch(() => {});
  }
}

async function copyToFile(args: Extract<BuiltinArgs, { builtin: "copy_to" }>, ctx: OwnerBuiltinContext): Promise<OwnerBuiltinResult> {
  const what = args.query !== null ? `(${args.query})` : target(args.table!, args.columns);
  const temporary = `${args.file}.clockwork-partial`;
  const file = await ctx.area.openForWriting(temporary);
  let bytes = 0;
  const sinkToFile = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      file.write(chunk).then(() => done(), done);
    },
  });
  try {
    const rows = await withSession(ctx, async ({ client }) => {
      const source = client.query(copyTo(`COPY ${what} TO STDOUT ${copyOptions(args)}`));
      await pipeline(source, sinkToFile);
      return source.rowCount;
    });
    await file.close();
    const { rename } = await import("node:fs/promises");
    await rename(await ctx.area.path(temporary, true), await ctx.area.path(args.file, true));
    return { exitCode: 0, stdout: `copied ${rows} rows (${bytes} bytes) from ${args.query !== null ? "the query" : args.table} into ${args.file}\n`, error: null };
  } catch (error) {
    await file.close().catch(() => {});
    const { rm } = await import("node:fs/promises");
    await rm(await ctx.area.path(temporary, true), { force: true }).catch(() => {});
    if (ctx.signal.aborted) return { exitCode: 1, stdout: "", error: stopped(ctx.signal) };
    return { exitCode: 1, stdout: "", error: `COPY ${args.query !== null ? "(query)" : args.table} TO ${args.file}: ${(error as Error).message ?? String(error)}` };
  }
}

/** pg-boss's final states; anything else is still under way. */
const FINAL = new Set(["completed", "failed", "cancelled"]);

/**
 * Sends a job to a pg-boss queue with pg-boss itself, over the owner's connection (pg-boss's
 * `db` adapter: it runs its own SQL on the connection it is given). With `wait`, looks at the
 * job until it is completed, failed or cancelled, and takes its state and output as the
 * step's result; the step's time-out bounds the wait (the job itself is left to pg-boss).
 */
async function sendToQueue(args: Extract<BuiltinArgs, { builtin: "queue" }>, ctx: OwnerBuiltinContext): Promise<OwnerBuiltinResult> {
  return withSession(ctx, async ({ client }) => {
    const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values as unknown[]) };
    const boss = new PgBoss({ db, supervise: false, schedule: false, migrate: false } as unknown as PgBoss.ConstructorOptions);
    boss.on("error", () => {}); // nothing runs in the background: supervise and schedule are off
    const data = args.params ? { ...ctx.params, ...args.data } : args.data;
    let id: string | null;
    try {
      id = await boss.send(args.queue, data, args.options as PgBoss.SendOptions);
    } catch (error) {
      return { exitCode: 1, stdout: "", error: `pg-boss could not send to queue "${args.queue}": ${(error as Error).message}` };
    }
    if (id === null) {
      return { exitCode: 0, stdout: `not sent: queue "${args.queue}" already has a job with singleton key ${JSON.stringify(args.options.singletonKey ?? null)}\n`, error: null };
    }
    if (!args.wait) return { exitCode: 0, stdout: `sent job ${id} to queue ${args.queue}\n`, error: null };
    const pollMs = ctx.pollMs ?? 250;
    for (;;) {
      if (ctx.signal.aborted) return { exitCode: 1, stdout: `sent job ${id} to queue ${args.queue}; it was still under way\n`, error: stopped(ctx.signal) };
      const job = await boss.getJobById(args.queue, id, { includeArchive: true }) as { state: string; output: unknown } | null;
      if (job === null) return { exitCode: 1, stdout: "", error: `pg-boss job ${id} of queue ${args.queue} is gone (deleted before it finished)` };
      if (FINAL.has(job.state)) {
        const output = job.output === null || job.output === undefined ? "" : JSON.stringify(job.output);
        const stdout = `job ${id} of queue ${args.queue}: ${job.state}\n${output}`;
        if (job.state === "completed") return { exitCode: 0, stdout, error: null };
        const message = (job.output as { message?: unknown } | null)?.message;
        return { exitCode: 1, stdout, error: `pg-boss job ${id} ${job.state}${typeof message === "string" ? `: ${message}` : ""}` };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  });
}

export function runOwnerBuiltin(args: BuiltinArgs, ctx: OwnerBuiltinContext): Promise<OwnerBuiltinResult> {
  switch (args.builtin) {
    case "copy_from":
      return copyFromFile(args, ctx);
    case "copy_to":
      return copyToFile(args, ctx);
    case "queue":
      return sendToQueue(args, ctx);
    default:
      return Promise.resolve({ exitCode: 1, stdout: "", error: `the ${args.builtin} built-in does not run on an owner connection` });
  }
}
