// Concurrency groups: a named limit that runs of several jobs share (policies.group). At
// most max_running runs of a group are queued or running at once; the others wait
// (state waiting, waiting_for 'group'), and are let in highest priority first, then oldest
// first, as slots free.
//
// Race-free across supervisors: a run takes a slot only here, while this session holds
// the group's row lock (clockwork.concurrency_groups, FOR NO KEY UPDATE), and the slots
// are counted after the lock is taken, so every admission committed before is seen. Every
// run of a group is created waiting and comes through here; a run that ends frees its
// slot without the lock (a count only goes down) and then asks for an admission.
//
// Nothing here waits for a lock (the group's row, the waiting runs, their jobs: SKIP
// LOCKED), so it can be called with any run and job locks held (db/lifecycle.ts,
// "Concurrency"). What it could not lock is "deferred": whoever holds the lock lets runs in
// itself, and tick's settle pass (admitGroupsWithRoom) picks up what is left, so a run
// never stays waiting while its group has room.
import { lockJobs } from "./lifecycle.ts";
import type { RunRow } from "./runs.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

/** Waiting runs looked at per group and admission. */
const CANDIDATES = 1000;

export interface Admission {
  /** Runs let in, marked queued, for the caller to plan (their jobs' locks are held). */
  released: RunRow[];
  /** Something could not be locked here: another session's admission, or tick's next, lets it in. */
  deferred: boolean;
}

/** Why a run waits for its group, as runs.reason says it. */
export function waitingForGroupReason(group: string, maxRunning: number | null): string {
  return maxRunning === null
    ? `waiting for a slot in concurrency group "${group}"`
    : `waiting for a slot in concurrency group "${group}" (max_running ${maxRunning}, all taken)`;
}

/** Lets waiting runs of these groups in while they have room; see Admission. */
export function admitGroups(groups: Iterable<string | null | undefined>, nowMs: number): Admission {
  const released: RunRow[] = [];
  let deferred = false;
  const names = [...new Set([...groups].filter((g): g is string => typeof g === "string"))].sort();
  for (const name of names) {
    const group = execute(SQL.lockGroupSkipLocked, [name])[0] as { name: string; max_running: number } | undefined;
    if (group === undefined) {
      // Held by another admission (or a define_group not yet committed); a dropped group
      // has no runs waiting (drop_group refuses while it has).
      deferred = true;
      continue;
    }
    let running = (execute(SQL.groupOccupancy, [name])[0] as { running: number }).running;
    if (running >= group.max_running) continue;
    const waiting = execute(SQL.groupWaitingRuns, [name, CANDIDATES]) as RunRow[];
    if (waiting.length === 0) continue;
    // The jobs of the runs let in: their lock is needed to plan their steps (and to end
    // them at once, a run of database built-ins only); a job another session holds is left to it.
    const held = lockJobs(waiting.map((r) => r.job_id), "skip");
    for (const run of waiting) {
      if (running >= group.max_running) break;
      if (!held.has(run.job_id)) {
        deferred = true;
        continue;
      }
      const queuedAt = new Date(Math.max(nowMs, run.slot_at?.getTime() ?? nowMs));
      execute(SQL.releaseWaitingRun, [run.id, queuedAt]);
      released.push({ ...run, state: "queued", reason: null, queued_at: queuedAt, waiting_for: null });
      running++;
    }
  }
  if (deferred) execute(SQL.notifyWakeup, ["group"]);
  return { released, deferred };
}

/**
 * tick's settle pass: every group with a run waiting for a slot and a slot free gets an
 * admission. Catches what an admission deferred, and groups whose limit was raised.
 */
export function admitGroupsWithRoom(nowMs: number): Admission {
  const names = (execute(SQL.groupsWithRoom) as { name: string }[]).map((r) => r.name);
  if (names.length === 0) return { released: [], deferred: false };
  return admitGroups(names, nowMs);
}
