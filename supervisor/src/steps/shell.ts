// Runs one shell or program step as a child process and captures its output.
//
// - shell steps run `bash -c script` (`sh -c` where bash is missing), program steps
//   spawn argv directly (no shell);
// - each step gets its own process group (detached), so a time-out, a cancel or the end
//   of the step reaches every process the step started, not just the first one;
// - no orphan outlives the supervisor, however it dies (kill -9 included): every step
//   starts through a tiny launcher (LAUNCHER below) that leaves a watcher in the step's
//   group; the watcher reads a pipe whose other end only the supervisor holds, and when
//   the kernel closes that end (the supervisor is gone) it sends SIGTERM to the group and
//   SIGKILL after the kill grace (docs/faults.md says why this and not a cgroup);
// - stdin is closed; the environment is the supervisor's (without anything that names or
//   opens a database) overlaid with the claim's variables; with --step-user, it runs as
//   that OS user, in its home directory;
// - stdout and stderr are streamed to a sink in batches while the step runs, bounded per
//   stream with a truncation marker, so memory stays bounded whatever the step prints;
// - the exit code is the process's, or 128 + signal number when it was killed;
// - a spawn failure (missing program, missing directory) is a result, never a throw.
// Nothing here knows about the database: the sink decides where output goes.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, existsSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { truncationMarker } from "../../../extension/src/core/index.ts";

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
  /**
   * Called with the process group id after the spawn and before the step's command runs
   * (the launcher waits for it): what is recorded here is on record before the step can
   * have any effect, even if the supervisor dies the next instant.
   */
  readonly onSpawned?: (pgid: number) => void;
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

/** The launcher's `$0`: with LAUNCHER, how its watcher is told from the step's own processes. */
export const LAUNCHER_NAME = "clockwork-step";

/**
 * Every shell and program step starts as `sh -c LAUNCHER clockwork-step TENTHS COMMAND…`.
 * The launcher first waits for the supervisor's go, one line on its stdin, written once the
 * supervisor has recorded the group (`onSpawned`); at end of file (the supervisor died in
 * between) it runs nothing. Without the wait, a supervisor killed between the spawn and
 * the record left a group no re-run knew to wait for (seen on a loaded machine).
 * The launcher then moves the supervisor's pipe (its stdin) to fd 3, starts the watcher in the
 * background, gives the step /dev/null as stdin and execs it: the step keeps the
 * launcher's pid, hence the group id, its parent and its exit status, exactly as if it
 * had been spawned directly. The watcher ignores the signals a stop sends to the group,
 * holds none of the step's output pipes, and blocks reading fd 3: it returns only when the
 * supervisor's end closes (Node closes it when the step's first process exits; the kernel
 * closes it when the supervisor dies, however it dies). Then it sends SIGTERM to its group,
 * waits up to TENTHS tenths of a second (the kill grace) for the step's first process to
 * end, and sends SIGKILL to the group, itself included. POSIX sh only (dash, busybox);
 * `running` also works where /proc does not exist.
 */
export const LAUNCHER = [
  'tenths=$1; shift',
  'read -r _ || exit 0',
  'exec 3<&0 </dev/null',
  // Whether a process runs: on Linux a zombie does not (an init that never reaps, as in
  // some containers, would keep one forever), elsewhere kill -0.
  'running() { if [ -r "/proc/$1/status" ]; then while read -r k v _; do if [ "$k" = State: ]; then [ "$v" != Z ]; return; fi; done < "/proc/$1/status"; return 1; fi; kill -0 "$1" 2>/dev/null; }',
  "(trap '' TERM INT HUP; exec >/dev/null 2>&1; read -r _ <&3; kill -TERM 0; i=0; " +
    'while [ "$i" -lt "$tenths" ] && running "$$"; do sleep 0.1; i=$((i + 1)); done; kill -KILL 0) &',
  'exec 3<&-',
  'exec "$@"',
].join("\n");

/**
 * What exec would say about a program, decided before spawning (the launcher is always
 * found, so spawn itself no longer fails for a missing program): PATH is searched as
 * execvp does, in the step's environment.
 */
function programProblem(program: string, path: string | undefined, cwd: string | undefined): { code: number; error: string } | null {
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : resolvePath(cwd ?? process.cwd(), program)]
    : (path ?? "/usr/local/bin:/usr/bin:/bin").split(":").map((dir) => join(dir === "" ? (cwd ?? ".") : dir, program));
  let denied = false;
  for (const candidate of candidates) {
    try {
      if (statSync(candidate).isDirectory()) {
        denied = true;
        continue;
      }
      accessSync(candidate, fsConstants.X_OK);
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
  }
  return denied ? { code: 126, error: `spawn failed: spawn ${program} EACCES` } : { code: 127, error: `spawn failed: spawn ${program} ENOENT` };
}

// The marker is the one rule of every bounded record of a step (core/bounds.ts).
export { truncationMarker };

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

  const user = options.user ?? null;
  const identity: Record<string, string> = user === null ? {} : { HOME: user.home, USER: user.name, LOGNAME: user.name };
  const env: Record<string, string> = { ...options.baseEnv, ...identity, ...(spec.env ?? {}) };
  const cwd = spec.cwd ?? (user === null ? undefined : existsSync(user.home) ? user.home : "/");
  const command = spec.kind === "shell" ? [SHELL, "-c", spec.script as string] : [...spec.argv!];
  if (spec.kind === "program") {
    const missing = programProblem(command[0]!, env.PATH, cwd);
    if (missing !== null) {
      void finish(missing.code, null, missing.error);
      return { pid: undefined, result, stop: () => {} };
    }
  }
  const tenths = String(Math.ceil(Math.max(0, options.killGraceMs) / 100));
  try {
    child = spawn("/bin/sh", ["-c", LAUNCHER, LAUNCHER_NAME, tenths, ...command], {
      cwd,
      env,
      ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
      // stdin: the pipe of the launcher's go and then its watcher (see LAUNCHER).
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // own process group: kill(-pid) reaches the whole step
      windowsHide: true,
    });
  } catch (error) {
    void finish(127, null, `spawn failed: ${(error as Error).message}`);
    return { pid: undefined, result, stop: () => {} };
  }

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let done = false;
  child.stdin!.on("error", () => {}); // closed when the step exits
  if (child.pid !== undefined) {
    try {
      options.onSpawned?.(child.pid);
    } finally {
      child.stdin!.write("\n"); // the go: the step's command runs from here on
    }
  }
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
    // The step's first process has exited and its output has closed. What is left in its
    // group had SIGTERM at the exit (and the watcher, told by the closed pipe, is about to
    // SIGKILL it): SIGKILL now, the watcher with it.
    killGroup(child!.pid, "SIGKILL");
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
