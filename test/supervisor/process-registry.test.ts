// The registry a re-run consults before it starts (docs/faults.md, "No orphan, no overlap"),
// with real launchers and real process groups: no database involved.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { groupMembers } from "../support/processes.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { ProcessRegistry } from "../../supervisor/src/steps/process-registry.ts";
import { LAUNCHER, LAUNCHER_NAME } from "../../supervisor/src/steps/shell.ts";

const log = pino({ level: "silent" });

async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A step as the supervisor starts it (shell.ts). Its stdin comes from a stand-in for the
 * supervisor: it passes on the go at `go()`, then holds its end of the pipe open and does
 * nothing, as a paused supervisor does (SIGSTOP), until `resume()` ends it.
 */
function launch(script: string) {
  const supervisor = spawn("/bin/sh", ["-c", "read -r _ && echo && exec sleep 600"], { stdio: ["pipe", "pipe", "ignore"] });
  supervisor.stdout!.pause();
  const child = spawn("/bin/sh", ["-c", LAUNCHER, LAUNCHER_NAME, "50", "/bin/sh", "-c", script], { stdio: [supervisor.stdout!, "ignore", "ignore"], detached: true });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  holders.push(supervisor);
  return {
    pgid: child.pid!,
    exited,
    go: () => supervisor.stdin!.write("\n"),
    resume: () => supervisor.kill("SIGKILL"),
  };
}
const holders: ChildProcess[] = [];

/** Whether the group's first process still runs the launcher (has not exec'd the step's command). */
function stillLauncher(pgid: number): boolean {
  try {
    return readFileSync(`/proc/${pgid}/cmdline`, "utf8").split("\0")[2] === LAUNCHER;
  } catch {
    return false;
  }
}

describe("process registry", () => {
  let dir: string;
  let registry: ProcessRegistry;
  const started: number[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "clockwork-registry-"));
    registry = new ProcessRegistry(join(dir, "steps"), log);
    registry.setInstallation("test-installation");
  });

  after(() => {
    for (const holder of holders) holder.kill("SIGKILL");
    for (const pgid of started) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("a step that has ended is not waited for, though its supervisor is paused and the launcher's watcher lives on", async () => {
    const { pgid, exited, go, resume } = launch("exit 0");
    started.push(pgid);
    registry.record("1", pgid);
    go();
    await exited;
    // What is left of the group: the watcher alone, blocked on the pipe of its (paused) supervisor.
    const left = groupMembers(pgid);
    assert.equal(left.length, 1, `the watcher outlives the step while its supervisor's pipe is open: ${left}`);
    assert.equal(readFileSync(`/proc/${left[0]}/cmdline`, "utf8").split("\0")[3], LAUNCHER_NAME);
    assert.deepEqual(registry.live(["1"]), [], "the watcher is none of the step's processes");
    assert.deepEqual(registry.live(["1"]), [], "and its record was forgotten");
    resume(); // the supervisor goes on: the watcher ends
    await until("the watcher to end", () => groupMembers(pgid).length === 0);
  });

  test("a process the step left behind is waited for", async () => {
    const { pgid, exited, go, resume } = launch("sleep 60 & exit 0");
    started.push(pgid);
    registry.record("2", pgid);
    go();
    await exited;
    assert.equal(groupMembers(pgid).length, 2, "the watcher and the step's sleep");
    assert.deepEqual(registry.live(["2"]), [{ stepRunId: "2", pgid }]);
    resume(); // the supervisor goes on: the watcher stops what the step left behind
    await until("the group to end", () => groupMembers(pgid).length === 0);
    assert.deepEqual(registry.live(["2"]), []);
  });

  test("a step that still runs is waited for, before and after its go", async () => {
    const { pgid, exited, go, resume } = launch("sleep 60");
    started.push(pgid);
    registry.record("3", pgid);
    assert.ok(stillLauncher(pgid));
    assert.deepEqual(registry.live(["3"]), [{ stepRunId: "3", pgid }], "the launcher, waiting for its go");
    go();
    await until("the step's command to run", () => !stillLauncher(pgid));
    assert.deepEqual(registry.live(["3"]), [{ stepRunId: "3", pgid }], "the step's command");
    resume(); // the supervisor's end closes (as when it dies): the watcher stops the step
    await exited;
    await until("the group to end", () => groupMembers(pgid).length === 0);
    assert.deepEqual(registry.live(["3"]), []);
  });
});
