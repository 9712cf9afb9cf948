// Where the supervisors of one host record the process group of every shell and program
// step they run, so that a re-run of a step here never overlaps a live earlier attempt of
// it (docs/faults.md, "No orphan, no overlap"). An attempt can be re-run while its
// processes still live: its supervisor died and the attempt's processes are being killed
// by their watcher (within the kill grace), or its supervisor lost the lease (the database
// was out of reach) and has not stopped them yet. The claim of a re-run names the earlier
// attempts' step runs; before starting, the supervisor waits for their groups to end here.
//
// One small file per attempt, `<installation>.<step run>`, in a directory every supervisor
// of the host shares (sticky and world-writable, as /tmp): the group id and the start time
// of its first process, so that a later process that got the same pid is not taken for
// it. Attempts on other hosts are not this host's to wait for: a supervisor cannot see
// processes elsewhere (what remains is documented in docs/faults.md).
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorFields, type Logger } from "../logging.ts";
import { LAUNCHER, LAUNCHER_NAME } from "./shell.ts";

/** The start time of a process, in clock ticks since boot (/proc/PID/stat field 22), or null. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (the command) may hold spaces and parentheses: count from its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether a process is the launcher's watcher (shell.ts): a fork of the launcher, so its
 * command line is still the launcher's, where the step's first process exec'd its command
 * and the step's own processes descend from that. The watcher runs nothing of the step; it
 * lives until its supervisor's pipe closes, so while that supervisor is paused (SIGSTOP, a
 * frozen VM) it outlives a step that has ended.
 */
function isWatcher(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv[1] === "-c" && argv[2] === LAUNCHER && argv[3] === LAUNCHER_NAME;
  } catch {
    return false;
  }
}

/**
 * Whether a process group has a member that runs (zombies do not: an init that never
 * reaps, as in some containers, keeps them forever), from /proc; null without /proc.
 * The group's first process counts whatever it is (before the go it is the launcher
 * itself); the watcher does not: a re-run waited a kill grace and more for a watcher
 * whose step had long ended, because its supervisor was paused.
 */
function groupRuns(pgid: number): boolean | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z" && state !== "X" && (Number(entry) === pgid || !isWatcher(Number(entry)))) return true;
    } catch {
      // gone meanwhile, or not a process
    }
  }
  return false;
}

/**
 * Whether the process group `pgid` still runs and is the one recorded: a group id cannot
 * be reused while the group has members, so a group that exists is ours unless its first
 * process (when it still runs) started at another time than recorded.
 */
export function groupAlive(pgid: number, startTime: string | null): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (startTime !== null) {
    const now = processStartTime(pgid);
    if (now !== null && now !== startTime) return false;
  }
  return groupRuns(pgid) ?? true;
}

export interface EarlierAttempt {
  readonly stepRunId: string;
  readonly pgid: number;
}

export class ProcessRegistry {
  private prefix: string | null = null;

  /** `dir` null: no registry (re-runs do not wait; logged once at start). */
  constructor(
    private readonly dir: string | null,
    private readonly log: Logger,
  ) {}

  /** The database's installation key (start_worker's answer): files are named by it. */
  setInstallation(installation: string): void {
    if (this.dir === null) return;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o1777 });
      // Every supervisor of the host writes here, whatever its user (mkdir obeys the umask).
      if ((statSync(this.dir).mode & 0o7777) !== 0o1777) chmodSync(this.dir, 0o1777);
    } catch (error) {
      this.log.warn({ error: errorFields(error), dir: this.dir }, "cannot use the step process directory: a re-run on this host will not wait for an earlier attempt's processes");
      return;
    }
    this.prefix = `${createHash("sha256").update(installation).digest("hex").slice(0, 16)}.`;
    this.sweep();
  }

  private file(stepRunId: string): string | null {
    return this.dir === null || this.prefix === null ? null : join(this.dir, `${this.prefix}${stepRunId}`);
  }

  /** Records a step's process group, right after it was spawned. */
  record(stepRunId: string, pgid: number): void {
    const file = this.file(stepRunId);
    if (file === null) return;
    try {
      writeFileSync(file, `${pgid} ${processStartTime(pgid) ?? "-"}\n`, { mode: 0o644 });
    } catch (error) {
      this.log.warn({ error: errorFields(error), file }, "could not record a step's process group");
    }
  }

  /** The step's processes are gone: its record goes. */
  forget(stepRunId: string): void {
    const file = this.file(stepRunId);
    if (file === null) return;
    try {
      unlinkSync(file);
    } catch {
      // never recorded, or removed by a re-run that waited for it
    }
  }

  /** The earlier attempts among `stepRunIds` whose processes still live on this host. */
  live(stepRunIds: readonly string[]): EarlierAttempt[] {
    const alive: EarlierAttempt[] = [];
    for (const stepRunId of stepRunIds) {
      const file = this.file(stepRunId);
      if (file === null) continue;
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue; // never ran here, or ended and forgotten
      }
      const [pgid, start] = text.trim().split(" ");
      if (!pgid || !/^\d+$/.test(pgid)) continue;
      const running = groupAlive(Number(pgid), start === "-" || start === undefined ? null : start);
      this.log.debug({ step_run: stepRunId, pgid: Number(pgid), running }, "earlier attempt's process group");
      if (running) alive.push({ stepRunId, pgid: Number(pgid) });
      else this.forget(stepRunId);
    }
    return alive;
  }

  /** Removes records of this database whose groups are gone (left by supervisors that died). */
  sweep(): void {
    if (this.dir === null || this.prefix === null) return;
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return;
    }
    const prefix = this.prefix;
    this.live(entries.filter((e) => e.startsWith(prefix)).map((e) => e.slice(prefix.length)));
  }
}
