// Runs one shell or program step as a child process and captures its output.
//
// - shell steps run `bash -c script` (`sh -c` where bash is missing), program steps
//   spawn argv directly (no shell);
// - each step gets its own process group (detached), so a time-out, a cancel or the end
//   of the step reaches every process the step started, not just the first one;
// - stdin is closed; the environment is the supervisor's (without anything that names or
//   opens a database) overlaid with the claim's variables; with --step-user, it runs as
//   that OS user, in its home directory;
// - stdout and stderr are streamed to a sink in batches while the step runs, bounded per
//   stream with a truncation marker, so memory stays bounded whatever the step prints;
// - the exit code is the process's, or 128 + signal number when it was killed;
// - a spawn failure (missing program, missing directory) is a result, never a throw.
// Nothing here knows about the database: the sink decides where output goes.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { StringDecoder } from "node:string_decoder";

export type OutputStreamName = "stdout" | "stderr";

export interface ProcessStepSpec {
  readonly kind: "shell" | "program";
  /** shell: the script passed to `bash -c`. */
  readonly script?: string | null;
  /** program: argv[0] is the program (looked up on PATH), the rest its arguments. */
  readonly argv?: readonly string[] | null;
  readonly cwd?: string | null;
  /** Variables on top of the base environment (parameters, matrix values, CLOCKWORK_*). */
  readonly env?: Readonly<Record<string, string>> | null;
  readonly timeoutMs?: number | null;
}

/** Receives a batch of output; resolving to false means "stop this step" (fenced). */
export type OutputSink = (stream: OutputStreamName, chunk: string) => Promise<boolean> | boolean;

export interface ProcessRunOptions {
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly outputLimitBytes: number;
  readonly flushMs: number;
  readonly flushBytes: number;
  readonly killGraceMs: number;
  /** Run as this OS user (the supervisor is root), with its HOME, USER and LOGNAME; else as the supervisor. */
  readonly user?: { readonly name: string; readonly uid: number; readonly gid: number; readonly home: string } | null;
  readonly onOutput?: OutputSink;
  /** Called when the sink fails (e.g. database unreachable); output of that batch is lost. */
  readonly onSinkError?: (error: unknown) => void;
}

export type StopReason = "timeout" | "cancelled" | "fenced" | "shutdown";

export interface ProcessResult {
  readonly exitCode: number;
  /** Signal that ended the process, if any. */
  readonly signal: NodeJS.Signals | null;
  /** Why the supervisor stopped it, if it did. */
  readonly stoppedBy: StopReason | null;
  /** Spawn failure, time-out or stop message; null for a normal exit. */
  readonly error: string | null;
  readonly truncated: { readonly stdout: boolean; readonly stderr: boolean };
  readonly bytes: { readonly stdout: number; readonly stderr: number };
  readonly durationMs: number;
}

export interface RunningProcess {
  /** Process id (and process group id); undefined when the spawn failed. */
  readonly pid: number | undefined;
  readonly result: Promise<ProcessResult>;
  /** Stops the whole process group: SIGTERM, then SIGKILL after the kill grace. */
  stop(reason: StopReason): void;
}

const SHELL = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";

export function truncationMarker(limitBytes: number): string {
  return `\n[clockwork: output truncated after ${limitBytes} bytes]\n`;
}

/** Sends a signal to a whole process group; a group that is gone already is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

/**
 * One output stream of a step: decodes bytes as UTF-8 (a character split across reads
 * stays whole), keeps at most `limit` bytes in total and marks the cut once.
 */
class BoundedStream {
  private readonly decoder = new StringDecoder("utf8");
  kept = 0;
  seen = 0;
  truncated = false;
  pending = "";

  constructor(private readonly limit: number) {}

  /** Adds raw bytes; returns the size of `pending` in UTF-16 units (a cheap proxy). */
  push(data: Buffer): void {
    this.seen += data.length;
    if (this.truncated) return;
    const room = this.limit - this.kept;
    if (data.length <= room) {
      this.kept += data.length;
      this.pending += clean(this.decoder.write(data));
      return;
    }
    this.kept = this.limit;
    this.pending += clean(this.decoder.write(data.subarray(0, room)));
    // A character cut at the bound is dropped rather than emitted half.
    this.truncated = true;
    this.pending += truncationMarker(this.limit);
  }

  end(): void {
    if (!this.truncated) this.pending += clean(this.decoder.end());
  }

  take(): string {
    const chunk = this.pending;
    this.pending = "";
    return chunk;
  }
}

/** PostgreSQL text cannot hold NUL. */
function clean(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "") : text;
}

export function startProcessStep(spec: ProcessStepSpec, options: ProcessRunOptions): RunningProcess {
  const startedAt = performance.now();
  const streams = { stdout: new BoundedStream(options.outputLimitBytes), stderr: new BoundedStream(options.outputLimitBytes) };
  let stoppedBy: StopReason | null = null;
  let child: ChildProcess | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let leftoverTimer: NodeJS.Timeout | undefined;
  let sinkChain: Promise<void> = Promise.resolve();
  let sinkOpen = true;

  let settle!: (result: ProcessResult) => void;
  const result = new Promise<ProcessResult>((resolve) => (settle = resolve));

  const finish = async (exitCode: number, signal: NodeJS.Signals | null, error: string | null) => {
    clearTimeout(timeoutTimer);
    clearTimeout(flushTimer);
    clearTimeout(killTimer);
    clearTimeout(leftoverTimer); // the group is empty: its id may be reused by someone else
    streams.stdout.end();
    streams.stderr.end();
    flush();
    await sinkChain;
    settle({
      exitCode,
      signal,
      stoppedBy,
      error,
      truncated: { stdout: streams.stdout.truncated, stderr: streams.stderr.truncated },
      bytes: { stdout: streams.stdout.seen, stderr: streams.stderr.seen },
      durationMs: performance.now() - startedAt,
    });
  };

  const stop = (reason: StopReason) => {
    if (stoppedBy !== null || child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    stoppedBy = reason;
    killGroup(child.pid, "SIGTERM");
    const pid = child.pid;
    killTimer = setTimeout(() => killGroup(pid, "SIGKILL"), options.killGraceMs);
  };

  // Output goes to the sink one batch at a time, in order; batches wait while one is in flight.
  function flush(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    for (const name of ["stdout", "stderr"] as const) {
      const chunk = streams[name].take();
      if (chunk === "" || !options.onOutput || !sinkOpen) continue;
      const sink = options.onOutput;
      sinkChain = sinkChain.then(async () => {
        if (!sinkOpen) return;
        try {
          if ((await sink(name, chunk)) === false) {
            sinkOpen = false;
            stop("fenced");
          }
        } catch (error) {
          options.onSinkError?.(error);
        }
      });
    }
  }

  const onData = (name: OutputStreamName) => (data: Buffer) => {
    streams[name].push(data);
    if (streams[name].pending.length >= options.flushBytes) flush();
    else if (flushTimer === undefined) flushTimer = setTimeout(flush, options.flushMs);
  };

  // Refuse what spawn would report confusingly (a missing cwd shows up as "spawn bash ENOENT").
  const preflight = (): string | null => {
    if (spec.kind === "shell" && typeof spec.script !== "string") return "shell step has no script";
    if (spec.kind === "program" && (!spec.argv || spec.argv.length === 0 || !spec.argv[0])) return "program step has no argv";
    if (spec.cwd) {
      try {
        if (!statSync(spec.cwd).isDirectory()) return `working directory ${spec.cwd} is not a directory`;
      } catch {
        return `working directory ${spec.cwd} does not exist`;
      }
    }
    return null;
  };

  const problem = preflight();
  if (problem !== null) {
    void finish(127, null, problem);
    return { pid: undefined, result, stop: () => {} };
  }

  const [file, args] = spec.kind === "shell" ? [SHELL, ["-c", spec.script as string]] : [spec.argv![0]!, spec.argv!.slice(1)];
  try {
    const user = options.user ?? null;
    const identity = user === null ? {} : { HOME: user.home, USER: user.name, LOGNAME: user.name };
    child = spawn(file, args, {
      cwd: spec.cwd ?? (user === null ? undefined : existsSync(user.home) ? user.home : "/"),
      env: { ...options.baseEnv, ...identity, ...(spec.env ?? {}) },
      ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // own process group: kill(-pid) reaches the whole step
      windowsHide: true,
    });
  } catch (error) {
    void finish(127, null, `spawn failed: ${(error as Error).message}`);
    return { pid: undefined, result, stop: () => {} };
  }

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let done = false;
  child.stdout!.on("data", onData("stdout"));
  child.stderr!.on("data", onData("stderr"));

  child.on("error", (error: NodeJS.ErrnoException) => {
    // Only spawn failures end the step here; a failed kill is not fatal.
    if (done || child!.pid !== undefined) return;
    done = true;
    const code = error.code === "ENOENT" ? 127 : error.code === "EACCES" ? 126 : 1;
    void finish(code, null, `spawn failed: ${error.message}`);
  });

  child.on("exit", (code, signal) => {
    exited = { code, signal };
    // The step is over when its first process is; whatever it left behind in its group
    // (background jobs holding the pipes) is stopped so that the pipes close.
    if (killGroup(child!.pid, "SIGTERM")) {
      const pid = child!.pid;
      leftoverTimer = setTimeout(() => {
        killGroup(pid, "SIGKILL");
        child!.stdout?.destroy();
        child!.stderr?.destroy();
      }, options.killGraceMs);
    }
  });

  child.on("close", () => {
    if (done) return;
    done = true;
    const { code, signal } = exited ?? { code: child!.exitCode, signal: child!.signalCode };
    const exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
    let error: string | null = null;
    if (stoppedBy === "timeout") error = `timed out after ${spec.timeoutMs} ms`;
    else if (stoppedBy === "cancelled") error = "cancelled";
    else if (stoppedBy === "fenced") error = "stopped: the lease was lost to another worker";
    else if (stoppedBy === "shutdown") error = "killed: the supervisor shut down";
    else if (signal) error = `killed by ${signal}`;
    void finish(exitCode, signal, error);
  });

  if (spec.timeoutMs != null && spec.timeoutMs > 0) {
    timeoutTimer = setTimeout(() => stop("timeout"), spec.timeoutMs);
  }

  return { pid: child.pid, result, stop };
}
