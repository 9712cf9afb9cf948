// The shell/program step runner with real processes: no database involved.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { groupMembers } from "../support/processes.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LAUNCHER,
  startProcessStep,
  truncationMarker,
  type OutputStreamName,
  type ProcessRunOptions,
  type ProcessStepSpec,
} from "../../supervisor/src/steps/shell.ts";

interface Captured {
  stdout: string;
  stderr: string;
  chunks: Array<{ stream: OutputStreamName; chunk: string; at: number }>;
}

function run(spec: ProcessStepSpec, overrides: Partial<ProcessRunOptions> = {}) {
  const captured: Captured = { stdout: "", stderr: "", chunks: [] };
  const running = startProcessStep(spec, {
    baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", KEPT_FROM_BASE: "base" },
    outputLimitBytes: 1024 * 1024,
    flushMs: 50,
    flushBytes: 16 * 1024,
    killGraceMs: 500,
    onOutput: (stream, chunk) => {
      captured[stream] += chunk;
      captured.chunks.push({ stream, chunk, at: performance.now() });
      return true;
    },
    ...overrides,
  });
  return { running, captured };
}

/** Whether a process (or, for a negative pid, a process group) still exists; zombies count as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (pid < 0) return groupMembers(-pid).length > 0;
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

describe("shell steps", () => {
  test("reports the exit code of the script", async () => {
    const { running } = run({ kind: "shell", script: "exit 7" });
    const result = await running.result;
    assert.equal(result.exitCode, 7);
    assert.equal(result.error, null);
    assert.equal(result.stoppedBy, null);
  });

  test("runs pipes and captures stdout and stderr apart", async () => {
    const { running, captured } = run({ kind: "shell", script: "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z; echo oops >&2" });
    const result = await running.result;
    assert.equal(result.exitCode, 0);
    assert.equal(captured.stdout, "A\nB\nC\n");
    assert.equal(captured.stderr, "oops\n");
  });

  test("uses bash where present (pipefail, arrays)", async () => {
    const { running, captured } = run({ kind: "shell", script: "set -o pipefail; a=(x y z); echo ${#a[@]}; false | true" });
    const result = await running.result;
    assert.equal(captured.stdout, "3\n");
    assert.equal(result.exitCode, 1);
  });

  test("passes the claim's variables over the base environment", async () => {
    const { running, captured } = run({
      kind: "shell",
      script: 'echo "$CLOCKWORK_RUN_ID $region $KEPT_FROM_BASE"',
      env: { CLOCKWORK_RUN_ID: "42", region: "eu" },
    });
    await running.result;
    assert.equal(captured.stdout, "42 eu base\n");
  });

  test("with a step user (--step-user), runs as that OS user, in its home or / when it has none", { skip: process.getuid?.() === 0 ? false : "needs root (the supervisor switches user)" }, async () => {
    const nobody = { name: "nobody", uid: Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" })), home: "/nonexistent" };
    const { running, captured } = run({ kind: "shell", script: 'id -un; echo "$HOME $USER"; pwd' }, { user: nobody });
    const result = await running.result;
    assert.equal(result.exitCode, 0, captured.stderr);
    assert.equal(captured.stdout, "nobody\n/nonexistent nobody\n/\n");
  });

  test("runs in the given working directory with stdin closed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-cwd-"));
    try {
      const { running, captured } = run({ kind: "shell", script: "pwd; cat; echo rc=$?", cwd: dir });
      const result = await running.result;
      assert.equal(result.exitCode, 0);
      assert.equal(captured.stdout, `${dir}\nrc=0\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a time-out kills the whole process group", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-pg-"));
    const pidFile = join(dir, "pids");
    try {
      const started = performance.now();
      const { running } = run({
        kind: "shell",
        script: `sleep 100 & echo $! > ${pidFile}; sleep 100 & echo $! >> ${pidFile}; wait`,
        timeoutMs: 300,
      });
      const result = await running.result;
      const elapsed = performance.now() - started;
      assert.equal(result.stoppedBy, "timeout");
      assert.equal(result.error, "timed out after 300 ms");
      assert.equal(result.exitCode, 128 + 15, "killed by SIGTERM");
      assert.ok(elapsed < 3000, `stopped promptly (${elapsed} ms)`);
      const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
      assert.equal(pids.length, 2);
      // The group leader's pid is the group id: nothing may be left in it.
      await new Promise((r) => setTimeout(r, 100));
      for (const pid of pids) assert.equal(alive(pid), false, `background child ${pid} survived`);
      assert.equal(alive(-running.pid!), false, "process group still has members");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a step that ignores SIGTERM is killed after the grace period", async () => {
    const { running } = run({ kind: "shell", script: "trap '' TERM; sleep 100 & wait; sleep 100", timeoutMs: 200 }, { killGraceMs: 300 });
    const result = await running.result;
    assert.equal(result.stoppedBy, "timeout");
    assert.equal(result.exitCode, 128 + 9, "killed by SIGKILL");
  });

  test("background processes left behind by a finished step are stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-bg-"));
    const pidFile = join(dir, "pid");
    try {
      const { running } = run({ kind: "shell", script: `sleep 100 & echo $! > ${pidFile}; echo done` });
      const result = await running.result;
      assert.equal(result.exitCode, 0);
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(alive(pid), false, "left-over background process survived");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("background processes that let go of the pipes are stopped too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-bg2-"));
    const pidFile = join(dir, "pid");
    try {
      const { running } = run({ kind: "shell", script: `sleep 100 >/dev/null 2>&1 & echo $! > ${pidFile}` });
      const result = await running.result;
      assert.equal(result.exitCode, 0);
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(alive(pid), false, "detached-from-pipes background process survived");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("huge output is truncated with a marker and memory stays bounded", async () => {
    const limit = 64 * 1024;
    const before = process.memoryUsage().rss;
    // 200 MB of output: far more than the bound, and more than memory would like.
    const { running, captured } = run({ kind: "shell", script: "head -c 200000000 /dev/zero | tr '\\0' x; echo tail-line" }, { outputLimitBytes: limit });
    const result = await running.result;
    const grown = process.memoryUsage().rss - before;
    assert.equal(result.exitCode, 0);
    assert.equal(result.truncated.stdout, true);
    assert.equal(result.bytes.stdout, 200_000_000 + "tail-line\n".length, "all output was read (the writer never blocked)");
    assert.equal(captured.stdout, "x".repeat(limit) + truncationMarker(limit));
    assert.ok(!captured.stdout.includes("tail-line"));
    assert.ok(grown < 100 * 1024 * 1024, `rss grew by ${grown} bytes`);
  });

  test("multi-byte characters split across reads stay whole", async () => {
    const { running, captured } = run({ kind: "shell", script: "for i in $(seq 1 5000); do printf 'é€😀'; done" });
    await running.result;
    assert.equal(captured.stdout, "é€😀".repeat(5000));
  });

  test("streams output in chunks while the step runs", async () => {
    const { running, captured } = run({ kind: "shell", script: "echo first; sleep 1; echo second" });
    const result = await running.result;
    const ended = performance.now();
    assert.equal(result.exitCode, 0);
    assert.ok(captured.chunks.length >= 2, "output arrived in more than one chunk");
    assert.equal(captured.chunks[0]!.chunk, "first\n");
    assert.ok(ended - captured.chunks[0]!.at > 500, "the first chunk arrived well before the step ended");
    assert.equal(captured.stdout, "first\nsecond\n");
  });

  test("a sink that says fenced stops the step", async () => {
    const { running } = run({ kind: "shell", script: "while true; do echo tick; sleep 0.05; done" }, { onOutput: () => false });
    const result = await running.result;
    assert.equal(result.stoppedBy, "fenced");
    assert.equal(result.exitCode, 128 + 15);
  });

  test("a failing sink does not stop the step", async () => {
    const errors: unknown[] = [];
    const { running } = run(
      { kind: "shell", script: "echo a; sleep 0.2; echo b" },
      { onOutput: () => Promise.reject(new Error("database gone")), onSinkError: (e) => errors.push(e) },
    );
    const result = await running.result;
    assert.equal(result.exitCode, 0);
    assert.ok(errors.length >= 1);
  });

  test("stop('cancelled') stops a running step", async () => {
    const { running } = run({ kind: "shell", script: "sleep 100" });
    setTimeout(() => running.stop("cancelled"), 100);
    const result = await running.result;
    assert.equal(result.stoppedBy, "cancelled");
    assert.equal(result.error, "cancelled");
    assert.equal(result.exitCode, 128 + 15);
  });

  test("the command runs only after onSpawned has returned (the group is on record before the step acts)", async () => {
    let recordedAt = 0;
    const { running, captured } = run({ kind: "shell", script: "date +%s%3N" }, {
      onSpawned: (pgid) => {
        assert.ok(pgid > 0);
        // Hold the supervisor's thread, as a loaded machine does between the spawn and the record.
        const until = Date.now() + 300;
        while (Date.now() < until);
        recordedAt = Date.now();
      },
    });
    assert.equal((await running.result).exitCode, 0);
    const ranAt = Number(captured.stdout.trim());
    assert.ok(ranAt >= recordedAt, `the step ran ${recordedAt - ranAt} ms before its group was recorded`);
  });

  test("a launcher whose supervisor dies before the go runs nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clockwork-go-"));
    try {
      const marker = join(dir, "ran");
      const child = spawn("/bin/sh", ["-c", LAUNCHER, "clockwork-step", "5", "/bin/sh", "-c", `touch ${marker}`], { stdio: ["pipe", "ignore", "ignore"] });
      child.stdin!.end(); // the supervisor's end closes without the go line, as when it dies
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 0);
      assert.equal(existsSync(marker), false, "the step's command did not run");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("program steps", () => {
  test("spawn argv directly without a shell", async () => {
    const { running, captured } = run({ kind: "program", argv: ["printf", "%s|%s", "a b", "$HOME"] });
    const result = await running.result;
    assert.equal(result.exitCode, 0);
    assert.equal(captured.stdout, "a b|$HOME");
  });

  test("a missing program is a failed result, not a crash", async () => {
    const { running } = run({ kind: "program", argv: ["/nonexistent/clockwork-no-such-program", "x"] });
    const result = await running.result;
    assert.equal(result.exitCode, 127);
    assert.match(result.error!, /spawn failed: .*ENOENT/);
  });

  test("a missing working directory is a failed result", async () => {
    const { running } = run({ kind: "shell", script: "echo hi", cwd: "/nonexistent/clockwork-dir" });
    const result = await running.result;
    assert.equal(result.exitCode, 127);
    assert.equal(result.error, "working directory /nonexistent/clockwork-dir does not exist");
  });

  test("a program that is not executable fails with 126", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-noexec-"));
    try {
      const { running } = run({ kind: "program", argv: [dir] });
      const result = await running.result;
      assert.equal(result.exitCode, 126);
      assert.match(result.error!, /spawn failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
