// Built-in steps run by a supervisor: sleep, http, mail, download (and, with an owner
// connection, copy_from, copy_to, queue). Their arguments were validated when the job was
// defined; they are normalized again here with the same core function, so the two cannot
// disagree. Secrets are read from this supervisor's CLOCKWORK_SECRET_* variables by the
// name the definition gives, and never written to the output, the error or the log.
// Files live in the working area, in the job owner's own folder: a path can neither climb
// out of it ("..", absolute paths are refused at definition time) nor follow a symbolic link
// out of it (checked here, and the last component is opened with O_NOFOLLOW).
import { createHash } from "node:crypto";
import { constants as fsConstants, createReadStream, promises as fs } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { cutText, validateBuiltinArgs, type BuiltinArgs, type SecretHeader } from "../../../extension/src/core/index.ts";
import type { StepClaim } from "../api.ts";
import type { Mailer } from "../alerts/mail.ts";

export interface BuiltinResult {
  exitCode: number;
  stdout: string;
  error: string | null;
  /** The supervisor stopped the step (its time-out, a cancel, shutdown) rather than it ending by itself. */
  stoppedBy: "timeout" | "cancelled" | "shutdown" | null;
}

export interface RunningBuiltin {
  readonly result: Promise<BuiltinResult>;
  stop(reason: "cancelled" | "shutdown"): void;
}

export interface BuiltinContext {
  readonly workDir: string;
  readonly secrets: ReadonlyMap<string, string>;
  readonly mailer: Mailer;
  readonly outputLimitBytes: number;
  /** Steps with other needs (an owner connection: copy, queue) are run by this, when given. */
  readonly runWithOwner?: (claim: StepClaim, args: BuiltinArgs, signal: AbortSignal, files: WorkArea) => Promise<Omit<BuiltinResult, "stoppedBy">>;
}

/** Thrown for a failure whose message is meant for the step's error column. */
class StepFailure extends Error {}

/** The job owner's folder in the working area, and safe paths inside it. */
export class WorkArea {
  readonly root: string;

  constructor(workDir: string, owner: string) {
    // Role names may hold any character: the folder name is escaped, so no owner can name another's.
    const folder = owner.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    this.root = join(workDir, folder);
  }

  /** Resolves a relative path (validated at definition time) and makes sure no link leads out. */
  async path(rel: string, forWriting: boolean): Promise<string> {
    const target = join(this.root, rel);
    if (!target.startsWith(this.root + sep)) throw new StepFailure(`${JSON.stringify(rel)} is outside the working area`);
    await fs.mkdir(forWriting ? dirname(target) : this.root, { recursive: true, mode: 0o700 });
    const realRoot = await fs.realpath(this.root);
    let parent: string;
    try {
      parent = await fs.realpath(dirname(target));
    } catch {
      throw new StepFailure(`${rel}: no such file in the working area`);
    }
    if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
      throw new StepFailure(`${rel}: a symbolic link leads out of the working area`);
    }
    return join(parent, relative(dirname(target), target));
  }

  /** Opens a file for reading without following a link in its last component. */
  async openForReading(rel: string): Promise<fs.FileHandle> {
    const path = await this.path(rel, false);
    try {
      const handle = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new StepFailure(`${rel} is not a regular file`);
      }
      return handle;
    } catch (error) {
      if (error instanceof StepFailure) throw error;
      const code = (error as { code?: string }).code;
      throw new StepFailure(code === "ELOOP" ? `${rel} is a symbolic link` : code === "ENOENT" ? `${rel}: no such file in the working area` : `${rel}: ${(error as Error).message}`);
    }
  }

  /** Opens (creates or truncates) a file for writing, never through a link. */
  async openForWriting(rel: string): Promise<fs.FileHandle> {
    const path = await this.path(rel, true);
    try {
      return await fs.open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o600);
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new StepFailure(code === "ELOOP" ? `${rel} is a symbolic link` : `${rel}: ${(error as Error).message}`);
    }
  }
}

function resolveHeaders(headers: Record<string, string>, secret: Record<string, SecretHeader>, secrets: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  for (const [name, { env, prefix }] of Object.entries(secret)) {
    const value = secrets.get(env);
    // Named, not shown: the message says which variable is missing, never a value.
    if (value === undefined) throw new StepFailure(`${env} is not set in this supervisor's environment`);
    out[name] = prefix + value;
  }
  return out;
}

/** Reads a response body up to `limit` bytes; returns the text and whether it was cut. */
async function boundedBody(res: Response, limit: number): Promise<{ text: string; truncated: boolean; bytes: number }> {
  if (res.body === null) return { text: "", truncated: false, bytes: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (kept < limit) {
      const part = value.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.byteLength;
    }
    if (bytes > limit) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated, bytes };
}

function failedFetch(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? "stopped");
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

async function runHttp(args: Extract<BuiltinArgs, { builtin: "http" }>, ctx: BuiltinContext, signal: AbortSignal): Promise<Omit<BuiltinResult, "stoppedBy">> {
  const headers = resolveHeaders(args.headers, args.secretHeaders, ctx.secrets);
  if (args.json && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(args.url, { method: args.method, headers, body: args.body ?? undefined, signal, redirect: "follow" });
  } catch (error) {
    return { exitCode: 1, stdout: "", error: `${args.method} ${args.url} failed: ${failedFetch(error, signal)}` };
  }
  const body = await boundedBody(res, args.maxResponseBytes);
  const line = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
  const stdout = `${line}\n${body.text}${body.truncated ? `\n[clockwork: response truncated after ${args.maxResponseBytes} bytes]\n` : ""}`;
  const allowed = args.allowStatus === "any" || (res.status >= 200 && res.status < 300) || args.allowStatus.includes(res.status);
  return { exitCode: allowed ? 0 : 1, stdout, error: allowed ? null : `${line} (not 2xx, not in allow_status)` };
}

async function runDownload(args: Extract<BuiltinArgs, { builtin: "download" }>, ctx: BuiltinContext, area: WorkArea, signal: AbortSignal): Promise<Omit<BuiltinResult, "stoppedBy">> {
  const headers = resolveHeaders(args.headers, args.secretHeaders, ctx.secrets);
  let res: Response;
  try {
    res = await fetch(args.url, { headers, signal, redirect: "follow" });
  } catch (error) {
    return { exitCode: 1, stdout: "", error: `GET ${args.url} failed: ${failedFetch(error, signal)}` };
  }
  if (res.status < 200 || res.status >= 300 || res.body === null) {
    await res.body?.cancel().catch(() => {});
    return { exitCode: 1, stdout: "", error: `GET ${args.url}: HTTP ${res.status}` };
  }
  const announced = Number(res.headers.get("content-length"));
  if (Number.isFinite(announced) && announced > args.maxBytes) {
    await res.body.cancel().catch(() => {});
    return { exitCode: 1, stdout: "", error: `GET ${args.url}: ${announced} bytes is more than max_size (${args.maxBytes})` };
  }
  // Written to a temporary name and renamed when complete: a failed download leaves no half file.
  const temporary = `${args.to}.clockwork-partial`;
  const file = await area.openForWriting(temporary);
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > args.maxBytes) {
        await reader.cancel().catch(() => {});
        throw new StepFailure(`GET ${args.url}: more than max_size (${args.maxBytes} bytes)`);
      }
      hash.update(value);
      await file.write(value);
    }
    await file.close();
    await fs.rename(await area.path(temporary, true), await area.path(args.to, true));
  } catch (error) {
    await file.close().catch(() => {});
    await fs.rm(await area.path(temporary, true), { force: true }).catch(() => {});
    if (error instanceof StepFailure) throw error;
    return { exitCode: 1, stdout: "", error: `GET ${args.url} failed: ${failedFetch(error, signal)}` };
  }
  return { exitCode: 0, stdout: `downloaded ${bytes} bytes to ${args.to} (sha256 ${hash.digest("hex")})\n`, error: null };
}

async function runMail(args: Extract<BuiltinArgs, { builtin: "mail" }>, ctx: BuiltinContext, area: WorkArea): Promise<Omit<BuiltinResult, "stoppedBy">> {
  const attachments: { filename: string; content: Buffer }[] = [];
  for (const rel of args.attachments) {
    const handle = await area.openForReading(rel);
    try {
      attachments.push({ filename: rel.split("/").pop()!, content: await handle.readFile() });
    } finally {
      await handle.close();
    }
  }
  const outcome = await ctx.mailer.send({
    from: args.from ?? ctx.mailer.defaultFrom, to: args.to, ...(args.cc.length ? { cc: args.cc } : {}), ...(args.bcc.length ? { bcc: args.bcc } : {}),
    subject: args.subject, text: args.body, attachments: attachments as never,
  });
  const recipients = args.to.length + args.cc.length + args.bcc.length;
  return outcome.ok
    ? { exitCode: 0, stdout: `mail sent to ${recipients} recipient${recipients === 1 ? "" : "s"}${attachments.length ? ` with ${attachments.length} attachment${attachments.length === 1 ? "" : "s"}` : ""}: ${outcome.response}\n`, error: null }
    : { exitCode: 1, stdout: "", error: outcome.error };
}

function sleepFor(ms: number, signal: AbortSignal): Promise<Omit<BuiltinResult, "stoppedBy">> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ exitCode: 0, stdout: `slept ${ms} ms\n`, error: null }), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve({ exitCode: 1, stdout: "", error: String(signal.reason instanceof Error ? signal.reason.message : signal.reason) });
    }, { once: true });
  });
}

/**
 * Starts a built-in step. A time-out aborts it and says so (stoppedBy "timeout", which the
 * database records as timed_out, with the error "timed out after N ms"); a stop (cancel,
 * shutdown) aborts it too.
 */
export function startBuiltinStep(claim: StepClaim, ctx: BuiltinContext): RunningBuiltin {
  const controller = new AbortController();
  let stoppedBy: "cancelled" | "shutdown" | null = null;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeoutMs = claim.timeout_ms ?? null;
  if (timeoutMs !== null) {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  }
  const run = async (): Promise<Omit<BuiltinResult, "stoppedBy">> => {
    const checked = validateBuiltinArgs(claim.builtin ?? "", claim.args ?? {}, "args");
    if (!checked.ok) return { exitCode: 1, stdout: "", error: `invalid built-in: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}` };
    const args = checked.args;
    const area = new WorkArea(ctx.workDir, claim.owner);
    switch (args.builtin) {
      case "sleep":
        return sleepFor(args.durationMs, controller.signal);
      case "http":
        return runHttp(args, ctx, controller.signal);
      case "download":
        return runDownload(args, ctx, area, controller.signal);
      case "mail":
        return runMail(args, ctx, area);
      case "noop":
        return { exitCode: 0, stdout: "", error: null };
      case "log":
        return { exitCode: 0, stdout: args.message, error: null };
      default:
        if (ctx.runWithOwner) return ctx.runWithOwner(claim, args, controller.signal, area);
        return { exitCode: 1, stdout: "", error: `the ${args.builtin} built-in is not supported by this supervisor` };
    }
  };
  const result = run().then(
    (r) => r,
    (error: unknown) => ({ exitCode: 1, stdout: "", error: error instanceof StepFailure ? error.message : `built-in failed: ${(error as Error).message ?? String(error)}` }),
  ).then((r): BuiltinResult => {
    clearTimeout(timer);
    const limit = ctx.outputLimitBytes;
    const stdout = cutText(r.stdout, limit).text;
    // A stop shows as such, not as the failure the abort caused. A time-out that ended the
    // step reads "timed out after N ms", as a shell or SQL step's does, whatever the
    // built-in made of its abort ("GET … failed: timed out …"). What decides timed_out is
    // stoppedBy; a built-in's own error that merely says "timed out" is a failure.
    const stoppedByTimeout = timedOut && stoppedBy === null && r.exitCode !== 0;
    const error = stoppedByTimeout ? `timed out after ${timeoutMs} ms` : r.error;
    return { ...r, stdout, error, stoppedBy: stoppedByTimeout ? "timeout" : stoppedBy };
  });
  return {
    result,
    stop(reason) {
      stoppedBy = reason;
      controller.abort(new Error(reason === "cancelled" ? "cancelled" : "stopped at shutdown"));
    },
  };
}

/** Streams a file of the working area (for COPY FROM STDIN). */
export async function readWorkFile(area: WorkArea, rel: string): Promise<NodeJS.ReadableStream> {
  const handle = await area.openForReading(rel);
  return createReadStream("", { fd: handle.fd, autoClose: true });
}
